//! Completion hooks of the watch cache: a watcher with something to read,
//! a cache that reached a resourceVersion. For callers that park instead of
//! blocking a thread in `edgecache_watcher_next` or
//! `edgecache_watch_cache_wait_until_fresh`.

use std::ffi::c_void;

use crate::boundary::ffi_boundary;
use crate::group::EDGECACHE_WAIT_FOREVER;
use crate::handle::{tri, try_ref, write_out};
use crate::ready::{ReadyHook, edgecache_ready_fn};
use crate::status::edgecache_status;
use crate::watch::{edgecache_watch_cache, edgecache_watcher};

/// Registers `ready(user_data)` to run once `w` has something to read: an
/// event, its close, or a due periodic bookmark (see `edgecache_ready_fn`
/// for when and where; it runs at once if there is something already).
/// Then `edgecache_watcher_next` with timeout 0 reads it.
///
/// `*out_recheck_ms` (may be NULL) gets, when the hook was kept for later,
/// the milliseconds (rounded up) until the next periodic bookmark is due
/// (nothing runs the hook for it: call `edgecache_watcher_next` again after
/// that long); `EDGECACHE_WAIT_FOREVER` when there is none or the hook
/// already ran. `*out_id` (may be NULL) gets the hook's id for
/// `edgecache_watcher_cancel_ready`, 0 when it already ran.
///
/// Every registered hook runs unless cancelled: a watcher always closes, at
/// the latest when it is freed (`edgecache_watcher_free` runs what is
/// pending). A reader whose bookmark timer or own stop comes first should
/// cancel the hook, so an idle watcher never gathers pending hooks.
///
/// # Safety
/// `w` is live; `ready` is callable with `user_data` from any thread until
/// it has run or was cancelled; `out_recheck_ms` and `out_id` are NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watcher_on_ready(
    w: *const edgecache_watcher,
    ready: edgecache_ready_fn,
    user_data: *mut c_void,
    out_recheck_ms: *mut u64,
    out_id: *mut u64,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let w = unsafe { tri!(try_ref(w)) };
        let hook = tri!(ReadyHook::new(ready, user_data));
        let kept = w.on_ready_cancellable(hook.into_fn());
        if !out_recheck_ms.is_null() {
            let ms = kept.and_then(|(_, r)| r).map_or(EDGECACHE_WAIT_FOREVER, |d| {
                // Rounded up: a bookmark due in under a millisecond must not
                // read as "now" and make the reader spin.
                u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX - 2)
            });
            // SAFETY: non-NULL, writable by promise.
            unsafe { write_out(out_recheck_ms, ms) };
        }
        if !out_id.is_null() {
            // Ids start at 0 in the core; 0 here means "ran at once".
            // SAFETY: non-NULL, writable by promise.
            unsafe { write_out(out_id, kept.map_or(0, |(id, _)| id + 1)) };
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Cancels a watcher hook: `*out_cancelled` (may be NULL) is true when it
/// was still pending and now never runs (its `user_data` is the caller's
/// again), false when it has run or is running (or `id` is 0 or unknown).
///
/// # Safety
/// `w` is live; `out_cancelled` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watcher_cancel_ready(
    w: *const edgecache_watcher,
    id: u64,
    out_cancelled: *mut bool,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let w = unsafe { tri!(try_ref(w)) };
        let cancelled = id != 0 && w.cancel_ready(id - 1);
        if !out_cancelled.is_null() {
            // SAFETY: non-NULL, writable by promise.
            unsafe { write_out(out_cancelled, cancelled) };
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Registers `ready(user_data)` to run once the cache has seen
/// resourceVersion `rv` or is closed (then check with
/// `edgecache_watch_cache_wait_until_fresh` and timeout 0). If it has
/// already, the hook runs at once and `*out_id` gets 0; otherwise `*out_id`
/// gets a nonzero id for `edgecache_watch_cache_cancel_fresh`. There is no
/// timeout: a caller that stops waiting cancels.
///
/// # Safety
/// `wc` is live; `ready` is callable with `user_data` from any thread until
/// it has run or was cancelled; `out_id` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_on_fresh(
    wc: *const edgecache_watch_cache,
    rv: u64,
    ready: edgecache_ready_fn,
    user_data: *mut c_void,
    out_id: *mut u64,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let wc = unsafe { tri!(try_ref(wc)) };
        let hook = tri!(ReadyHook::new(ready, user_data));
        // Ids start at 0 in the core; 0 here means "ran at once".
        let id = wc.on_fresh(rv, hook.into_fn()).map_or(0, |id| id + 1);
        if !out_id.is_null() {
            // SAFETY: non-NULL, writable by promise.
            unsafe { write_out(out_id, id) };
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Cancels a freshness hook: `*out_cancelled` (may be NULL) is true when it
/// was still pending and now never runs (its `user_data` is the caller's
/// again), false when it has run or is running (or `id` is 0 or unknown).
///
/// # Safety
/// `wc` is live; `out_cancelled` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_cancel_fresh(
    wc: *const edgecache_watch_cache,
    id: u64,
    out_cancelled: *mut bool,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let wc = unsafe { tri!(try_ref(wc)) };
        let cancelled = id != 0 && wc.cancel_fresh(id - 1);
        if !out_cancelled.is_null() {
            // SAFETY: non-NULL, writable by promise.
            unsafe { write_out(out_cancelled, cancelled) };
        }
        edgecache_status::EDGECACHE_OK
    }
}
