//! `edgecache_watch_cache` and `edgecache_watcher`: Kubernetes' watch cache.
//!
//! Objects go in as `edgecache_object` (key, bytes, labels, fields) with a
//! resourceVersion. Events and items come out as opaque handles
//! (`edgecache_event`, `edgecache_item`, and lists of them) whose accessors
//! lend views (`edgecache_str`, `edgecache_bytes`-like pointers) that stay
//! valid while the handle lives.

use std::ffi::c_char;
use std::time::Duration;

use edgecache::watch::{
    Event, EventType, Item, Object, Selector, StrMap, WatchCache, WatchError, WatchOptions, Watcher,
};

use crate::boundary::ffi_boundary;
use crate::enums::{edgecache_attr, edgecache_event_kind};
use crate::bytes::slice;
use crate::group::EDGECACHE_WAIT_FOREVER;
use crate::handle::{check_out, into_raw, opaque, take, tri, try_ref, write_out};
use crate::status::{copy_message, edgecache_status, fail};
use crate::watch_error::record_last_watch_error;

/// A borrowed UTF-8 string: `len` bytes at `ptr`, not NUL-terminated.
/// `(NULL, 0)` is the empty string.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_str {
    /// The first byte.
    pub ptr: *const c_char,
    /// The length in bytes.
    pub len: usize,
}

impl edgecache_str {
    pub(crate) fn from_str(s: &str) -> Self {
        edgecache_str { ptr: s.as_ptr().cast(), len: s.len() }
    }

    /// # Safety
    /// `ptr` is NULL or valid for `len` bytes for `'a`.
    pub(crate) unsafe fn to_str<'a>(self, what: &str) -> Result<&'a str, edgecache_status> {
        // SAFETY: the caller's promise.
        let b = unsafe { slice(self.ptr.cast(), self.len, what)? };
        std::str::from_utf8(b)
            .map_err(|_| fail(edgecache_status::EDGECACHE_INVALID_ARGUMENT, format!("{what} is not valid UTF-8")))
    }
}

/// A `name = value` pair: a label, a field, or a selector requirement.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_pair {
    /// The label or field name.
    pub name: edgecache_str,
    /// Its value.
    pub value: edgecache_str,
}

/// An object to write: all of it is copied by the call that receives it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_object {
    /// The object's key, e.g. "namespace/name".
    pub key: edgecache_str,
    /// The serialized object.
    pub data: *const u8,
    /// Its length.
    pub data_len: usize,
    /// `n_labels` labels (NULL when 0).
    pub labels: *const edgecache_pair,
    /// The number of labels.
    pub n_labels: usize,
    /// `n_fields` fields (NULL when 0).
    pub fields: *const edgecache_pair,
    /// The number of fields.
    pub n_fields: usize,
}


/// Options of `edgecache_watch_cache_new`; zero means the default for every
/// field. Growable: initialise it with `edgecache_watch_options_init(&o,
/// sizeof o)`, then set fields (the `size` rule of the request structs:
/// later versions only append fields).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_watch_options {
    /// `sizeof` the struct as the caller's header declares it (set by
    /// `edgecache_watch_options_init`).
    pub size: usize,
    /// The smallest number of events kept (default 100).
    pub capacity: usize,
    /// The largest number of events kept (default 102400).
    pub max_capacity: usize,
    /// The largest summed size of the events kept (key + object + previous
    /// object); 0 for unbounded.
    pub max_bytes: usize,
    /// `n_indexes` index declarations such as "label:app" or
    /// "field:spec.nodeName" (NULL when 0).
    pub indexes: *const edgecache_str,
    /// The number of indexes.
    pub n_indexes: usize,
    /// How long `list`/`get` wait for freshness when given
    /// `EDGECACHE_DEFAULT_TIMEOUT` (default 3000 ms).
    pub fresh_timeout_ms: u64,
    /// How often a watcher that asked for bookmarks gets one at the cache's
    /// resourceVersion while it is read: 0 for the default (60000 ms, less
    /// a jitter of up to a tenth), `EDGECACHE_WAIT_FOREVER` for no periodic
    /// bookmarks (only those of `edgecache_watch_cache_bookmark`), else
    /// milliseconds. A watch request can override it.
    pub bookmark_interval_ms: u64,
    /// `n_fields` field names writers extract into `edgecache_object`'s
    /// fields (e.g. "metadata.name", "spec.nodeName"). When declared
    /// (`n_fields` > 0), a field selector on any other field (one no
    /// "field:" index names either) fails with
    /// `EDGECACHE_INVALID_SELECTOR`. `n_fields` 0: not declared; the cache
    /// then accepts any field until a write has carried fields, and after
    /// that only the names writes carried. The names are copied.
    pub fields: *const edgecache_str,
    /// The number of field names; 0 for "not declared".
    pub n_fields: usize,
}

/// A timeout argument that means "the cache's configured freshness timeout".
pub const EDGECACHE_DEFAULT_TIMEOUT: u64 = u64::MAX - 1;

#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
/// A sliding window of watch events plus the current state. Made by
/// `edgecache_watch_cache_new`, released by `edgecache_watch_cache_free`;
/// every other function is thread-safe.
pub struct edgecache_watch_cache {
    _private: [u8; 0],
}
opaque!(edgecache_watch_cache => WatchCache);

#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
/// A stream of events. `edgecache_watcher_next` and `edgecache_watcher_close`
/// may be called from different threads at once; free it once, after every
/// other call on it has returned.
pub struct edgecache_watcher {
    _private: [u8; 0],
}
opaque!(edgecache_watcher => Watcher);

#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
/// One event; owned by its receiver (`edgecache_event_free`), immutable.
pub struct edgecache_event {
    _private: [u8; 0],
}
opaque!(edgecache_event => Event);

#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
/// One stored object. Owned (`edgecache_item_free`) when a call returned
/// it; borrowed when an event or list lent it (valid while that lives).
pub struct edgecache_item {
    _private: [u8; 0],
}
opaque!(edgecache_item => Item);

#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
/// A list of events (`edgecache_event_list_free`).
pub struct edgecache_event_list {
    _private: [u8; 0],
}
opaque!(edgecache_event_list => Vec<Event>);

#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
/// A list of items (`edgecache_item_list_free`).
pub struct edgecache_item_list {
    _private: [u8; 0],
}
opaque!(edgecache_item_list => Vec<Item>);

/// Maps a watch error to its status and records its message and its typed
/// detail (`edgecache_watch_last_error`).
pub(crate) fn watch_fail(e: &WatchError) -> edgecache_status {
    let status = match e {
        WatchError::ResourceExpired { .. } => edgecache_status::EDGECACHE_RESOURCE_EXPIRED,
        WatchError::TooLargeResourceVersion { .. } => edgecache_status::EDGECACHE_TOO_LARGE_RESOURCE_VERSION,
        WatchError::Closed { .. } => edgecache_status::EDGECACHE_CLOSED,
        WatchError::InvalidSelector(_) => edgecache_status::EDGECACHE_INVALID_SELECTOR,
        _ => edgecache_status::EDGECACHE_INVALID_ARGUMENT,
    };
    // `fail` clears the typed detail; it is set after.
    let status = fail(status, e.to_string());
    record_last_watch_error(e);
    status
}

/// A timeout argument as a duration (`EDGECACHE_WAIT_FOREVER` → a year).
pub(crate) fn timeout(ms: u64) -> Duration {
    if ms == EDGECACHE_WAIT_FOREVER { Duration::from_secs(365 * 24 * 3600) } else { Duration::from_millis(ms) }
}

/// A timeout argument where `EDGECACHE_DEFAULT_TIMEOUT` means "the cache's
/// own" (`None`).
pub(crate) fn timeout_or_default(ms: u64) -> Option<Duration> {
    (ms != EDGECACHE_DEFAULT_TIMEOUT).then(|| timeout(ms))
}

/// Borrows `n` values at `ptr` as a slice. A count of 0 is the empty slice
/// whatever the pointer; NULL with a nonzero count is
/// `EDGECACHE_NULL_ARGUMENT`; a count whose byte size exceeds `isize::MAX`
/// (no real array is that large, e.g. `SIZE_MAX`) is
/// `EDGECACHE_INVALID_ARGUMENT`, never a read.
///
/// # Safety
/// A non-NULL `ptr` with a count the checks accept is valid for `n` reads
/// of `T` for `'a`.
pub(crate) unsafe fn array<'a, T>(ptr: *const T, n: usize, what: &str) -> Result<&'a [T], edgecache_status> {
    if n == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, format!("{what} is NULL with count {n}")));
    }
    if n > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(fail(edgecache_status::EDGECACHE_INVALID_ARGUMENT, format!("{what} count {n} is too large")));
    }
    // SAFETY: non-NULL, the byte size fits in isize, and the caller
    // promises `n` readable values.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

/// # Safety
/// `pairs` is NULL or valid for `n` pairs whose strings are valid.
unsafe fn pairs<'a>(
    pairs: *const edgecache_pair,
    n: usize,
    what: &str,
) -> Result<Vec<(&'a str, &'a str)>, edgecache_status> {
    // SAFETY: the caller's promise.
    let ps = unsafe { array(pairs, n, what)? };
    ps.iter()
        // SAFETY: the caller's promise covers each pair's strings.
        .map(|p| unsafe { Ok((p.name.to_str(what)?, p.value.to_str(what)?)) })
        .collect()
}

/// # Safety
/// As [`pairs`].
unsafe fn map(p: *const edgecache_pair, n: usize, what: &str) -> Result<StrMap, edgecache_status> {
    // SAFETY: forwarded.
    Ok(unsafe { pairs(p, n, what)? }.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

/// # Safety
/// As [`pairs`].
unsafe fn selector(p: *const edgecache_pair, n: usize, what: &str) -> Result<Selector, edgecache_status> {
    // SAFETY: forwarded.
    Ok(unsafe { pairs(p, n, what)? }.into_iter().fold(Selector::new(), |s, (k, v)| s.with(k, v)))
}

/// Which selector a string is parsed as.
#[derive(Clone, Copy)]
pub(crate) enum SelectorKind {
    Label,
    Field,
}

/// A selector from a Kubernetes-syntax string (`(NULL, 0)`: everything)
/// ANDed with equality pairs. A string that does not parse is
/// `EDGECACHE_INVALID_SELECTOR`.
///
/// # Safety
/// `text` valid as an `edgecache_str`; `p` NULL or valid for `n` pairs.
pub(crate) unsafe fn parsed_selector(
    kind: SelectorKind,
    text: edgecache_str,
    p: *const edgecache_pair,
    n: usize,
) -> Result<Selector, edgecache_status> {
    let (what, pairs_what) = match kind {
        SelectorKind::Label => ("label_selector", "labels"),
        SelectorKind::Field => ("field_selector", "fields"),
    };
    // SAFETY: the caller's promises.
    let (text, eq) = unsafe { (text.to_str(what)?, selector(p, n, pairs_what)?) };
    let parsed = match kind {
        SelectorKind::Label => Selector::parse(text),
        SelectorKind::Field => Selector::parse_fields(text),
    };
    match parsed {
        Ok(s) => Ok(s.and(eq)),
        Err(e) => Err(watch_fail(&e)),
    }
}

/// # Safety
/// `obj` is NULL or points at a valid `edgecache_object`.
unsafe fn object(obj: *const edgecache_object) -> Result<Object, edgecache_status> {
    if obj.is_null() {
        return Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, "object is NULL"));
    }
    // SAFETY: non-NULL; valid by the caller's promise.
    let o = unsafe { &*obj };
    // SAFETY: the caller's promise covers the object's pointers.
    unsafe {
        let key = o.key.to_str("object key")?;
        let data = slice(o.data, o.data_len, "object data")?;
        let labels = map(o.labels, o.n_labels, "labels")?;
        let fields = map(o.fields, o.n_fields, "fields")?;
        Ok(Object::new(key, data).with_labels(labels).with_fields(fields))
    }
}

impl crate::sized::SizedRequest for edgecache_watch_options {
    const NAME: &'static str = "edgecache_watch_options";
    const FIRST_VERSION_SIZE: usize = size_of::<edgecache_watch_options>();
}

/// Initialises the options at `opts`, which the caller declares `size`
/// bytes long (pass `sizeof *opts`): every field zero (the defaults) and
/// `size` set. NULL, or a `size` below `sizeof(size_t)`, is a no-op.
///
/// # Safety
/// `opts` is NULL or writable for `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_options_init(opts: *mut edgecache_watch_options, size: usize) {
    ffi_boundary! {
        // SAFETY: all-zero bytes are a valid value of the struct (NULL
        // pointers, 0).
        let d: edgecache_watch_options = unsafe { std::mem::zeroed() };
        // SAFETY: the caller's promise.
        unsafe { crate::sized::init_sized(opts, size, d) };
    }
}

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
