//! `edgecache_error`: the detail of a failed load, shared by every waiter.

use std::ffi::{c_char, c_void};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use edgecache::GetterError;

use crate::boundary::ffi_boundary;
use crate::handle::{opaque, take, tri, try_ref};
use crate::status::{copy_message, edgecache_status};

/// Releases a group creator's `user_data` once the group is gone (see
/// `edgecache_group_new`). Called at most once, on any thread.
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub type edgecache_release_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Releases the code a getter attached to an error, once no caller holds
/// that error any more (see `edgecache_group_new`). Called once per
/// reported error, on any thread.
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub type edgecache_release_code_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, code: u64)>;

/// A group creator's `user_data` and the hooks that release it. Shared by
/// the group's getter and every error it produced, so `release_data` runs
/// only after the group and all of those errors are gone, and never before a
/// `release_code` that needs the same `user_data`.
pub(crate) struct Hooks {
    pub(crate) user_data: *mut c_void,
    pub(crate) release_data: edgecache_release_fn,
    pub(crate) release_code: edgecache_release_code_fn,
    /// Set once the group exists: a group that failed to register must not
    /// release data its caller still owns.
    pub(crate) armed: AtomicBool,
}

// SAFETY: `edgecache_group_new` documents that the getter and both release
// functions may be called from any thread with `user_data`; this crate never
// dereferences the pointer.
unsafe impl Send for Hooks {}
// SAFETY: as above; the only mutable field is atomic.
unsafe impl Sync for Hooks {}

impl Drop for Hooks {
    fn drop(&mut self) {
        if let Some(release) = self.release_data
            && *self.armed.get_mut()
        {
            // SAFETY: the creator promised `release(user_data)` is valid
            // once the group is gone; this runs once, when the last holder
            // (group or error) is gone.
            unsafe { release(self.user_data) };
        }
    }
}

/// An error reported by C code: a getter through its sink, or a flight
/// leader through `edgecache_ticket_fail`.
pub(crate) struct CError {
    pub(crate) code: u64,
    pub(crate) message: String,
    /// The hooks of the group whose getter reported this, if any.
    pub(crate) hooks: Option<Arc<Hooks>>,
}

impl fmt::Debug for CError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CError").field("code", &self.code).field("message", &self.message).finish()
    }
}

impl fmt::Display for CError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CError {}

impl Drop for CError {
    fn drop(&mut self) {
        if let Some(h) = &self.hooks
            && let Some(release) = h.release_code
        {
            // SAFETY: the group's creator promised `release_error` may be
            // called once per reported error, from any thread, with its
            // `user_data`, which `Hooks` keeps alive until after this.
            unsafe { release(h.user_data, self.code) };
        }
    }
}

/// What an `edgecache_error` handle holds.
pub(crate) struct ErrorInfo {
    pub(crate) status: edgecache_status,
    /// The getter's own code (0 when the failure did not come from C code).
    pub(crate) code: u64,
    pub(crate) message: String,
    /// Keeps the getter's error (and so its code) alive while C holds this.
    pub(crate) _source: Option<GetterError>,
}

/// Why a load failed: a status, the code the getter attached (0 if
/// none) and a message. Owned by the caller that received it; release
/// with `edgecache_error_free`. Immutable, so any thread may read it.
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_error {
    _private: [u8; 0],
}

opaque!(edgecache_error => ErrorInfo);

impl ErrorInfo {
    /// Builds the detail for a core error.
    pub(crate) fn from_core(e: &edgecache::Error) -> (edgecache_status, ErrorInfo) {
        use edgecache::Error as E;
        let status = match e {
            E::Getter(_) => edgecache_status::EDGECACHE_GETTER_FAILED,
            E::LoaderPanicked(_) => edgecache_status::EDGECACHE_LOADER_PANICKED,
            E::Abandoned => edgecache_status::EDGECACHE_ABANDONED,
            E::Timeout => edgecache_status::EDGECACHE_TIMEOUT,
            E::DuplicateGroup(_) => edgecache_status::EDGECACHE_DUPLICATE_GROUP,
            E::Closed => edgecache_status::EDGECACHE_CLOSED,
            E::RecursiveLoad => edgecache_status::EDGECACHE_RECURSIVE_LOAD,
            E::NoValue => edgecache_status::EDGECACHE_NO_VALUE,
            _ => edgecache_status::EDGECACHE_INVALID_ARGUMENT,
        };
        let (code, message, source) = match e {
            E::Getter(g) => match g.downcast_ref::<CError>() {
                Some(c) => (c.code, c.message.clone(), Some(Arc::clone(g))),
                None => (0, g.to_string(), Some(Arc::clone(g))),
            },
            other => (0, other.to_string(), None),
        };
        (status, ErrorInfo { status, code, message, _source: source })
    }
}

/// The status of the failure.
///
/// # Safety
/// `err` is NULL (gives `EDGECACHE_NULL_ARGUMENT`) or a live error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_error_status(err: *const edgecache_error) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { tri!(try_ref(err)) }.status
    }
}

/// The code the getter (or flight leader) attached; 0 when NULL or none.
///
/// # Safety
/// `err` is NULL or a live error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_error_code(err: *const edgecache_error) -> u64 {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        match unsafe { try_ref(err) } {
            Ok(e) => e.code,
            Err(_) => 0,
        }
    }
}

/// Copies the message (NUL-terminated) into `buf`; buffer rules as
/// `edgecache_status_message`.
///
/// # Safety
/// `err` is a live error; `buf` is NULL or valid for `cap` bytes;
/// `out_len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_error_message(
    err: *const edgecache_error,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL.
        let e = unsafe { tri!(try_ref(err)) };
        // SAFETY: forwarded caller promises.
        unsafe { copy_message(&e.message, buf, cap, out_len) }
    }
}

/// Releases an error. NULL is a no-op.
///
/// # Safety
/// `err` is NULL or a live error, not used or freed again afterwards (must
/// not be called twice).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_error_free(err: *mut edgecache_error) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(err) });
    }
}
