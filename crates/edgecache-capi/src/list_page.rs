//! `edgecache_list_request` and `edgecache_list_page`: paged lists with
//! continue tokens, served from a snapshot
//! (`edgecache_watch_cache_list_page`).

use edgecache::watch::{ListPage, ListRequest, ResourceVersionMatch};

use crate::boundary::ffi_boundary;
use crate::handle::{check_out, into_raw, opaque, take, tri, try_ref, write_out};
use crate::sized::{SizedRequest, init_sized, read_sized};
use crate::status::{edgecache_status, fail};
use crate::watch::{
    EDGECACHE_DEFAULT_TIMEOUT, SelectorKind, edgecache_item_list, edgecache_pair, edgecache_str, edgecache_watch_cache,
    parsed_selector, timeout_or_default, watch_fail,
};

/// What `edgecache_watch_cache_list_page` lists. Growable: initialise it
/// with `edgecache_list_request_init(&req, sizeof req)`, then set the
/// fields you need. The
/// `size` rule is that of `edgecache_watch_request`: a `size` below
/// `sizeof(edgecache_list_request)` of edgecache 0.1 is
/// `EDGECACHE_INVALID_ARGUMENT`; a larger one is accepted and the unknown
/// fields ignored. Nothing it points at is kept after the call returns.
///
/// Which snapshot a page comes from, as the apiserver decides:
/// - a continue token: the token's (its resourceVersion must still be in
///   the window); `resource_version` must then be 0 and the match not
///   Exact;
/// - `resource_version` 0 (not Exact): the current state, in one page
///   (`limit` is ignored, as the apiserver does for "any");
/// - N, `EDGECACHE_MATCH_NOT_OLDER_THAN`: the current state once the cache
///   has seen N (waiting up to `timeout_ms`);
/// - N, `EDGECACHE_MATCH_EXACT`: the state at N, which must be in the
///   window;
/// - N, `EDGECACHE_MATCH_UNSET`: as NotOlderThan.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_list_request {
    /// `sizeof(edgecache_list_request)` as the caller's header declares it
    /// (set by `edgecache_list_request_init`).
    pub size: usize,
    /// The most items in a page; 0 for no limit. A page may hold fewer
    /// (even none) and still have a continue token.
    pub limit: usize,
    /// The continue token of the previous page (`edgecache_list_page_continue`,
    /// copied by the caller if the page is freed meanwhile); `(NULL, 0)` or
    /// empty for a first page.
    pub continue_token: edgecache_str,
    /// The resourceVersion (0: any); see the struct's docs.
    pub resource_version: u64,
    /// `EDGECACHE_MATCH_UNSET` (0), `EDGECACHE_MATCH_NOT_OLDER_THAN` (1) or
    /// `EDGECACHE_MATCH_EXACT` (2); any other value is
    /// `EDGECACHE_INVALID_ARGUMENT`.
    pub resource_version_match: u32,
    /// A label selector in Kubernetes syntax; `(NULL, 0)` selects
    /// everything. ANDed with `labels`.
    pub label_selector: edgecache_str,
    /// A field selector in Kubernetes syntax; `(NULL, 0)` selects
    /// everything. ANDed with `fields`.
    pub field_selector: edgecache_str,
    /// `n_labels` label equalities (NULL when 0).
    pub labels: *const edgecache_pair,
    /// The number of label equalities.
    pub n_labels: usize,
    /// `n_fields` field equalities (NULL when 0).
    pub fields: *const edgecache_pair,
    /// The number of field equalities.
    pub n_fields: usize,
    /// How long to wait for `resource_version`: `EDGECACHE_DEFAULT_TIMEOUT`
    /// for the cache's freshness timeout (the init default),
    /// `EDGECACHE_WAIT_FOREVER` for no limit, else milliseconds.
    pub timeout_ms: u64,
}

impl SizedRequest for edgecache_list_request {
    const NAME: &'static str = "edgecache_list_request";
    const FIRST_VERSION_SIZE: usize = size_of::<edgecache_list_request>();
}

#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
/// One page of a list (`edgecache_watch_cache_list_page`): its items, the
/// snapshot's resourceVersion and the continue token. Owned by the caller
/// (`edgecache_list_page_free`); immutable, so its accessors may be called
/// from many threads at once.
pub struct edgecache_list_page {
    _private: [u8; 0],
}
opaque!(edgecache_list_page => ListPage);

/// Initialises the request at `req`, which the caller declares `size`
/// bytes long (pass `sizeof *req`): the first page, no limit,
/// resourceVersion 0, `EDGECACHE_MATCH_UNSET`, no selector,
/// `timeout_ms = EDGECACHE_DEFAULT_TIMEOUT`, and `size` set to the bytes
/// written (as `edgecache_watch_request_init`). NULL, or a `size` below
/// `sizeof(size_t)`, is a no-op. Thread-safe (it touches only `*req`).
///
/// # Safety
/// `req` is NULL or valid for writing `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_list_request_init(req: *mut edgecache_list_request, size: usize) {
    ffi_boundary! {
        // SAFETY: all-zero bytes are a valid value of the struct.
        let mut d: edgecache_list_request = unsafe { std::mem::zeroed() };
        d.timeout_ms = EDGECACHE_DEFAULT_TIMEOUT;
        // SAFETY: the caller's promise.
        unsafe { init_sized(req, size, d) };
    }
}

/// Lists one page as `*req` describes (see `edgecache_list_request`): up to
/// `limit` objects matching the selectors, in key order, from a snapshot
/// that every page of the listing shares whatever is written in between.
/// Writes the page to `*out` (owned by the caller: free it with
/// `edgecache_list_page_free`).
///
/// Errors: `EDGECACHE_RESOURCE_EXPIRED` when the token's or the Exact
/// resourceVersion has left the window (list again without it);
/// `EDGECACHE_TOO_LARGE_RESOURCE_VERSION` when the cache does not reach the
/// resourceVersion within the timeout; `EDGECACHE_INVALID_SELECTOR` for a
/// selector string that does not parse or a field the cache does not
/// extract; `EDGECACHE_INVALID_ARGUMENT` for a malformed token, a token
/// with a resourceVersion or Exact, Exact with resourceVersion 0, an
/// unknown `resource_version_match`, a `size` below the first version's,
/// a string that is not UTF-8 or a count no array can have;
/// `EDGECACHE_NULL_ARGUMENT` for a NULL `wc`, `req` or `out`, or a NULL
/// array with a nonzero count; `EDGECACHE_CLOSED` after the cache closed.
/// Watch errors leave their details for `edgecache_watch_last_error`.
///
/// Thread-safe. May block up to the timeout while waiting for the
/// resourceVersion; the page itself is cut outside the cache's lock.
///
/// # Safety
/// `wc` is live; `req` is NULL or points at a request of at least
/// `req->size` readable bytes whose strings and arrays are valid for their
/// lengths; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_list_page(
    wc: *const edgecache_watch_cache,
    req: *const edgecache_list_request,
    out: *mut *mut edgecache_list_page,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL and size.
        let (c, r) = unsafe { (tri!(try_ref(wc)), tri!(read_sized(req))) };
        tri!(check_out(out, "out"));
        use crate::enums::edgecache_rv_match as M;
        let rv_match = match M::from_u32(r.resource_version_match) {
            Some(M::EDGECACHE_MATCH_UNSET) => None,
            Some(M::EDGECACHE_MATCH_NOT_OLDER_THAN) => Some(ResourceVersionMatch::NotOlderThan),
            Some(M::EDGECACHE_MATCH_EXACT) => Some(ResourceVersionMatch::Exact),
            None => {
                let other = r.resource_version_match;
                return fail(
                    edgecache_status::EDGECACHE_INVALID_ARGUMENT,
                    format!("{other} is not an EDGECACHE_MATCH_* value"),
                );
            }
        };
        // SAFETY: the request's strings and arrays are valid by promise.
        let (token, ls, fs) = unsafe {
            (
                tri!(r.continue_token.to_str("continue_token")),
                tri!(parsed_selector(SelectorKind::Label, r.label_selector, r.labels, r.n_labels)),
                tri!(parsed_selector(SelectorKind::Field, r.field_selector, r.fields, r.n_fields)),
            )
        };
        let mut lr = ListRequest::new()
            .limit(r.limit)
            .resource_version(r.resource_version)
            .label_selector(ls)
            .field_selector(fs);
        lr.resource_version_match = rv_match;
        if !token.is_empty() {
            lr = lr.continue_token(token);
        }
        if let Some(t) = timeout_or_default(r.timeout_ms) {
            lr = lr.timeout(t);
        }
        match c.list_page(&lr) {
            Ok(page) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, into_raw::<edgecache_list_page>(page)) };
                edgecache_status::EDGECACHE_OK
            }
            Err(e) => watch_fail(&e),
        }
    }
}

/// The page's items, in key order: lent, valid while the page lives (do
/// not pass it to `edgecache_item_list_free`); NULL for a NULL page.
///
/// # Safety
/// `p` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_list_page_items(p: *const edgecache_list_page) -> *const edgecache_item_list {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        match unsafe { try_ref(p) } {
            // The item list's Rust type is `Vec<Item>`, as `p.items`.
            Ok(p) => (&raw const p.items).cast::<edgecache_item_list>(),
            Err(_) => std::ptr::null(),
        }
    }
}

/// The resourceVersion of the snapshot the page (and every page of its
/// listing) comes from; 0 for NULL.
///
/// # Safety
/// `p` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_list_page_resource_version(p: *const edgecache_list_page) -> u64 {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { try_ref(p) }.map_or(0, |p| p.resource_version)
    }
}

/// The continue token for the next page: a view lent while the page lives
/// (copy it to keep it longer; it is ASCII, not NUL-terminated), passed
/// back as `edgecache_list_request.continue_token`. `EDGECACHE_NOT_FOUND`
/// (nothing written) on the last page.
///
/// # Safety
/// `p` is NULL or live; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_list_page_continue(
    p: *const edgecache_list_page,
    out: *mut edgecache_str,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let p = unsafe { tri!(try_ref(p)) };
        tri!(check_out(out, "out"));
        match &p.continue_token {
            Some(t) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, edgecache_str::from_str(t)) };
                edgecache_status::EDGECACHE_OK
            }
            None => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

/// Releases a page and everything it lent (its item list, its items, its
/// token). NULL is a no-op.
///
/// # Safety
/// `p` is NULL or live; no other thread is inside a call on it; must not
/// be used or freed again (must not be called twice).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_list_page_free(p: *mut edgecache_list_page) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(p) });
    }
}
