//! `edgecache_watch_error`: the typed detail of the thread's last failed
//! watch-cache call (HTTP code, reason, cause, resourceVersions), beside the
//! text of `edgecache_last_error_message`.
//!
//! The detail lives in a thread-local next to the last error message and
//! follows it: `watch_fail` sets both; every other failure that records a
//! message goes through `status::set_last_error`, which clears the detail.
//! So the detail is present exactly when the thread's last recorded failure
//! was a watch error.

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char};
use std::sync::Mutex;

use edgecache::watch::WatchError;

use crate::boundary::ffi_boundary;
use crate::status::edgecache_status;

/// The details of a watch-cache failure, as the Kubernetes apiserver would
/// report it; filled by `edgecache_watch_last_error`. A plain value: it
/// owns nothing, and its strings are static.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_watch_error {
    /// The HTTP status the apiserver answers with: 410 (the resourceVersion
    /// expired), 504 (too large a resourceVersion), 503 (closed), 400 (an
    /// invalid argument or selector).
    pub http_code: u16,
    /// The resourceVersion the call asked for (410 and 504); 0 otherwise.
    pub requested_rv: u64,
    /// The smallest resourceVersion the cache accepted when the call failed
    /// (410); 0 otherwise.
    pub oldest_rv: u64,
    /// The cache's resourceVersion when the wait gave up (504); 0
    /// otherwise.
    pub current_rv: u64,
    /// Seconds to wait before a retry (`Retry-After`): 1 for 504; 0 when
    /// the error suggests no retry.
    pub retry_after_seconds: u32,
    /// The apiserver's `Status.reason`: "Expired", "Timeout",
    /// "ServiceUnavailable" or "BadRequest". A static NUL-terminated
    /// string; never NULL; do not free.
    pub reason: *const c_char,
    /// The apiserver's `Status.details.causes[0].type` where it sets one
    /// ("ResourceVersionTooLarge" for 504, which client-go's
    /// `IsTooLargeResourceVersion` looks for); NULL when none. Static; do
    /// not free.
    pub cause: *const c_char,
}

thread_local! {
    static LAST_WATCH_ERROR: Cell<Option<edgecache_watch_error>> = const { Cell::new(None) };
}

/// The static C string with the text of `s`, a string the core returns as
/// `&'static str`. Known texts map to literals; an unknown one (a reason
/// added to the core later) is copied once and kept for the life of the
/// process, so the memory is bounded by the core's set of static strings.
fn static_c_str(s: &'static str) -> *const c_char {
    let known: &'static CStr = match s {
        "Expired" => c"Expired",
        "Timeout" => c"Timeout",
        "ServiceUnavailable" => c"ServiceUnavailable",
        "BadRequest" => c"BadRequest",
        "ResourceVersionTooLarge" => c"ResourceVersionTooLarge",
        other => return intern(other),
    };
    known.as_ptr()
}

fn intern(s: &'static str) -> *const c_char {
    static INTERNED: Mutex<Vec<(&'static str, &'static CStr)>> = Mutex::new(Vec::new());
    let mut kept = INTERNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, c)) = kept.iter().find(|(k, _)| *k == s) {
        return c.as_ptr();
    }
    // A NUL inside a static reason would truncate it; keep what precedes.
    let text = s.split('\0').next().unwrap_or_default();
    let c: &'static CStr = Box::leak(CString::new(text).unwrap_or_default().into_boxed_c_str());
    kept.push((s, c));
    c.as_ptr()
}

impl edgecache_watch_error {
    fn from_core(e: &WatchError) -> Self {
        let (requested_rv, oldest_rv, current_rv) = match e {
            WatchError::ResourceExpired { requested, oldest } => (*requested, *oldest, 0),
            WatchError::TooLargeResourceVersion { requested, current } => (*requested, 0, *current),
            _ => (0, 0, 0),
        };
        edgecache_watch_error {
            http_code: e.code(),
            requested_rv,
            oldest_rv,
            current_rv,
            retry_after_seconds: e.retry_after_seconds().unwrap_or(0),
            reason: static_c_str(e.reason()),
            cause: e.cause().map_or(std::ptr::null(), static_c_str),
        }
    }
}

/// Records `e` as this thread's last watch error (after its message).
pub(crate) fn record_last_watch_error(e: &WatchError) {
    let v = edgecache_watch_error::from_core(e);
    LAST_WATCH_ERROR.with(|c| c.set(Some(v)));
}

/// Forgets this thread's last watch error (a failure of another kind was
/// recorded).
pub(crate) fn clear_last_watch_error() {
    // `try_with`: during thread teardown the slot may be gone already.
    let _ = LAST_WATCH_ERROR.try_with(|c| c.set(None));
}

/// Writes the details of this thread's last failure to `*out` when that
/// failure was a watch-cache error (an expired or too-large
/// resourceVersion, a closed cache or watcher, an invalid selector or
/// argument the cache refused), and returns `EDGECACHE_OK`.
/// `EDGECACHE_NOT_FOUND` (nothing written) when there has been no failure
/// on this thread or its last one was not a watch error.
///
/// Which failure is "last": the detail is set by the same failing call that
/// sets the text of `edgecache_last_error_message`, and cleared by every
/// later failure that records a text of another kind (a NULL or invalid
/// argument the C layer checks itself, such as a NULL handle or
/// out-parameter, a panic, a group or flight error). Calls that succeed,
/// and calls that return a status without recording a text (a miss's
/// `EDGECACHE_NOT_FOUND`, a wait's `EDGECACHE_TIMEOUT`,
/// `EDGECACHE_BUFFER_TOO_SMALL` from the message functions, this function)
/// leave it as it was: read it right after the failing call.
///
/// Each thread has its own; the strings in `*out` are static. A NULL `out`
/// is `EDGECACHE_NULL_ARGUMENT` and leaves the last error as it was.
///
/// # Safety
/// `out` is NULL or valid for one `edgecache_watch_error` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_last_error(out: *mut edgecache_watch_error) -> edgecache_status {
    ffi_boundary! {
        if out.is_null() {
            // Not `fail`: that would erase the detail the caller asks for.
            return edgecache_status::EDGECACHE_NULL_ARGUMENT;
        }
        match LAST_WATCH_ERROR.with(Cell::get) {
            Some(v) => {
                // SAFETY: non-NULL; writable by the caller's promise.
                unsafe { out.write(v) };
                edgecache_status::EDGECACHE_OK
            }
            None => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_static_strings_are_interned_once() {
        let a = intern("SomethingNew");
        let b = intern("SomethingNew");
        assert_eq!(a, b);
        // SAFETY: `intern` returns a NUL-terminated static string.
        assert_eq!(unsafe { CStr::from_ptr(a) }.to_str().unwrap(), "SomethingNew");
        assert_eq!(static_c_str("Expired"), c"Expired".as_ptr());
    }

    #[test]
    fn a_failure_of_another_kind_clears_the_detail() {
        let e = WatchError::TooLargeResourceVersion { requested: 9, current: 3 };
        let _ = crate::watch::watch_fail(&e);
        let mut out = std::mem::MaybeUninit::<edgecache_watch_error>::uninit();
        // SAFETY: `out` is writable.
        assert_eq!(unsafe { edgecache_watch_last_error(out.as_mut_ptr()) }, edgecache_status::EDGECACHE_OK);
        // SAFETY: written on OK.
        let v = unsafe { out.assume_init() };
        assert_eq!((v.http_code, v.requested_rv, v.current_rv, v.retry_after_seconds), (504, 9, 3, 1));
        let _ = crate::status::fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, "x");
        // SAFETY: `out` is writable.
        assert_eq!(unsafe { edgecache_watch_last_error(out.as_mut_ptr()) }, edgecache_status::EDGECACHE_NOT_FOUND);
    }
}
