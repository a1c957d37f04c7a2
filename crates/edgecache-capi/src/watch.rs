//! `edgecache_watch_cache` and `edgecache_watcher`: Kubernetes' watch cache.
//!
//! Objects go in as `edgecache_object` (key, bytes, labels, fields) with a
//! resourceVersion. Events and items come out as opaque handles
//! (`edgecache_event`, `edgecache_item`, and lists of them) whose accessors
//! lend views (`edgecache_str`, `edgecache_bytes`-like pointers) that stay
//! valid while the handle lives.
//!
//! This module holds the shared part: the structs and opaque types, the
//! options and `edgecache_watch_options_init`, and the helpers the other
//! watch modules use (`watch_fail`, timeouts, arrays, selectors, objects).
//! The functions are in `watch_write` (create, write, close, free),
//! `watch_read` (resourceVersion, lists, gets, watches and watchers) and
//! `watch_items` (events, items and their lists).

use std::ffi::c_char;
use std::time::Duration;

use edgecache::watch::{Event, Item, Object, Selector, StrMap, WatchCache, WatchError, Watcher};

use crate::boundary::ffi_boundary;
use crate::bytes::slice;
use crate::handle::opaque;
use crate::status::{edgecache_status, fail};
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

/// A timeout argument as a duration (`EDGECACHE_WAIT_FOREVER`: no limit).
pub(crate) fn timeout(ms: u64) -> Duration {
    crate::wait::duration(ms)
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
pub(crate) unsafe fn selector(p: *const edgecache_pair, n: usize, what: &str) -> Result<Selector, edgecache_status> {
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
pub(crate) unsafe fn object(obj: *const edgecache_object) -> Result<Object, edgecache_status> {
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
