//! `edgecache_flight` and `edgecache_ticket`: singleflight for callers that
//! cannot be called back.
//!
//! ```c
//! edgecache_ticket *t; bool leader;
//! edgecache_flight_begin(f, key, len, &t, &leader);
//! if (leader) { /* load */ edgecache_ticket_complete(t, val, n, NULL); }
//! else        { edgecache_ticket_wait(t, EDGECACHE_WAIT_FOREVER, &out, &err); }
//! edgecache_ticket_free(t);
//! ```

use std::ffi::c_void;
use std::sync::Arc;

use edgecache::Value;
use edgecache::flight::{Flight, FlightError, Leader, Ticket, Waiter};

use crate::boundary::ffi_boundary;
use crate::bytes::{edgecache_bytes, slice};
use crate::error::{CError, Hooks, edgecache_error, edgecache_release_code_fn, edgecache_release_fn};
use crate::handle::{check_out, into_raw, opaque, take, tri, try_ref, write_out};
use crate::status::{edgecache_status, fail};
use crate::wait;

type CFlight = Flight<Box<[u8]>, Value, Arc<CError>>;

/// A flight and the creator's hooks for the codes passed to
/// `edgecache_ticket_fail`.
pub(crate) struct FlightState {
    flight: CFlight,
    hooks: Option<Arc<Hooks>>,
}

/// Singleflight over byte keys with byte values. Made by
/// `edgecache_flight_new`, released by `edgecache_flight_free`;
/// thread-safe.
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_flight {
    _private: [u8; 0],
}

opaque!(edgecache_flight => FlightState);

/// A ticket's role.
pub(crate) enum TicketState {
    /// The leader, with the flight's hooks for a failure code.
    Leader(Leader<Box<[u8]>, Value, Arc<CError>>, Option<Arc<Hooks>>),
    Waiter(Waiter<Value, Arc<CError>>),
    /// A leader that completed, or a waiter that received its result.
    Done,
}

/// One caller's part in a flight: the leader (must complete or fail the
/// load) or a waiter. Owned by the caller that began it; release with
/// `edgecache_ticket_free`. A ticket is not thread-safe: use it from one
/// thread at a time (it may move between threads).
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_ticket {
    _private: [u8; 0],
}

opaque!(edgecache_ticket => TicketState);

/// Creates a flight and writes it to `*out`.
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_flight_new(out: *mut *mut edgecache_flight) -> edgecache_status {
    ffi_boundary! {
        tri!(check_out(out, "out"));
        // SAFETY: checked; writable by promise.
        unsafe { write_out(out, into_raw::<edgecache_flight>(FlightState { flight: CFlight::new(), hooks: None })) };
        edgecache_status::EDGECACHE_OK
    }
}

/// Creates a flight whose failure codes are released through a hook and
/// writes it to `*out`.
///
/// - `release_error` (required): called with `user_data` and a code given
///   to `edgecache_ticket_fail` once nobody holds that failure any more
///   (every waiter's `edgecache_error` freed), on whichever thread lets go
///   last. A binding can pass a handle to its own error object as the code
///   and free it here.
/// - `release` (may be NULL): called once with `user_data` when the flight
///   and every failure it published are gone, after the last
///   `release_error`.
///
/// # Safety
/// `out` is writable; both functions are callable with `user_data` from any
/// thread until `release` runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_flight_new_with_hooks(
    user_data: *mut c_void,
    release: edgecache_release_fn,
    release_error: edgecache_release_code_fn,
    out: *mut *mut edgecache_flight,
) -> edgecache_status {
    ffi_boundary! {
        tri!(check_out(out, "out"));
        if release_error.is_none() {
            return fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, "release_error is NULL");
        }
        let hooks = Arc::new(Hooks { user_data, release_data: release, release_code: release_error, armed: true.into() });
        let state = FlightState { flight: CFlight::new(), hooks: Some(hooks) };
        // SAFETY: checked; writable by promise.
        unsafe { write_out(out, into_raw::<edgecache_flight>(state)) };
        edgecache_status::EDGECACHE_OK
    }
}

/// Releases a flight. Tickets already begun stay valid. NULL is a no-op.
///
/// # Safety
/// `flight` is NULL or live, not used or freed again (must not be called
/// twice).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_flight_free(flight: *mut edgecache_flight) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(flight) });
    }
}

/// Joins the load in flight for `key`, or starts one. Writes the ticket to
/// `*out_ticket` and whether this caller leads to `*out_leader`.
///
/// # Safety
/// `flight` is live; `key` is `(NULL, 0)` or valid for `key_len` bytes;
/// both out-parameters are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_flight_begin(
    flight: *const edgecache_flight,
    key: *const u8,
    key_len: usize,
    out_ticket: *mut *mut edgecache_ticket,
    out_leader: *mut bool,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (f, key) = unsafe { (tri!(try_ref(flight)), tri!(slice(key, key_len, "key"))) };
        tri!(check_out(out_ticket, "out_ticket"));
        tri!(check_out(out_leader, "out_leader"));
        let (state, leader) = match f.flight.begin(key.into()) {
            Ticket::Leader(l) => (TicketState::Leader(l, f.hooks.clone()), true),
            Ticket::Waiter(w) => (TicketState::Waiter(w), false),
        };
        // SAFETY: both checked; writable by promise.
        unsafe {
            write_out(out_ticket, into_raw::<edgecache_ticket>(state));
            write_out(out_leader, leader);
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Detaches `key` from its load in flight; later callers start a new one.
/// `*out_forgot` (may be NULL) tells whether a load was in flight.
///
/// # Safety
/// `flight` is live; `key` as in `edgecache_flight_begin`; `out_forgot` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_flight_forget(
    flight: *const edgecache_flight,
    key: *const u8,
    key_len: usize,
    out_forgot: *mut bool,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (f, key) = unsafe { (tri!(try_ref(flight)), tri!(slice(key, key_len, "key"))) };
        let forgot = f.flight.forget(&Box::from(key));
        if !out_forgot.is_null() {
            // SAFETY: non-NULL; writable by promise.
            unsafe { write_out(out_forgot, forgot) };
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Borrows a ticket mutably.
///
/// # Safety
/// `t` is NULL or a live ticket used by this thread only.
unsafe fn ticket<'a>(t: *mut edgecache_ticket) -> Result<&'a mut TicketState, edgecache_status> {
    if t.is_null() {
        return Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, "edgecache_ticket pointer is NULL"));
    }
    // SAFETY: non-NULL and, by the callers' promise, a live ticket made by
    // `into_raw::<edgecache_ticket>` that no other thread uses now.
    Ok(unsafe { &mut *t.cast::<TicketState>() })
}

/// Publishes a leader's outcome and marks the ticket done. A failure is
/// given the flight's hooks.
fn finish(t: &mut TicketState, r: Result<Value, (u64, String)>, out_shared: *mut bool) -> edgecache_status {
    match std::mem::replace(t, TicketState::Done) {
        TicketState::Leader(l, hooks) => {
            let r = r.map_err(|(code, message)| Arc::new(CError { code, message, hooks }));
            let shared = match l.complete(r) {
                Ok((_, shared)) => shared,
                Err(_) => false,
            };
            if !out_shared.is_null() {
                // SAFETY: non-NULL; writable by the caller's promise.
                unsafe { write_out(out_shared, shared) };
            }
            edgecache_status::EDGECACHE_OK
        }
        other => {
            *t = other;
            fail(edgecache_status::EDGECACHE_WRONG_STATE, "only a leader ticket that has not finished can complete")
        }
    }
}

/// Leader only: publishes the value (copied) to every waiter and frees the
/// key. `*out_shared` (may be NULL) tells whether anyone waited. On any
/// other ticket: `EDGECACHE_WRONG_STATE`, nothing changes.
///
/// # Safety
/// `ticket` is a live ticket; `value` is `(NULL, 0)` or valid for
/// `value_len` bytes; `out_shared` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_ticket_complete(
    ticket_ptr: *mut edgecache_ticket,
    value: *const u8,
    value_len: usize,
    out_shared: *mut bool,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (t, value) = unsafe { (tri!(ticket(ticket_ptr)), tri!(slice(value, value_len, "value"))) };
        finish(t, Ok(Value::from(value)), out_shared)
    }
}

/// Leader only: publishes a failure (`code` and a message, `(NULL, 0)` for
/// none) to every waiter, who get `EDGECACHE_GETTER_FAILED` and an
/// `edgecache_error` with them. Nothing is cached; the key is free again.
///
/// # Safety
/// As `edgecache_ticket_complete`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_ticket_fail(
    ticket_ptr: *mut edgecache_ticket,
    code: u64,
    msg: *const u8,
    msg_len: usize,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (t, msg) = unsafe { (tri!(ticket(ticket_ptr)), tri!(slice(msg, msg_len, "msg"))) };
        finish(t, Err((code, String::from_utf8_lossy(msg).into_owned())), std::ptr::null_mut())
    }
}

/// Waiter only: waits up to `timeout_ms` (`EDGECACHE_WAIT_FOREVER` for no
/// limit, 0 to poll) for the leader's outcome.
///
/// - The value: writes it to `*out` (caller frees with
///   `edgecache_bytes_free`), returns `EDGECACHE_OK`; the ticket is done.
/// - A failure: `EDGECACHE_GETTER_FAILED` (the leader's code and message),
///   `EDGECACHE_ABANDONED` (the leader freed its ticket uncompleted) or
///   `EDGECACHE_LOADER_PANICKED`; the ticket is done.
/// - `EDGECACHE_TIMEOUT`: nothing yet; the ticket can wait again.
/// - `EDGECACHE_WRONG_STATE`: a leader ticket, or one already done.
///
/// For each failure and for the timeout, `*out_err` receives an
/// `edgecache_error` when `out_err` is not NULL (as in
/// `edgecache_group_get`); other statuses leave it untouched.
///
/// # Safety
/// `ticket` is a live ticket; `out` is writable; `out_err` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_ticket_wait(
    ticket_ptr: *mut edgecache_ticket,
    timeout_ms: u64,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let t = unsafe { tri!(ticket(ticket_ptr)) };
        tri!(check_out(out, "out"));
        let TicketState::Waiter(w) = &*t else {
            return fail(edgecache_status::EDGECACHE_WRONG_STATE, "only a waiter ticket that has not finished can wait");
        };
        let outcome = match wait::wait(wait::deadline(timeout_ms), wait::SLICE, |step| w.wait_for(step), || {
            Ok::<(), std::convert::Infallible>(())
        }) {
            wait::Waited::Got(o) => Some(o),
            _ => None,
        };
        let Some(outcome) = outcome else {
            // The ticket stays a waiter; report the timeout like any other
            // failed wait.
            // SAFETY: `out` checked; `out_err` NULL or writable by promise.
            return unsafe { crate::group::deliver(Err(edgecache::Error::Timeout), out, out_err) };
        };
        *t = TicketState::Done;
        // SAFETY: `out` checked; `out_err` NULL or writable by promise.
        unsafe { crate::group::deliver(as_group_result(outcome), out, out_err) }
    }
}

/// A flight outcome in the group's error terms (for `deliver`).
fn as_group_result(outcome: Result<Value, FlightError<Arc<CError>>>) -> Result<Value, edgecache::Error> {
    outcome.map_err(|e| match e {
        FlightError::Failed(c) => edgecache::Error::Getter(c),
        FlightError::LoaderPanicked(m) => edgecache::Error::LoaderPanicked(m),
        FlightError::Timeout => edgecache::Error::Timeout,
        FlightError::RecursiveLoad => edgecache::Error::RecursiveLoad,
        _ => edgecache::Error::Abandoned,
    })
}

/// Waiter: registers `ready(user_data)` to run once the leader completes,
/// fails or is freed (see `edgecache_ready_fn` for when and where); then
/// `edgecache_ticket_result` has the result. On a finished ticket it runs at
/// once. `EDGECACHE_WRONG_STATE` for a leader.
///
/// # Safety
/// `ticket_ptr` is a live ticket; `ready` is callable with `user_data` from
/// any thread until it has run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_ticket_on_ready(
    ticket_ptr: *mut edgecache_ticket,
    ready: crate::ready::edgecache_ready_fn,
    user_data: *mut c_void,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let t = unsafe { tri!(ticket(ticket_ptr)) };
        let hook = tri!(crate::ready::ReadyHook::new(ready, user_data));
        match t {
            TicketState::Waiter(w) => w.on_ready(hook.into_fn()),
            TicketState::Done => (hook.into_fn())(),
            TicketState::Leader(..) => {
                return fail(edgecache_status::EDGECACHE_WRONG_STATE, "a leader ticket has no ready hook: it ends the load");
            }
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Waiter: the result without blocking, as `edgecache_ticket_wait` writes
/// it (the ticket is finished afterwards), or `EDGECACHE_PENDING` while the
/// load runs. `EDGECACHE_WRONG_STATE` for a leader or a finished ticket.
///
/// # Safety
/// `ticket_ptr` is a live ticket; `out` is writable; `out_err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_ticket_result(
    ticket_ptr: *mut edgecache_ticket,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let t = unsafe { tri!(ticket(ticket_ptr)) };
        tri!(check_out(out, "out"));
        let TicketState::Waiter(w) = &*t else {
            return fail(edgecache_status::EDGECACHE_WRONG_STATE, "only a waiter ticket that has not finished has a result");
        };
        let Some(outcome) = w.try_result() else { return edgecache_status::EDGECACHE_PENDING };
        *t = TicketState::Done;
        // SAFETY: `out` checked; `out_err` NULL or writable by promise.
        unsafe { crate::group::deliver(as_group_result(outcome), out, out_err) }
    }
}

/// Releases a ticket. A leader that has not completed is abandoned: its
/// waiters get `EDGECACHE_ABANDONED` and the key is free. NULL is a no-op.
///
/// # Safety
/// `ticket` is NULL or live, not used or freed again (must not be called
/// twice).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_ticket_free(ticket_ptr: *mut edgecache_ticket) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(ticket_ptr) });
    }
}
