//! Growable request structs: the `size` rule.
//!
//! A request struct (`edgecache_watch_request`, `edgecache_list_request`)
//! starts with `size_t size`, which the caller sets to `sizeof` the struct
//! as its header declares it: `edgecache_x_init(&req, sizeof req)` writes
//! the defaults into exactly that many bytes and sets `size`, so a program
//! built against an older header never has more written than it holds. Later
//! versions only append fields. The library reads the first
//! `min(size, its own sizeof)` bytes:
//!
//! - `size` below the struct's size in its first version (the size in this
//!   version: every field here is a first-version field) is
//!   `EDGECACHE_INVALID_ARGUMENT`: the struct was not initialised;
//! - `size` above the library's own size (a program built against a newer
//!   header) is accepted: the fields this library does not know are
//!   ignored, whatever they hold;
//! - fields a newer library knows but a smaller `size` leaves out (a
//!   program built against an older header) take their defaults.

use crate::status::{edgecache_status, fail};

/// A request struct whose first field is `size: usize`.
pub(crate) trait SizedRequest: Sized {
    /// The struct's C name, for error messages.
    const NAME: &'static str;
    /// The smallest `size` accepted: the struct's size in its first
    /// version.
    const FIRST_VERSION_SIZE: usize;
}

/// Borrows the request at `req` after checking its `size` (see the module
/// docs); NULL is `EDGECACHE_NULL_ARGUMENT`.
///
/// # Safety
/// `req` is NULL or points at a struct of at least `(*req).size` readable
/// bytes whose first field is the `size`; when that size is at least ours,
/// the first `size_of::<T>()` bytes are a valid `T` for `'a`.
pub(crate) unsafe fn read_sized<'a, T: SizedRequest>(req: *const T) -> Result<&'a T, edgecache_status> {
    // Every field is a first-version field today, so a request of an
    // accepted size covers the whole struct. When a version appends fields
    // this no longer holds: read the first `min(size, size_of::<T>())`
    // bytes over a defaulted value instead of borrowing.
    const { assert!(T::FIRST_VERSION_SIZE == size_of::<T>()) };
    if req.is_null() {
        return Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, format!("{} pointer is NULL", T::NAME)));
    }
    // SAFETY: non-NULL; the struct starts with its `size_t size` (caller's
    // promise), so at least that much is readable.
    let size = unsafe { req.cast::<usize>().read() };
    if size < T::FIRST_VERSION_SIZE {
        return Err(fail(
            edgecache_status::EDGECACHE_INVALID_ARGUMENT,
            format!(
                "{}.size is {size}, below the smallest size {} (call {}_init before setting fields)",
                T::NAME,
                T::FIRST_VERSION_SIZE,
                T::NAME
            ),
        ));
    }
    // SAFETY: `size >= FIRST_VERSION_SIZE == size_of::<T>()` bytes are
    // readable (caller's promise) and form a valid `T`; bytes beyond our
    // struct are never read.
    Ok(unsafe { &*req })
}

/// Writes `default` into the first `min(size, size_of::<T>())` bytes at
/// `req` and sets its `size` to that number: the body of every `_init`.
/// NULL, or a `size` too small to hold the `size` field itself, writes
/// nothing.
///
/// # Safety
/// `req` is NULL or valid for writing `size` bytes.
pub(crate) unsafe fn init_sized<T: SizedRequest>(req: *mut T, size: usize, default: T) {
    if req.is_null() || size < size_of::<usize>() {
        return;
    }
    let n = size.min(size_of::<T>());
    // SAFETY: `default` is a live `T`, readable for `size_of::<T>() >= n`
    // bytes; `req` is writable for `size >= n` bytes (caller's promise); a
    // local and the caller's memory cannot overlap. The struct's first
    // field is its `usize` size, which `n >= size_of::<usize>()` covers.
    unsafe {
        std::ptr::copy_nonoverlapping((&raw const default).cast::<u8>(), req.cast::<u8>(), n);
        req.cast::<usize>().write_unaligned(n);
    }
}
