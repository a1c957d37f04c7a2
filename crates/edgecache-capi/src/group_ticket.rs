//! `edgecache_group_ticket`: a group get that does not block a thread.
//!
//! `edgecache_group_begin` answers a hit at once; on a miss it hands out a
//! ticket. A leader ticket loads (`edgecache_group_ticket_load`, or the
//! caller runs its own getter and publishes with
//! `edgecache_group_ticket_complete` / `_fail`); a waiter ticket registers a
//! hook (`edgecache_group_ticket_on_ready`) and reads the result with
//! `edgecache_group_ticket_result` once the hook has run. A result of
//! `EDGECACHE_ABANDONED` means the leader left for its own reasons (freed
//! its ticket unfinished): call `edgecache_group_rejoin`, and maybe lead.

use std::ffi::c_void;
use std::sync::Arc;

use edgecache::{Group, GroupLeader, GroupTicket, GroupWaiter, Value};

use crate::boundary::ffi_boundary;
use crate::bytes::{edgecache_bytes, slice};
use crate::error::{CError, edgecache_error};
use crate::group::{CallData, c_getter, deliver, edgecache_group};
use crate::handle::{check_out, into_raw, opaque, take, tri, try_ref, write_out};
use crate::ready::{ReadyHook, edgecache_ready_fn};
use crate::status::{edgecache_status, fail};
use crate::wait;

/// A ticket's role and state.
pub(crate) enum GroupTicketState {
    Leader(GroupLeader),
    Waiter(GroupWaiter),
    /// A leader that published, or a waiter that read its result.
    Done,
}

/// One caller's part in a group load that missed the cache: the leader
/// (must load, complete or fail it; freeing it unfinished abandons the
/// load and its waiters rejoin) or a waiter. Owned by the caller that began
/// it; release with `edgecache_group_ticket_free`. Not thread-safe: use it
/// from one thread at a time (it may move between threads).
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_group_ticket {
    _private: [u8; 0],
}

opaque!(edgecache_group_ticket => GroupTicketState);

/// Writes a hit or a ticket.
///
/// # Safety
/// `out` and `out_ticket` are writable.
unsafe fn hand_out(
    t: GroupTicket,
    out: *mut edgecache_bytes,
    out_ticket: *mut *mut edgecache_group_ticket,
) -> edgecache_status {
    let state = match t {
        GroupTicket::Hit(v) => {
            // SAFETY: the caller's promise.
            unsafe {
                write_out(out, edgecache_bytes::from_value(v));
                write_out(out_ticket, std::ptr::null_mut());
            }
            return edgecache_status::EDGECACHE_OK;
        }
        GroupTicket::Leader(l) => GroupTicketState::Leader(l),
        GroupTicket::Waiter(w) => GroupTicketState::Waiter(w),
    };
    // SAFETY: the caller's promise.
    unsafe { write_out(out_ticket, into_raw::<edgecache_group_ticket>(state)) };
    edgecache_status::EDGECACHE_PENDING
}

/// The shared body of begin and rejoin.
///
/// # Safety
/// As `edgecache_group_begin`.
unsafe fn start(
    group: *const edgecache_group,
    key: *const u8,
    key_len: usize,
    out: *mut edgecache_bytes,
    out_ticket: *mut *mut edgecache_group_ticket,
    how: fn(&Group, &[u8]) -> Result<GroupTicket, edgecache::Error>,
) -> edgecache_status {
    // SAFETY: the caller's promises, checked for NULL by the helpers.
    let (g, key) = match unsafe { try_ref(group).and_then(|g| Ok((g, slice(key, key_len, "key")?))) } {
        Ok(x) => x,
        Err(s) => return s,
    };
    if let Err(s) = check_out(out, "out").and_then(|()| check_out(out_ticket, "out_ticket")) {
        return s;
    }
    match how(g, key) {
        // SAFETY: both checked; writable by promise.
        Ok(t) => unsafe { hand_out(t, out, out_ticket) },
        Err(e) => {
            let (status, info) = crate::error::ErrorInfo::from_core(&e);
            fail(status, info.message)
        }
    }
}

/// Starts a get of `key` without blocking. A hit: `EDGECACHE_OK`, the value
/// in `*out` (free it with `edgecache_bytes_free`) and NULL in
/// `*out_ticket`. A miss: `EDGECACHE_PENDING` and a ticket in `*out_ticket`
/// (`edgecache_group_ticket_is_leader` tells its role). Counted as
/// `edgecache_group_get` counts. `EDGECACHE_CLOSED` after close.
///
/// # Safety
/// `group` is a live handle; `key` is `(NULL, 0)` or valid for `key_len`
/// bytes; `out` and `out_ticket` are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_begin(
    group: *const edgecache_group,
    key: *const u8,
    key_len: usize,
    out: *mut edgecache_bytes,
    out_ticket: *mut *mut edgecache_group_ticket,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: forwarded promises.
        unsafe { start(group, key, key_len, out, out_ticket, Group::begin) }
    }
}

/// As `edgecache_group_begin`, for a waiter whose result was
/// `EDGECACHE_ABANDONED`: takes the key again without counting another get.
///
/// # Safety
/// As `edgecache_group_begin`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_rejoin(
    group: *const edgecache_group,
    key: *const u8,
    key_len: usize,
    out: *mut edgecache_bytes,
    out_ticket: *mut *mut edgecache_group_ticket,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: forwarded promises.
        unsafe { start(group, key, key_len, out, out_ticket, Group::rejoin) }
    }
}

/// # Safety
/// `t` is NULL or a live ticket used by this thread only.
unsafe fn ticket<'a>(t: *mut edgecache_group_ticket) -> Result<&'a mut GroupTicketState, edgecache_status> {
    if t.is_null() {
        return Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, "edgecache_group_ticket pointer is NULL"));
    }
    // SAFETY: non-NULL; live and unshared by the caller's promise.
    Ok(unsafe { &mut *t.cast::<GroupTicketState>() })
}

/// Takes the leader out of `t`, or fails with `EDGECACHE_WRONG_STATE`.
fn take_leader(t: &mut GroupTicketState) -> Result<GroupLeader, edgecache_status> {
    match std::mem::replace(t, GroupTicketState::Done) {
        GroupTicketState::Leader(l) => Ok(l),
        other => {
            *t = other;
            Err(fail(edgecache_status::EDGECACHE_WRONG_STATE, "only a leader ticket that has not finished can do this"))
        }
    }
}

/// True when `t` is a leader that has not finished (false for NULL).
///
/// # Safety
/// `t` is NULL or a live ticket.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_ticket_is_leader(t: *const edgecache_group_ticket) -> bool {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        matches!(unsafe { try_ref(t) }, Ok(GroupTicketState::Leader(_)))
    }
}

/// Leader: loads the key on this thread the group's own way (the owning
/// peer, then the group's getter, which sees `call_data` through
/// `edgecache_sink_call_data`), publishes the result to every waiter, and
/// writes it as `edgecache_group_get` does. The ticket is finished
/// afterwards (free it). `EDGECACHE_WRONG_STATE` for a waiter or a finished
/// ticket.
///
/// # Safety
/// `t` is a live ticket; `out` is writable; `out_err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_ticket_load(
    t: *mut edgecache_group_ticket,
    call_data: *mut c_void,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let t = unsafe { tri!(ticket(t)) };
        tri!(check_out(out, "out"));
        let leader = tri!(take_leader(t));
        let _call = CallData::enter(call_data);
        let r = leader.load();
        // SAFETY: `out` checked; `out_err` NULL or writable by promise.
        unsafe { deliver(r, out, out_err) }
    }
}

/// Leader: publishes a value the caller loaded itself (copied): it goes to
/// the main cache and to every waiter, counted as a local load. The ticket
/// is finished afterwards.
///
/// # Safety
/// `t` is a live ticket; `data` is `(NULL, 0)` or valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_ticket_complete(
    t: *mut edgecache_group_ticket,
    data: *const u8,
    len: usize,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL.
        let (t, data) = unsafe { (tri!(ticket(t)), tri!(slice(data, len, "data"))) };
        let leader = tri!(take_leader(t));
        let _ = leader.complete(Ok(Value::from(data)));
        edgecache_status::EDGECACHE_OK
    }
}

/// Leader: publishes a failure of the caller's own getter: every waiter gets
/// `EDGECACHE_GETTER_FAILED` with this `code` and message, exactly as from
/// `edgecache_sink_set_error` (the group's `release_error` hook gets the
/// code when a group made by `edgecache_group_new` holds it no more). With
/// `no_value` true the failure is `EDGECACHE_NO_VALUE` instead (the getter
/// set nothing; `code` and the message are ignored). The ticket is finished
/// afterwards.
///
/// # Safety
/// `t` is a live ticket; `msg` is `(NULL, 0)` or valid for `msg_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_ticket_fail(
    t: *mut edgecache_group_ticket,
    no_value: bool,
    code: u64,
    msg: *const u8,
    msg_len: usize,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL.
        let (t, msg) = unsafe { (tri!(ticket(t)), tri!(slice(msg, msg_len, "msg"))) };
        let leader = tri!(take_leader(t));
        let err = if no_value {
            edgecache::Error::NoValue
        } else {
            let hooks = c_getter(leader.group()).map(|c| Arc::clone(&c.hooks));
            let message = String::from_utf8_lossy(msg).into_owned();
            edgecache::Error::Getter(Arc::new(CError { code, message, hooks }))
        };
        let _ = leader.complete(Err(err));
        edgecache_status::EDGECACHE_OK
    }
}

/// Waiter: registers `ready(user_data)` to run once the load ends (see
/// `edgecache_ready_fn` for when and where). On a finished ticket it runs at
/// once. `EDGECACHE_WRONG_STATE` for a leader (it is the one that ends the
/// load).
///
/// # Safety
/// `t` is a live ticket; `ready` is callable with `user_data` from any
/// thread until it has run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_ticket_on_ready(
    t: *mut edgecache_group_ticket,
    ready: edgecache_ready_fn,
    user_data: *mut c_void,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let t = unsafe { tri!(ticket(t)) };
        let hook = tri!(ReadyHook::new(ready, user_data));
        match t {
            GroupTicketState::Waiter(w) => w.on_ready(hook.into_fn()),
            GroupTicketState::Done => (hook.into_fn())(),
            GroupTicketState::Leader(_) => {
                return fail(edgecache_status::EDGECACHE_WRONG_STATE, "a leader ticket has no ready hook: it ends the load");
            }
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Waiter: the result if the load has ended, as `edgecache_group_get`
/// writes it (the ticket is finished afterwards); `EDGECACHE_PENDING` while
/// it runs. `EDGECACHE_ABANDONED`: the leader left, call
/// `edgecache_group_rejoin`. `EDGECACHE_WRONG_STATE` for a leader or a
/// finished ticket.
///
/// # Safety
/// `t` is a live ticket; `out` is writable; `out_err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_ticket_result(
    t: *mut edgecache_group_ticket,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let t = unsafe { tri!(ticket(t)) };
        tri!(check_out(out, "out"));
        // SAFETY: `out` checked; `out_err` NULL or writable by promise.
        unsafe { waiter_result(t, out, out_err, |w| w.try_result()) }
    }
}

/// Waiter: blocks up to `timeout_ms` (`EDGECACHE_WAIT_FOREVER`: no limit)
/// for the result, then as `edgecache_group_ticket_result`;
/// `EDGECACHE_TIMEOUT` (with an error as for `edgecache_group_get`) when
/// time ran out (the ticket stays usable).
///
/// # Safety
/// As `edgecache_group_ticket_result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_ticket_wait(
    t: *mut edgecache_group_ticket,
    timeout_ms: u64,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let t = unsafe { tri!(ticket(t)) };
        tri!(check_out(out, "out"));
        let wait = |w: &GroupWaiter| {
            let step = |d| w.waiter().wait_for(d);
            match wait::wait(wait::deadline(timeout_ms), wait::SLICE, step, || Ok::<(), std::convert::Infallible>(())) {
                wait::Waited::Got(r) => Some(r.map_err(edgecache::Error::from)),
                _ => Some(Err(edgecache::Error::Timeout)),
            }
        };
        // SAFETY: `out` checked; `out_err` NULL or writable by promise.
        unsafe { waiter_result(t, out, out_err, wait) }
    }
}

/// Reads a waiter's result with `get` and finishes the ticket (not on a
/// timeout).
///
/// # Safety
/// `out` is writable; `out_err` is NULL or writable.
unsafe fn waiter_result(
    t: &mut GroupTicketState,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
    get: impl FnOnce(&GroupWaiter) -> Option<Result<Value, edgecache::Error>>,
) -> edgecache_status {
    let GroupTicketState::Waiter(w) = &*t else {
        return fail(
            edgecache_status::EDGECACHE_WRONG_STATE,
            "only a waiter ticket that has not finished has a result",
        );
    };
    let Some(r) = get(w) else { return edgecache_status::EDGECACHE_PENDING };
    if !matches!(r, Err(edgecache::Error::Timeout)) {
        *t = GroupTicketState::Done;
    }
    // SAFETY: the caller's promise.
    unsafe { deliver(r, out, out_err) }
}

/// Releases a ticket. A leader that has not finished abandons its load: its
/// waiters get `EDGECACHE_ABANDONED` and rejoin. A waiter's registered hook
/// still runs when the load ends. NULL is a no-op.
///
/// # Safety
/// `t` is NULL or a live ticket no other thread is using; not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_ticket_free(t: *mut edgecache_group_ticket) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(t) });
    }
}
