//! `edgecache_watch_request` and `edgecache_watch_cache_watch_with`: a watch
//! with Kubernetes selector strings, streaming lists and bookmark periods.

use std::time::Duration;

use edgecache::watch::WatchOptions;

use crate::boundary::ffi_boundary;
use crate::group::EDGECACHE_WAIT_FOREVER;
use crate::handle::{check_out, into_raw, tri, try_ref, write_out};
use crate::sized::{SizedRequest, init_sized, read_sized};
use crate::status::edgecache_status;
use crate::watch::{
    EDGECACHE_DEFAULT_TIMEOUT, SelectorKind, edgecache_pair, edgecache_str, edgecache_watch_cache, edgecache_watcher,
    parsed_selector, timeout_or_default, watch_fail,
};

/// What `edgecache_watch_cache_watch_with` watches, and how. Growable:
/// initialise it with `edgecache_watch_request_init` (which sets `size`
/// and the defaults), then set the fields you need.
///
/// `size` rule: the library reads the first `size` bytes only. A `size`
/// below `sizeof(edgecache_watch_request)` of edgecache 0.1 (the first
/// version of this struct) is `EDGECACHE_INVALID_ARGUMENT`; a larger
/// `size` than the library knows (a program built against a newer header)
/// is accepted, and the fields the library does not know are ignored.
/// Fields a newer library adds take their defaults when an older
/// program's `size` leaves them out.
///
/// Nothing the request points at is kept after the call returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_watch_request {
    /// `sizeof(edgecache_watch_request)` as the caller's header declares
    /// it (set by `edgecache_watch_request_init`).
    pub size: usize,
    /// Deliver the events after this resourceVersion (0: the current state
    /// first, as ADDED events). With `send_initial_events`, a nonzero value
    /// means "not older than": the call first waits until the cache has
    /// seen it (up to `fresh_timeout_ms`).
    pub resource_version: u64,
    /// A label selector in Kubernetes syntax ("app in (a,b),!canary",
    /// "tier!=db", "env"); `(NULL, 0)` selects everything. ANDed with
    /// `labels`.
    pub label_selector: edgecache_str,
    /// A field selector in Kubernetes syntax ("spec.nodeName=n1",
    /// "metadata.name!=x"; `\` escapes `\`, `,` and `=`); `(NULL, 0)`
    /// selects everything. ANDed with `fields`.
    pub field_selector: edgecache_str,
    /// `n_labels` label equalities (NULL when 0), ANDed with
    /// `label_selector`.
    pub labels: *const edgecache_pair,
    /// The number of label equalities.
    pub n_labels: usize,
    /// `n_fields` field equalities (NULL when 0), ANDed with
    /// `field_selector`.
    pub fields: *const edgecache_pair,
    /// The number of field equalities.
    pub n_fields: usize,
    /// Deliver BOOKMARK events: periodic ones (see `bookmark_interval_ms`)
    /// and those of `edgecache_watch_cache_bookmark`.
    pub bookmarks: bool,
    /// A streaming list (Kubernetes' `sendInitialEvents=true`): start with
    /// the matching current state as ADDED events, then a BOOKMARK for
    /// which `edgecache_event_initial_events_end` is true (sent even
    /// without `bookmarks`), all at one resourceVersion, then the changes
    /// after it.
    pub send_initial_events: bool,
    /// Live events the watcher may hold unread before it is closed as
    /// fallen behind; 0 for the default (1024).
    pub buffer: usize,
    /// This watcher's bookmark period: 0 for the cache's
    /// (`edgecache_watch_options.bookmark_interval_ms`),
    /// `EDGECACHE_WAIT_FOREVER` for no periodic bookmarks, else
    /// milliseconds. Only with `bookmarks`.
    pub bookmark_interval_ms: u64,
    /// How long a streaming list waits for `resource_version`:
    /// `EDGECACHE_DEFAULT_TIMEOUT` for the cache's freshness timeout (the
    /// init default), `EDGECACHE_WAIT_FOREVER` for no limit, else
    /// milliseconds (0: do not wait). Only with `send_initial_events`.
    pub fresh_timeout_ms: u64,
}

impl SizedRequest for edgecache_watch_request {
    const NAME: &'static str = "edgecache_watch_request";
    const FIRST_VERSION_SIZE: usize = size_of::<edgecache_watch_request>();
}

/// Initialises the request at `req`, which the caller declares `size`
/// bytes long (pass `sizeof *req`): no selector, resourceVersion 0, no
/// bookmarks, no initial events, the default buffer and bookmark period,
/// `fresh_timeout_ms = EDGECACHE_DEFAULT_TIMEOUT`, and `size` set to the
/// bytes written (`min(size, sizeof` as this library knows it`)`). A
/// program built against an older header passes its smaller `sizeof`, so
/// nothing past its struct is written. NULL, or a `size` below
/// `sizeof(size_t)`, is a no-op. Thread-safe (it touches only `*req`).
///
/// # Safety
/// `req` is NULL or valid for writing `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_request_init(req: *mut edgecache_watch_request, size: usize) {
    ffi_boundary! {
        // SAFETY: all-zero bytes are a valid value of the struct (NULL
        // pointers, false, 0).
        let mut d: edgecache_watch_request = unsafe { std::mem::zeroed() };
        d.fresh_timeout_ms = EDGECACHE_DEFAULT_TIMEOUT;
        // SAFETY: the caller's promise.
        unsafe { init_sized(req, size, d) };
    }
}

/// Starts a watch as `*req` describes (see `edgecache_watch_request`) and
/// writes the watcher to `*out` (owned by the caller: free it with
/// `edgecache_watcher_free`; rules of use as `edgecache_watch_cache_watch`).
///
/// Errors: `EDGECACHE_INVALID_SELECTOR` for a selector string that does not
/// parse or a field the cache does not extract (the last error names it);
/// `EDGECACHE_RESOURCE_EXPIRED` when `resource_version` has left the window
/// (never with `send_initial_events`); `EDGECACHE_TOO_LARGE_RESOURCE_VERSION`
/// when a streaming list waited for it in vain; `EDGECACHE_INVALID_ARGUMENT`
/// for a `size` below the first version's, a selector that is not UTF-8 or
/// a count no array can have; `EDGECACHE_NULL_ARGUMENT` for a NULL `wc`,
/// `req` or `out`, or a NULL array with a nonzero count;
/// `EDGECACHE_CLOSED` after the cache closed. Watch errors leave their
/// details for `edgecache_watch_last_error`.
///
/// Thread-safe: any number of threads may start watches on one cache. A
/// streaming list with a nonzero `resource_version` may block up to
/// `fresh_timeout_ms`.
///
/// # Safety
/// `wc` is live; `req` is NULL or points at a request of at least
/// `req->size` readable bytes whose strings and arrays are valid for their
/// lengths; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_watch_with(
    wc: *const edgecache_watch_cache,
    req: *const edgecache_watch_request,
    out: *mut *mut edgecache_watcher,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL and size.
        let (c, r) = unsafe { (tri!(try_ref(wc)), tri!(read_sized(req))) };
        tri!(check_out(out, "out"));
        // SAFETY: the request's strings and arrays are valid by promise.
        let (ls, fs) = unsafe {
            (
                tri!(parsed_selector(SelectorKind::Label, r.label_selector, r.labels, r.n_labels)),
                tri!(parsed_selector(SelectorKind::Field, r.field_selector, r.fields, r.n_fields)),
            )
        };
        let mut opts = WatchOptions::new().bookmarks(r.bookmarks).send_initial_events(r.send_initial_events);
        if r.buffer != 0 {
            opts = opts.buffer(r.buffer);
        }
        match r.bookmark_interval_ms {
            0 => {}
            EDGECACHE_WAIT_FOREVER => opts = opts.bookmark_interval(Duration::ZERO),
            ms => opts = opts.bookmark_interval(Duration::from_millis(ms)),
        }
        if let Some(t) = timeout_or_default(r.fresh_timeout_ms) {
            opts = opts.fresh_timeout(t);
        }
        match c.watch(r.resource_version, &ls, &fs, opts) {
            Ok(w) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, into_raw::<edgecache_watcher>(w)) };
                edgecache_status::EDGECACHE_OK
            }
            Err(e) => watch_fail(&e),
        }
    }
}
