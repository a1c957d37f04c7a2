//! Completion hooks: how a waiter that cannot block a thread learns that its
//! result is ready.
//!
//! Each blocking wait of the crate has a hook form next to it:
//! [`Waiter::on_ready`](crate::flight::Waiter::on_ready) for a load in flight
//! (and [`GroupWaiter::on_ready`](crate::GroupWaiter::on_ready) for a group's),
//! [`Watcher::on_ready`](crate::watch::Watcher::on_ready) for a watcher with
//! something to read, and
//! [`WatchCache::on_fresh`](crate::watch::WatchCache::on_fresh) for a
//! freshness wait. A binding registers a hook, parks its own kind of waiter
//! (a goroutine on a channel, an asyncio future), and reads the result with
//! the matching non-blocking call once the hook has run.
//!
//! # The rules every hook follows
//! - It runs **once**: when the thing it waits for happens, or at once on
//!   the registering thread if it already has.
//! - It runs **after the crate's locks are dropped**, on the thread that made
//!   the result ready (a loader's, a writer's, a closer's). So it may call
//!   back into the crate (not into the waiter or watcher it was registered
//!   on, whose call or drop may be running it), and it may take the
//!   caller's own locks (a GIL), but it should be short: it delays that
//!   thread.
//! - It is never dropped unrun while the thing it waits for can still
//!   happen: a flight always completes (its leader's drop guard publishes),
//!   a watcher always closes (at the latest when it is dropped). Only an
//!   explicit cancel ([`WatchCache::cancel_fresh`](crate::watch::WatchCache::cancel_fresh),
//!   [`Watcher::cancel_ready`](crate::watch::Watcher::cancel_ready)) drops
//!   one unrun, and says so.
//! - A hook that panics is caught; the panic goes no further and the other
//!   hooks still run.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// A callback run once when a result is ready. See the [module docs](self).
pub type Hook = Box<dyn FnOnce() + Send + 'static>;

/// Runs `hooks` in order, each behind `catch_unwind`. Callers hold no lock
/// of the crate.
pub(crate) fn run_all(hooks: Vec<Hook>) {
    for h in hooks {
        run(h);
    }
}

/// Runs one hook behind `catch_unwind`: its panic ends here.
pub(crate) fn run(hook: Hook) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(hook)) {
        // Dropping the payload runs arbitrary code; keep a second panic here.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}
