//! The accessors of what a watch cache hands out: events, items (key,
//! object, resourceVersion, labels and fields) and lists of them.

use edgecache::watch::{Event, EventType, Item};

use crate::boundary::ffi_boundary;
use crate::enums::{edgecache_attr, edgecache_event_kind};
use crate::handle::{check_out, take, tri, try_ref, write_out};
use crate::status::{edgecache_status, fail};
use crate::watch::{edgecache_event, edgecache_event_list, edgecache_item, edgecache_item_list, edgecache_str};

/// The event's type: `EDGECACHE_EVENT_ADDED`, `_MODIFIED`, `_DELETED` or
/// `_BOOKMARK`; 0 for NULL.
///
/// # Safety
/// `e` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_type(e: *const edgecache_event) -> u32 {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        match unsafe { try_ref(e) } {
            Ok(e) => match e.event_type() {
                EventType::Added => edgecache_event_kind::EDGECACHE_EVENT_ADDED as u32,
                EventType::Modified => edgecache_event_kind::EDGECACHE_EVENT_MODIFIED as u32,
                EventType::Deleted => edgecache_event_kind::EDGECACHE_EVENT_DELETED as u32,
                EventType::Bookmark => edgecache_event_kind::EDGECACHE_EVENT_BOOKMARK as u32,
            },
            Err(_) => 0,
        }
    }
}

/// The event's resourceVersion; 0 for NULL.
///
/// # Safety
/// `e` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_resource_version(e: *const edgecache_event) -> u64 {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { try_ref(e) }.map_or(0, Event::resource_version)
    }
}

/// True only on the BOOKMARK that ends the initial events of a watch
/// started with `send_initial_events` (`edgecache_watch_cache_watch_with`):
/// the events before it are the state at its resourceVersion, those after
/// it changes (Kubernetes' `k8s.io/initial-events-end` annotation). False
/// for any other event and for NULL. Thread-safe (events are immutable).
///
/// # Safety
/// `e` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_initial_events_end(e: *const edgecache_event) -> bool {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { try_ref(e) }.is_ok_and(Event::initial_events_end)
    }
}

/// The object the event carries, lent for as long as `e` lives; NULL for a
/// NULL event. (A bookmark's item has an empty key and object.)
///
/// # Safety
/// `e` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_item(e: *const edgecache_event) -> *const edgecache_item {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        match unsafe { try_ref(e) } {
            Ok(e) => (e.item() as *const Item).cast::<edgecache_item>(),
            Err(_) => std::ptr::null(),
        }
    }
}

/// The previous object (MODIFIED and DELETED events), lent for as long as
/// `e` lives; NULL when there is none.
///
/// # Safety
/// `e` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_prev_item(e: *const edgecache_event) -> *const edgecache_item {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        match unsafe { try_ref(e) }.ok().and_then(Event::prev_item) {
            Some(i) => (i as *const Item).cast::<edgecache_item>(),
            None => std::ptr::null(),
        }
    }
}

/// Releases an event (NULL: no-op). Items it lent become invalid.
///
/// # Safety
/// `e` is NULL or an owned, live event; must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_free(e: *mut edgecache_event) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(e) });
    }
}

/// The item's key (lent: valid while the item lives).
///
/// # Safety
/// `i` is a live item; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_key(i: *const edgecache_item, out: *mut edgecache_str) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let i = unsafe { tri!(try_ref(i)) };
        tri!(check_out(out, "out"));
        // SAFETY: checked; writable.
        unsafe { write_out(out, edgecache_str::from_str(i.key())) };
        edgecache_status::EDGECACHE_OK
    }
}

/// The item's object bytes: `*out_data`/`*out_len` (lent: valid while the
/// item lives; do not free).
///
/// # Safety
/// `i` is a live item; both out-parameters writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_object(
    i: *const edgecache_item,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let i = unsafe { tri!(try_ref(i)) };
        tri!(check_out(out_data, "out_data"));
        tri!(check_out(out_len, "out_len"));
        // SAFETY: both checked; writable.
        unsafe {
            write_out(out_data, i.object().as_ptr());
            write_out(out_len, i.object().len());
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// The resourceVersion that last wrote the item; 0 for NULL.
///
/// # Safety
/// `i` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_resource_version(i: *const edgecache_item) -> u64 {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { try_ref(i) }.map_or(0, Item::resource_version)
    }
}

/// Looks up label (`which` 0) or field (`which` 1) `name`; the value is lent
/// while the item lives. `EDGECACHE_NOT_FOUND` when absent.
///
/// # Safety
/// `i` is a live item; `name` valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_attr(
    i: *const edgecache_item,
    which: u32,
    name: edgecache_str,
    out: *mut edgecache_str,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL.
        let (i, name) = unsafe { (tri!(try_ref(i)), tri!(name.to_str("name"))) };
        tri!(check_out(out, "out"));
        let m = tri!(attrs(i, which));
        match m.get(name) {
            Some(v) => {
                // SAFETY: checked; writable.
                unsafe { write_out(out, edgecache_str::from_str(v)) };
                edgecache_status::EDGECACHE_OK
            }
            None => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

/// Enumerates labels (`which` 0) or fields (`which` 1) in name order: writes
/// the `index`-th name and value, lent while the item lives;
/// `EDGECACHE_NOT_FOUND` once `index` is past the last. Walking every index
/// costs O(n²) in the number of attributes (they are few).
///
/// # Safety
/// `i` is a live item; `out_name` and `out_value` are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_attr_at(
    i: *const edgecache_item,
    which: u32,
    index: usize,
    out_name: *mut edgecache_str,
    out_value: *mut edgecache_str,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let i = unsafe { tri!(try_ref(i)) };
        tri!(check_out(out_name, "out_name"));
        tri!(check_out(out_value, "out_value"));
        let m = tri!(attrs(i, which));
        match m.iter().nth(index) {
            Some((k, v)) => {
                // SAFETY: both checked; writable by promise.
                unsafe {
                    write_out(out_name, edgecache_str::from_str(k));
                    write_out(out_value, edgecache_str::from_str(v));
                }
                edgecache_status::EDGECACHE_OK
            }
            None => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

/// The labels or fields of `i`, as `which` (an `edgecache_attr`) says.
fn attrs(i: &Item, which: u32) -> Result<&std::collections::BTreeMap<String, String>, edgecache_status> {
    match edgecache_attr::from_u32(which) {
        Some(edgecache_attr::EDGECACHE_ATTR_LABEL) => Ok(i.labels()),
        Some(edgecache_attr::EDGECACHE_ATTR_FIELD) => Ok(i.fields()),
        None => Err(fail(edgecache_status::EDGECACHE_INVALID_ARGUMENT, format!("unknown attribute kind {which}"))),
    }
}

/// Releases an item received as owned (`edgecache_watch_cache_get`). Never
/// pass an item lent by an event or list. NULL is a no-op.
///
/// # Safety
/// `i` is NULL or an owned, live item; must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_free(i: *mut edgecache_item) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(i) });
    }
}

/// The number of events in the list; 0 for NULL.
///
/// # Safety
/// `l` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_list_len(l: *const edgecache_event_list) -> usize {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { try_ref(l) }.map_or(0, Vec::len)
    }
}

/// The event at `index`, lent while the list lives; NULL when out of range.
///
/// # Safety
/// `l` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_list_at(
    l: *const edgecache_event_list,
    index: usize,
) -> *const edgecache_event {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        match unsafe { try_ref(l) }.ok().and_then(|v| v.get(index)) {
            Some(e) => (e as *const Event).cast::<edgecache_event>(),
            None => std::ptr::null(),
        }
    }
}

/// Releases an event list and everything it lent. NULL is a no-op.
///
/// # Safety
/// `l` is NULL or live; must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_event_list_free(l: *mut edgecache_event_list) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(l) });
    }
}

/// The number of items in the list; 0 for NULL.
///
/// # Safety
/// `l` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_list_len(l: *const edgecache_item_list) -> usize {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { try_ref(l) }.map_or(0, Vec::len)
    }
}

/// The item at `index`, lent while the list lives; NULL when out of range.
///
/// # Safety
/// `l` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_list_at(l: *const edgecache_item_list, index: usize) -> *const edgecache_item {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        match unsafe { try_ref(l) }.ok().and_then(|v| v.get(index)) {
            Some(i) => (i as *const Item).cast::<edgecache_item>(),
            None => std::ptr::null(),
        }
    }
}

/// Releases an item list and everything it lent. NULL is a no-op.
///
/// # Safety
/// `l` is NULL or live; must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_item_list_free(l: *mut edgecache_item_list) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(l) });
    }
}
