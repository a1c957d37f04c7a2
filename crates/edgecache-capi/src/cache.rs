//! `edgecache_cache`: the byte-bounded LRU.

use std::time::Duration;

use edgecache::{Cache, CacheStats};

use crate::boundary::ffi_boundary;
use crate::bytes::{edgecache_bytes, slice};
use crate::handle::{check_out, into_raw, opaque, take, tri, try_ref, write_out};
use crate::status::{edgecache_status, fail};

/// A thread-safe, byte-bounded LRU cache of byte keys and values.
///
/// Made by `edgecache_cache_new`, released by `edgecache_cache_free`.
/// Every other function may be called from any number of threads at
/// once on the same cache.
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_cache {
    _private: [u8; 0],
}

opaque!(edgecache_cache => Cache);

/// Counters of a cache (groupcache's `CacheStats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_cache_stats {
    /// Sum of key length + value length over the entries held.
    pub bytes: u64,
    /// Entries held.
    pub items: u64,
    /// Lookups.
    pub gets: u64,
    /// Lookups that found an entry.
    pub hits: u64,
    /// Entries removed to make room or because their TTL ran out.
    pub evictions: u64,
}

impl From<CacheStats> for edgecache_cache_stats {
    fn from(s: CacheStats) -> Self {
        edgecache_cache_stats { bytes: s.bytes, items: s.items, gets: s.gets, hits: s.hits, evictions: s.evictions }
    }
}

/// A TTL in milliseconds as C passes it: 0 means no expiry.
pub(crate) fn ttl(ttl_ms: u64) -> Option<Duration> {
    (ttl_ms != 0).then(|| Duration::from_millis(ttl_ms))
}

/// A byte budget as C passes it: negative is an error, 0 disables caching.
pub(crate) fn budget(max_bytes: i64) -> Result<i64, edgecache_status> {
    if max_bytes < 0 {
        return Err(fail(edgecache_status::EDGECACHE_INVALID_ARGUMENT, format!("negative byte budget {max_bytes}")));
    }
    Ok(max_bytes)
}

/// Creates a cache holding at most `max_bytes` of keys plus values (0 keeps
/// nothing; negative is `EDGECACHE_INVALID_ARGUMENT`) and writes it to
/// `*out`. The caller owns the cache and releases it with
/// `edgecache_cache_free`.
///
/// # Safety
/// `out` is valid for one pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_cache_new(max_bytes: i64, out: *mut *mut edgecache_cache) -> edgecache_status {
    ffi_boundary! {
        tri!(check_out(out, "out"));
        let max_bytes = tri!(budget(max_bytes));
        // SAFETY: checked non-NULL; the caller promises it is writable.
        unsafe { write_out(out, into_raw::<edgecache_cache>(Cache::new(max_bytes))) };
        edgecache_status::EDGECACHE_OK
    }
}

/// Releases a cache. NULL is a no-op. Values already handed out stay valid.
///
/// # Safety
/// `cache` is NULL or a live cache; no other thread may be using it, and it
/// must not be used or freed again afterwards (must not be called twice).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_cache_free(cache: *mut edgecache_cache) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(cache) });
    }
}

/// Stores `key → value` (copied), replacing any entry for `key`. `ttl_ms` 0
/// means no expiry. `*out_stored` (may be NULL) is false when the entry alone
/// is larger than the budget and so was not kept (not an error; any older
/// entry for `key` is removed then).
///
/// # Safety
/// `cache` is a live cache; `key`/`value` are `(NULL, 0)` or valid for their
/// lengths; `out_stored` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_cache_set(
    cache: *const edgecache_cache,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    ttl_ms: u64,
    out_stored: *mut bool,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (c, key, value) = unsafe {
            (tri!(try_ref(cache)), tri!(slice(key, key_len, "key")), tri!(slice(value, value_len, "value")))
        };
        let stored = c.set(key, value, ttl(ttl_ms));
        if !out_stored.is_null() {
            // SAFETY: non-NULL, writable by the caller's promise.
            unsafe { write_out(out_stored, stored) };
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Looks `key` up. On a hit writes the value to `*out` (the caller owns it:
/// `edgecache_bytes_free`) and returns `EDGECACHE_OK`; on a miss returns
/// `EDGECACHE_NOT_FOUND` and leaves `*out` untouched.
///
/// # Safety
/// `cache` is a live cache; `key` is `(NULL, 0)` or valid for `key_len`
/// bytes; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_cache_get(
    cache: *const edgecache_cache,
    key: *const u8,
    key_len: usize,
    out: *mut edgecache_bytes,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (c, key) = unsafe { (tri!(try_ref(cache)), tri!(slice(key, key_len, "key"))) };
        tri!(check_out(out, "out"));
        match c.get(key) {
            Some(v) => {
                // SAFETY: checked non-NULL; writable by the caller's promise.
                unsafe { write_out(out, edgecache_bytes::from_value(v)) };
                edgecache_status::EDGECACHE_OK
            }
            None => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

/// Removes `key`; `*out_removed` (may be NULL) tells whether it was held.
///
/// # Safety
/// As `edgecache_cache_get`; `out_removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_cache_remove(
    cache: *const edgecache_cache,
    key: *const u8,
    key_len: usize,
    out_removed: *mut bool,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (c, key) = unsafe { (tri!(try_ref(cache)), tri!(slice(key, key_len, "key"))) };
        let removed = c.remove(key);
        if !out_removed.is_null() {
            // SAFETY: non-NULL, writable by the caller's promise.
            unsafe { write_out(out_removed, removed) };
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Writes the cache's counters to `*out`.
///
/// # Safety
/// `cache` is a live cache; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_cache_get_stats(
    cache: *const edgecache_cache,
    out: *mut edgecache_cache_stats,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let c = unsafe { tri!(try_ref(cache)) };
        tri!(check_out(out, "out"));
        // SAFETY: checked non-NULL; writable by the caller's promise.
        unsafe { write_out(out, c.stats().into()) };
        edgecache_status::EDGECACHE_OK
    }
}

/// Drops every entry (counters other than bytes and items are kept).
///
/// # Safety
/// `cache` is a live cache.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_cache_clear(cache: *const edgecache_cache) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let c = unsafe { tri!(try_ref(cache)) };
        c.clear();
        edgecache_status::EDGECACHE_OK
    }
}
