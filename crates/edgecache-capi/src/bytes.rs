//! Byte slices across the ABI: borrowed inputs, owned outputs.

use std::sync::Arc;

use edgecache::Value;

use crate::boundary::ffi_boundary;
use crate::status::{edgecache_status, fail};

/// A value handed to C: `len` bytes at `data`, owned by the caller until it
/// passes this struct, unchanged, to `edgecache_bytes_free` (exactly once).
///
/// No copy is made: the bytes are shared with the cache, immutable, and stay
/// valid after the entry is evicted, until freed. `data` is never NULL for a
/// value edgecache wrote (an empty value has `len` 0 and a non-NULL
/// `data`). A zeroed struct (`{NULL, 0}`) is a valid "nothing" that
/// `edgecache_bytes_free` ignores.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_bytes {
    /// The first byte; do not write through it.
    pub data: *const u8,
    /// The number of bytes.
    pub len: usize,
}

impl edgecache_bytes {
    /// Hands a value to C (its reference count moves with it).
    pub(crate) fn from_value(v: Value) -> Self {
        let len = v.len();
        let data = Arc::into_raw(v).cast::<u8>();
        edgecache_bytes { data, len }
    }
}

/// Releases a value received from edgecache. NULL `data` is a no-op.
///
/// # Safety
/// `bytes` is exactly what an edgecache call wrote (same `data` and `len`)
/// and is freed only once. Thread-safe: any thread may free it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_bytes_free(bytes: edgecache_bytes) {
    ffi_boundary! {
        if bytes.data.is_null() {
            return;
        }
        let fat: *const [u8] = std::ptr::slice_from_raw_parts(bytes.data, bytes.len);
        // SAFETY: by the caller's promise this is the pointer and length of
        // an `Arc<[u8]>` released by `from_value`, not freed before.
        drop(unsafe { Arc::from_raw(fat) });
    }
}

/// Borrows `len` bytes at `ptr` as a slice. `(NULL, 0)` is the empty slice;
/// NULL with a nonzero length is `EDGECACHE_NULL_ARGUMENT`.
///
/// # Safety
/// A non-NULL `ptr` is valid for `len` bytes of reads for `'a`, unchanged
/// meanwhile.
pub(crate) unsafe fn slice<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], edgecache_status> {
    if ptr.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, format!("{what} is NULL with length {len}")));
    }
    if len > isize::MAX as usize {
        return Err(fail(edgecache_status::EDGECACHE_INVALID_ARGUMENT, format!("{what} length {len} is too large")));
    }
    // SAFETY: non-NULL, length checked against isize::MAX, and the caller
    // promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}
