//! Reading a watch cache: its resourceVersion, events since one, waiting
//! for freshness, list and get, and watches (`edgecache_watch_cache_watch`
//! and the `edgecache_watcher` functions).

use std::ffi::c_char;
use std::time::Duration;

use edgecache::watch::WatchOptions;

use crate::boundary::ffi_boundary;
use crate::group::EDGECACHE_WAIT_FOREVER;
use crate::handle::{check_out, into_raw, take, tri, try_ref, write_out};
use crate::status::{copy_message, edgecache_status};
use crate::watch::{
    EDGECACHE_DEFAULT_TIMEOUT, edgecache_event, edgecache_event_list, edgecache_item, edgecache_item_list,
    edgecache_pair, edgecache_str, edgecache_watch_cache, edgecache_watcher, selector, timeout, watch_fail,
};

/// Writes the cache's current resourceVersion to `*out`.
///
/// # Safety
/// `wc` is live; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_resource_version(
    wc: *const edgecache_watch_cache,
    out: *mut u64,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let c = unsafe { tri!(try_ref(wc)) };
        tri!(check_out(out, "out"));
        // SAFETY: checked; writable by promise.
        unsafe { write_out(out, c.resource_version()) };
        edgecache_status::EDGECACHE_OK
    }
}

/// Writes the events after `rv` (in order) to `*out` as a list the caller
/// frees. `rv` 0: the current state as ADDED events.
/// `EDGECACHE_RESOURCE_EXPIRED` when `rv` has left the window.
///
/// # Safety
/// `wc` is live; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_events_since(
    wc: *const edgecache_watch_cache,
    rv: u64,
    out: *mut *mut edgecache_event_list,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let c = unsafe { tri!(try_ref(wc)) };
        tri!(check_out(out, "out"));
        match c.events_since(rv) {
            Ok(evs) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, into_raw::<edgecache_event_list>(evs)) };
                edgecache_status::EDGECACHE_OK
            }
            Err(e) => watch_fail(&e),
        }
    }
}

/// Waits up to `timeout_ms` until the cache has seen `rv`; else
/// `EDGECACHE_TOO_LARGE_RESOURCE_VERSION` (retry after 1 s).
///
/// # Safety
/// `wc` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_wait_until_fresh(
    wc: *const edgecache_watch_cache,
    rv: u64,
    timeout_ms: u64,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let c = unsafe { tri!(try_ref(wc)) };
        let t = if timeout_ms == EDGECACHE_DEFAULT_TIMEOUT { c.fresh_timeout() } else { timeout(timeout_ms) };
        match c.wait_until_fresh(rv, t) {
            Ok(()) => edgecache_status::EDGECACHE_OK,
            Err(e) => watch_fail(&e),
        }
    }
}

/// Lists the current objects matching both selectors (equality on every
/// pair; `(NULL, 0)` matches everything) after waiting until the cache has
/// seen `rv` (`timeout_ms`, or `EDGECACHE_DEFAULT_TIMEOUT` for the cache's).
/// Writes the items to `*out` (caller frees) and the cache's
/// resourceVersion to `*out_rv`.
///
/// # Safety
/// `wc` is live; selectors NULL or valid for their counts; out-parameters
/// writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "mirrors the C signature")]
pub unsafe extern "C" fn edgecache_watch_cache_list(
    wc: *const edgecache_watch_cache,
    rv: u64,
    label_selector: *const edgecache_pair,
    n_labels: usize,
    field_selector: *const edgecache_pair,
    n_fields: usize,
    timeout_ms: u64,
    out: *mut *mut edgecache_item_list,
    out_rv: *mut u64,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (c, ls, fs) = unsafe {
            (
                tri!(try_ref(wc)),
                tri!(selector(label_selector, n_labels, "label selector")),
                tri!(selector(field_selector, n_fields, "field selector")),
            )
        };
        tri!(check_out(out, "out"));
        tri!(check_out(out_rv, "out_rv"));
        let r = if timeout_ms == EDGECACHE_DEFAULT_TIMEOUT {
            c.list(rv, &ls, &fs)
        } else {
            c.list_with_timeout(rv, &ls, &fs, timeout(timeout_ms))
        };
        match r {
            Ok((items, at)) => {
                // SAFETY: both checked; writable by promise.
                unsafe {
                    write_out(out, into_raw::<edgecache_item_list>(items));
                    write_out(out_rv, at);
                }
                edgecache_status::EDGECACHE_OK
            }
            Err(e) => watch_fail(&e),
        }
    }
}

/// The current object under `key` after waiting for `rv` (as in
/// `edgecache_watch_cache_list`); `EDGECACHE_NOT_FOUND` when absent.
/// Writes an owned item to `*out` (free with `edgecache_item_free`).
///
/// # Safety
/// `wc` is live; `key` valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_get(
    wc: *const edgecache_watch_cache,
    key: edgecache_str,
    rv: u64,
    timeout_ms: u64,
    out: *mut *mut edgecache_item,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (c, key) = unsafe { (tri!(try_ref(wc)), tri!(key.to_str("key"))) };
        tri!(check_out(out, "out"));
        let r = if timeout_ms == EDGECACHE_DEFAULT_TIMEOUT {
            c.get(key, rv)
        } else {
            c.get_with_timeout(key, rv, timeout(timeout_ms))
        };
        match r {
            Ok(Some(item)) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, into_raw::<edgecache_item>(item)) };
                edgecache_status::EDGECACHE_OK
            }
            Ok(None) => edgecache_status::EDGECACHE_NOT_FOUND,
            Err(e) => watch_fail(&e),
        }
    }
}

/// Starts a watch from `rv` (0: the current state first) filtered by the
/// selectors; `bookmarks` asks for BOOKMARK events (those of
/// `edgecache_watch_cache_bookmark`, and periodic ones at the cache's
/// `bookmark_interval_ms`); `buffer` is the number of live events it may
/// hold unread (0 for the default, 1024) before it is closed as fallen
/// behind. `EDGECACHE_RESOURCE_EXPIRED` when `rv` has left the window;
/// `EDGECACHE_INVALID_SELECTOR` for a field the cache does not extract.
/// Writes the watcher to `*out` (free with `edgecache_watcher_free`).
/// `edgecache_watch_cache_watch_with` takes selector strings and the other
/// options.
///
/// # Safety
/// As `edgecache_watch_cache_list`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "mirrors the C signature")]
pub unsafe extern "C" fn edgecache_watch_cache_watch(
    wc: *const edgecache_watch_cache,
    rv: u64,
    label_selector: *const edgecache_pair,
    n_labels: usize,
    field_selector: *const edgecache_pair,
    n_fields: usize,
    bookmarks: bool,
    buffer: usize,
    out: *mut *mut edgecache_watcher,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (c, ls, fs) = unsafe {
            (
                tri!(try_ref(wc)),
                tri!(selector(label_selector, n_labels, "label selector")),
                tri!(selector(field_selector, n_fields, "field selector")),
            )
        };
        tri!(check_out(out, "out"));
        let mut opts = WatchOptions::new().bookmarks(bookmarks);
        if buffer != 0 {
            opts = opts.buffer(buffer);
        }
        match c.watch(rv, &ls, &fs, opts) {
            Ok(w) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, into_raw::<edgecache_watcher>(w)) };
                edgecache_status::EDGECACHE_OK
            }
            Err(e) => watch_fail(&e),
        }
    }
}

/// Waits up to `timeout_ms` (`EDGECACHE_WAIT_FOREVER`: no limit; 0: poll)
/// for the next event. `EDGECACHE_OK` with an owned event in `*out`;
/// `EDGECACHE_TIMEOUT` when none came in time (not a close; call again);
/// `EDGECACHE_CLOSED` once the stream has ended and everything it held was
/// delivered (the reason: `edgecache_watcher_close_reason`).
///
/// # Safety
/// `w` is live; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watcher_next(
    w: *const edgecache_watcher,
    timeout_ms: u64,
    out: *mut *mut edgecache_event,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let w = unsafe { tri!(try_ref(w)) };
        tri!(check_out(out, "out"));
        let r = if timeout_ms == EDGECACHE_WAIT_FOREVER { w.next().map(Some) } else { w.next_timeout(Duration::from_millis(timeout_ms)) };
        match r {
            Ok(Some(ev)) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, into_raw::<edgecache_event>(ev)) };
                edgecache_status::EDGECACHE_OK
            }
            Ok(None) => edgecache_status::EDGECACHE_TIMEOUT,
            Err(e) => watch_fail(&e),
        }
    }
}

/// Stops the watcher; a thread blocked in `edgecache_watcher_next` wakes
/// with `EDGECACHE_CLOSED`. Idempotent; callable from any thread.
///
/// # Safety
/// `w` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watcher_close(w: *const edgecache_watcher) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { tri!(try_ref(w)) }.close();
        edgecache_status::EDGECACHE_OK
    }
}

/// Copies why the watcher closed (NUL-terminated) into `buf`; buffer rules
/// as `edgecache_status_message`. `EDGECACHE_NOT_FOUND` while it is open.
///
/// # Safety
/// `w` is live; `buf` NULL or valid for `cap` bytes; `out_len` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watcher_close_reason(
    w: *const edgecache_watcher,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let w = unsafe { tri!(try_ref(w)) };
        match w.close_reason() {
            // SAFETY: forwarded promises.
            Some(r) => unsafe { copy_message(&r.to_string(), buf, cap, out_len) },
            None => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

/// Why a watcher closed, as values (`edgecache_watcher_close_info`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_close_info {
    /// An `edgecache_close_reason`; `EDGECACHE_CLOSE_NONE` while open.
    pub reason: u32,
    /// `EDGECACHE_CLOSE_FELL_BEHIND`: the watcher's buffer, in events.
    pub buffer: u64,
    /// `EDGECACHE_CLOSE_RELISTED`: the relist's resourceVersion.
    pub resource_version: u64,
}

/// Writes why the watcher closed to `*out` (reason `EDGECACHE_CLOSE_NONE`
/// while it is open): the typed form of `edgecache_watcher_close_reason`,
/// so a client can tell "fell behind: resume" from "relisted: list again".
///
/// # Safety
/// `w` is live; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watcher_close_info(
    w: *const edgecache_watcher,
    out: *mut edgecache_close_info,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let w = unsafe { tri!(try_ref(w)) };
        tri!(check_out(out, "out"));
        use crate::enums::edgecache_close_reason as R;
        let mut info = edgecache_close_info::default();
        info.reason = match w.close_reason() {
            None => R::EDGECACHE_CLOSE_NONE,
            Some(edgecache::watch::CloseReason::FellBehind { buffer }) => {
                info.buffer = buffer as u64;
                R::EDGECACHE_CLOSE_FELL_BEHIND
            }
            Some(edgecache::watch::CloseReason::Relisted { resource_version }) => {
                info.resource_version = resource_version;
                R::EDGECACHE_CLOSE_RELISTED
            }
            Some(edgecache::watch::CloseReason::CacheClosed) => R::EDGECACHE_CLOSE_CACHE_CLOSED,
            // `CloseReason` may grow; a new one reads as stopped until it
            // has its own value.
            Some(_) => R::EDGECACHE_CLOSE_STOPPED,
        } as u32;
        // SAFETY: checked; writable by promise.
        unsafe { write_out(out, info) };
        edgecache_status::EDGECACHE_OK
    }
}

/// Releases a watcher (closing it). NULL is a no-op.
///
/// # Safety
/// `w` is NULL or live; no other thread is inside a call on it; must not be
/// used or freed again (must not be called twice).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watcher_free(w: *mut edgecache_watcher) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(w) });
    }
}
