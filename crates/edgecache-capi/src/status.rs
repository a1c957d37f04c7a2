//! `edgecache_status`, its messages, and the thread's last error detail.

use std::cell::RefCell;
use std::ffi::c_char;

use crate::boundary::ffi_boundary;

/// The result of every fallible call. Values are fixed: a variant is never
/// renumbered, new ones are only added.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub enum edgecache_status {
    /// Success.
    EDGECACHE_OK = 0,
    /// The key is not in the cache (a miss; not a failure).
    EDGECACHE_NOT_FOUND = 1,
    /// A required pointer argument was NULL, or a NULL pointer came with a
    /// nonzero length.
    EDGECACHE_NULL_ARGUMENT = 2,
    /// An argument is out of range (a negative size, an unknown enum value,
    /// a key that is not valid where it must be UTF-8, ...).
    EDGECACHE_INVALID_ARGUMENT = 3,
    /// The caller's buffer is too small; the needed size was written to the
    /// length out-parameter.
    EDGECACHE_BUFFER_TOO_SMALL = 4,
    /// A bug: edgecache panicked inside the call. The structure the call
    /// touched stays usable; the last error has the panic message.
    EDGECACHE_PANIC = 5,
    /// The getter reported an error (see `edgecache_error`).
    EDGECACHE_GETTER_FAILED = 6,
    /// The getter or loader panicked (Rust) or the process running the load
    /// reported a crash.
    EDGECACHE_LOADER_PANICKED = 7,
    /// The caller running the load went away without a result (its flight
    /// ticket was freed uncompleted).
    EDGECACHE_ABANDONED = 8,
    /// A wait ran out of time. The load or stream goes on.
    EDGECACHE_TIMEOUT = 9,
    /// A group with this name is already registered.
    EDGECACHE_DUPLICATE_GROUP = 10,
    /// The object was closed.
    EDGECACHE_CLOSED = 11,
    /// The resourceVersion is older than the watch window (HTTP 410 Gone,
    /// "too old resource version"): relist.
    EDGECACHE_RESOURCE_EXPIRED = 12,
    /// The cache has not seen the resourceVersion in time (HTTP 504; retry
    /// after 1 s).
    EDGECACHE_TOO_LARGE_RESOURCE_VERSION = 13,
    /// The call is not valid for this object's state (for example completing
    /// a flight ticket that is a waiter).
    EDGECACHE_WRONG_STATE = 14,
    /// The caller gave up waiting: its poll function asked to stop (for
    /// example a Go context was cancelled). The load goes on for the others.
    EDGECACHE_CANCELLED = 15,
    /// A label or field selector could not be parsed, or names a field the
    /// watch cache does not extract (HTTP 400, the apiserver's "field label
    /// not supported"). The last error names the offending part.
    EDGECACHE_INVALID_SELECTOR = 16,
    /// A getter asked for the key it is loading, on the same thread
    /// (directly or through other loads): waiting would never end, so the
    /// inner get fails at once.
    EDGECACHE_RECURSIVE_LOAD = 17,
    /// The getter returned without setting a value or an error.
    EDGECACHE_NO_VALUE = 18,
    /// The result is not ready yet (a ticket's load still runs): wait for
    /// the ready hook, then ask again. Not a failure.
    EDGECACHE_PENDING = 19,
}

impl edgecache_status {
    fn message(self) -> &'static str {
        use edgecache_status::*;
        match self {
            EDGECACHE_OK => "ok",
            EDGECACHE_NOT_FOUND => "not found",
            EDGECACHE_NULL_ARGUMENT => "a required pointer argument was NULL",
            EDGECACHE_INVALID_ARGUMENT => "invalid argument",
            EDGECACHE_BUFFER_TOO_SMALL => "the buffer is too small",
            EDGECACHE_PANIC => "internal error: edgecache panicked",
            EDGECACHE_GETTER_FAILED => "the getter failed",
            EDGECACHE_LOADER_PANICKED => "the getter or loader panicked",
            EDGECACHE_ABANDONED => "the load was abandoned by the caller running it",
            EDGECACHE_TIMEOUT => "timed out",
            EDGECACHE_DUPLICATE_GROUP => "a group with this name is already registered",
            EDGECACHE_CLOSED => "closed",
            EDGECACHE_RESOURCE_EXPIRED => "too old resource version",
            EDGECACHE_TOO_LARGE_RESOURCE_VERSION => "too large resource version",
            EDGECACHE_WRONG_STATE => "the call does not fit the object's state",
            EDGECACHE_CANCELLED => "cancelled by the caller",
            EDGECACHE_INVALID_SELECTOR => "invalid label or field selector",
            EDGECACHE_RECURSIVE_LOAD => "recursive load: the getter asked for the key it is loading",
            EDGECACHE_NO_VALUE => "the getter returned without setting a value",
            EDGECACHE_PENDING => "the result is not ready yet",
        }
    }

    /// The status for a discriminant, if it names one.
    fn from_raw(v: u32) -> Option<Self> {
        use edgecache_status::*;
        Some(match v {
            0 => EDGECACHE_OK,
            1 => EDGECACHE_NOT_FOUND,
            2 => EDGECACHE_NULL_ARGUMENT,
            3 => EDGECACHE_INVALID_ARGUMENT,
            4 => EDGECACHE_BUFFER_TOO_SMALL,
            5 => EDGECACHE_PANIC,
            6 => EDGECACHE_GETTER_FAILED,
            7 => EDGECACHE_LOADER_PANICKED,
            8 => EDGECACHE_ABANDONED,
            9 => EDGECACHE_TIMEOUT,
            10 => EDGECACHE_DUPLICATE_GROUP,
            11 => EDGECACHE_CLOSED,
            12 => EDGECACHE_RESOURCE_EXPIRED,
            13 => EDGECACHE_TOO_LARGE_RESOURCE_VERSION,
            14 => EDGECACHE_WRONG_STATE,
            15 => EDGECACHE_CANCELLED,
            16 => EDGECACHE_INVALID_SELECTOR,
            17 => EDGECACHE_RECURSIVE_LOAD,
            18 => EDGECACHE_NO_VALUE,
            19 => EDGECACHE_PENDING,
            _ => return None,
        })
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Sets this thread's last error detail, and forgets the thread's last
/// watch error (`edgecache_watch_last_error`): every failure that records a
/// message goes through here, so the typed detail never outlives the
/// failure it describes. The watch error path sets its detail afterwards
/// (`watch::watch_fail`).
pub(crate) fn set_last_error(msg: impl Into<String>) {
    let msg = msg.into();
    LAST_ERROR.with(|e| *e.borrow_mut() = msg);
    crate::watch_error::clear_last_watch_error();
}

/// Sets the last error detail and returns `status`: the common tail of a
/// failing call.
pub(crate) fn fail(status: edgecache_status, detail: impl Into<String>) -> edgecache_status {
    set_last_error(detail);
    status
}

/// Copies `msg` plus a NUL into `buf` of `cap` bytes; writes the message
/// length (without NUL) to `out_len` when it is not NULL.
///
/// # Safety
/// `buf` is NULL or valid for `cap` bytes of writes; `out_len` is NULL or
/// valid for one write.
pub(crate) unsafe fn copy_message(msg: &str, buf: *mut c_char, cap: usize, out_len: *mut usize) -> edgecache_status {
    if !out_len.is_null() {
        // SAFETY: the caller promises `out_len` is NULL or writable.
        unsafe { *out_len = msg.len() };
    }
    if buf.is_null() {
        return if cap == 0 {
            edgecache_status::EDGECACHE_BUFFER_TOO_SMALL
        } else {
            edgecache_status::EDGECACHE_NULL_ARGUMENT
        };
    }
    if cap < msg.len() + 1 {
        return edgecache_status::EDGECACHE_BUFFER_TOO_SMALL;
    }
    // SAFETY: `buf` is valid for `cap >= msg.len() + 1` bytes (caller's
    // promise, checked size); the regions cannot overlap (msg is ours).
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), msg.len());
        *buf.add(msg.len()) = 0;
    }
    edgecache_status::EDGECACHE_OK
}

/// Writes the description of `status` as a NUL-terminated string into `buf`.
///
/// `status` is taken as a plain integer so that any value a C caller holds
/// is accepted; an unknown value gives `EDGECACHE_INVALID_ARGUMENT`.
/// `out_len` (may be NULL) receives the message length without the NUL,
/// also when the buffer is too small (`EDGECACHE_BUFFER_TOO_SMALL`; nothing
/// is written to `buf` then, and the thread's last error is left as it
/// was). A NULL `buf` with `cap` 0 asks for the length.
///
/// Thread-safe; the messages are static.
///
/// # Safety
/// `buf` is NULL or valid for `cap` bytes; `out_len` is NULL or valid for
/// one `size_t` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_status_message(
    status: u32,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> edgecache_status {
    ffi_boundary! {
        let Some(s) = edgecache_status::from_raw(status) else {
            return fail(edgecache_status::EDGECACHE_INVALID_ARGUMENT, format!("{status} is not an edgecache_status"));
        };
        // SAFETY: forwarded caller promises.
        unsafe { copy_message(s.message(), buf, cap, out_len) }
    }
}

/// Writes this thread's last error detail (a NUL-terminated string) into
/// `buf`: the message behind the most recent failing call on this thread
/// that had more to say than its status (a getter's message, a panic
/// message, which argument was invalid). Empty when there is none.
///
/// Buffer rules as `edgecache_status_message`. Each thread has its own.
///
/// # Safety
/// As `edgecache_status_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_last_error_message(
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> edgecache_status {
    ffi_boundary! {
        LAST_ERROR.with(|e| {
            let msg = e.borrow();
            // SAFETY: forwarded caller promises.
            unsafe { copy_message(&msg, buf, cap, out_len) }
        })
    }
}
