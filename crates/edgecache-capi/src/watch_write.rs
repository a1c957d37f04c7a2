//! The watch cache's lifecycle and writes: `edgecache_watch_cache_new`,
//! `_free`, `_close`, and the writes (`_add`, `_update`, `_delete`,
//! `_replace`, `_bookmark`).

use std::time::Duration;

use edgecache::watch::WatchCache;

use crate::boundary::ffi_boundary;
use crate::group::EDGECACHE_WAIT_FOREVER;
use crate::handle::{check_out, into_raw, take, tri, try_ref, write_out};
use crate::status::edgecache_status;
use crate::watch::{array, edgecache_object, edgecache_watch_cache, edgecache_watch_options, object, watch_fail};

/// Creates a watch cache (`opts` may be NULL for all defaults) and writes it
/// to `*out`. Options not initialised by `edgecache_watch_options_init`
/// (a `size` too small) are `EDGECACHE_INVALID_ARGUMENT`. Bad options (max_capacity below capacity, an index that is not
/// "label:NAME" or "field:NAME", a count such as `SIZE_MAX` that no array
/// can have) give `EDGECACHE_INVALID_ARGUMENT`; a NULL array with a nonzero
/// count `EDGECACHE_NULL_ARGUMENT`. Everything `opts` points at is copied.
/// Thread-safe.
///
/// # Safety
/// `opts` is NULL or valid (its `indexes` valid for `n_indexes`, its
/// `fields` for `n_fields`); `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_new(
    opts: *const edgecache_watch_options,
    out: *mut *mut edgecache_watch_cache,
) -> edgecache_status {
    ffi_boundary! {
        tri!(check_out(out, "out"));
        let mut b = WatchCache::builder();
        if !opts.is_null() {
            // SAFETY: non-NULL; valid for its `size` by promise.
            let o = unsafe { tri!(crate::sized::read_sized(opts)) };
            if o.capacity != 0 {
                b = b.capacity(o.capacity);
            }
            if o.max_capacity != 0 {
                b = b.max_capacity(o.max_capacity);
            }
            if o.max_bytes != 0 {
                b = b.max_bytes(o.max_bytes);
            }
            if o.fresh_timeout_ms != 0 {
                b = b.fresh_timeout(Duration::from_millis(o.fresh_timeout_ms));
            }
            match o.bookmark_interval_ms {
                0 => {}
                EDGECACHE_WAIT_FOREVER => b = b.bookmark_interval(Duration::ZERO),
                ms => b = b.bookmark_interval(Duration::from_millis(ms)),
            }
            // SAFETY: valid for `n_indexes` by promise (counts checked).
            let specs = unsafe { tri!(array(o.indexes, o.n_indexes, "indexes")) };
            for s in specs {
                // SAFETY: each string valid by promise.
                b = b.index(unsafe { tri!(s.to_str("index")) });
            }
            // SAFETY: valid for `n_fields` by promise (counts checked).
            let names = unsafe { tri!(array(o.fields, o.n_fields, "fields")) };
            if !names.is_empty() {
                let mut declared = Vec::with_capacity(names.len());
                for s in names {
                    // SAFETY: each string valid by promise.
                    declared.push(unsafe { tri!(s.to_str("field name")) });
                }
                b = b.fields(declared);
            }
        }
        match b.build() {
            Ok(wc) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, into_raw::<edgecache_watch_cache>(wc)) };
                edgecache_status::EDGECACHE_OK
            }
            Err(e) => watch_fail(&e),
        }
    }
}

/// Releases a watch cache (closing it first, which wakes its waiters and
/// watchers with `EDGECACHE_CLOSED`). Watchers, events and items already
/// handed out stay valid. NULL is a no-op.
///
/// # Safety
/// `wc` is NULL or live; no other thread is inside a call on it; it must not
/// be used or freed again (must not be called twice).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_free(wc: *mut edgecache_watch_cache) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        if let Some(w) = unsafe { take(wc) } {
            w.close();
        }
    }
}

/// Closes the cache: blocked waits and watchers wake with
/// `EDGECACHE_CLOSED` (watchers after delivering what they hold); later
/// calls fail with it. Idempotent, thread-safe.
///
/// # Safety
/// `wc` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_close(wc: *const edgecache_watch_cache) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { tri!(try_ref(wc)) }.close();
        edgecache_status::EDGECACHE_OK
    }
}

/// Which write.
#[derive(Clone, Copy)]
enum Write {
    Add,
    Update,
    Delete,
}

/// # Safety
/// `wc` live; `obj` valid.
unsafe fn write(wc: *const edgecache_watch_cache, obj: *const edgecache_object, rv: u64, w: Write) -> edgecache_status {
    // SAFETY: the caller's promises, checked for NULL.
    let (c, o) = unsafe { (tri!(try_ref(wc)), tri!(object(obj))) };
    let r = match w {
        Write::Add => c.add(o, rv),
        Write::Update => c.update(o, rv),
        Write::Delete => c.delete(o, rv),
    };
    match r {
        Ok(()) => edgecache_status::EDGECACHE_OK,
        Err(e) => watch_fail(&e),
    }
}

/// Records an ADDED event for `obj` at `rv` (which must exceed the cache's
/// resourceVersion, else `EDGECACHE_INVALID_ARGUMENT` and nothing changes).
///
/// # Safety
/// `wc` is live; `obj` points at a valid object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_add(
    wc: *const edgecache_watch_cache,
    obj: *const edgecache_object,
    rv: u64,
) -> edgecache_status {
    // SAFETY: forwarded promises.
    ffi_boundary! { unsafe { write(wc, obj, rv, Write::Add) } }
}

/// Records a MODIFIED event (the previous object is filled in from the
/// current state). Rules as `edgecache_watch_cache_add`.
///
/// # Safety
/// As `edgecache_watch_cache_add`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_update(
    wc: *const edgecache_watch_cache,
    obj: *const edgecache_object,
    rv: u64,
) -> edgecache_status {
    // SAFETY: forwarded promises.
    ffi_boundary! { unsafe { write(wc, obj, rv, Write::Update) } }
}

/// Records a DELETED event. Rules as `edgecache_watch_cache_add`.
///
/// # Safety
/// As `edgecache_watch_cache_add`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_delete(
    wc: *const edgecache_watch_cache,
    obj: *const edgecache_object,
    rv: u64,
) -> edgecache_status {
    // SAFETY: forwarded promises.
    ffi_boundary! { unsafe { write(wc, obj, rv, Write::Delete) } }
}

/// Replaces the whole state with `n` items at `rv` (a relist): the window
/// restarts, older resourceVersions expire, every watcher closes. A count
/// no array can have (e.g. `SIZE_MAX`) is `EDGECACHE_INVALID_ARGUMENT`.
///
/// # Safety
/// `wc` is live; `items` is NULL (with `n` 0) or valid for `n` objects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_replace(
    wc: *const edgecache_watch_cache,
    items: *const edgecache_object,
    n: usize,
    rv: u64,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let c = unsafe { tri!(try_ref(wc)) };
        // SAFETY: `items` valid for `n` objects by promise (counts checked).
        let items = unsafe { tri!(array(items, n, "items")) };
        let mut objs = Vec::with_capacity(items.len());
        for o in items {
            // SAFETY: each object valid by promise.
            objs.push(unsafe { tri!(object(o)) });
        }
        match c.replace(objs, rv) {
            Ok(()) => edgecache_status::EDGECACHE_OK,
            Err(e) => watch_fail(&e),
        }
    }
}

/// Sends a BOOKMARK at `rv` to watchers that asked for bookmarks and moves
/// the cache's resourceVersion forward.
///
/// # Safety
/// `wc` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_bookmark(wc: *const edgecache_watch_cache, rv: u64) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        match unsafe { tri!(try_ref(wc)) }.bookmark(rv) {
            Ok(()) => edgecache_status::EDGECACHE_OK,
            Err(e) => watch_fail(&e),
        }
    }
}
