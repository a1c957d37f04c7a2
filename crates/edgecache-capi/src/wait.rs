//! Waiting in the C ABI: how a `timeout_ms` argument becomes a deadline,
//! and the one loop every blocking call of this crate waits in.
//!
//! `EDGECACHE_WAIT_FOREVER` (and any time past what the clock can hold)
//! means no deadline. A wait sleeps in slices of at most [`SLICE`] (or the
//! caller's poll interval), so no platform ever sees an enormous timeout.

use std::time::{Duration, Instant};

use crate::group::EDGECACHE_WAIT_FOREVER;

/// The longest single sleep of a wait.
pub(crate) const SLICE: Duration = Duration::from_secs(3600);

/// `timeout_ms` as a duration: `Duration::MAX` for `EDGECACHE_WAIT_FOREVER`
/// (the core reads a duration too large for the clock as "no deadline").
pub(crate) fn duration(timeout_ms: u64) -> Duration {
    if timeout_ms == EDGECACHE_WAIT_FOREVER { Duration::MAX } else { Duration::from_millis(timeout_ms) }
}

/// The moment a wait of `timeout_ms` gives up; `None`: never.
pub(crate) fn deadline(timeout_ms: u64) -> Option<Instant> {
    Instant::now().checked_add(duration(timeout_ms))
}

/// How a [`wait`] ended.
pub(crate) enum Waited<R, X> {
    /// `try_wait` produced this.
    Got(R),
    /// The deadline passed first.
    TimedOut,
    /// `between` asked to stop.
    Stopped(X),
}

/// Calls `try_wait(step)` with steps of at most `slice` until it gives a
/// result or `deadline` passes; after each empty step, `between` may stop
/// the wait. A deadline already past still tries once (a zero timeout is a
/// poll).
pub(crate) fn wait<R, X>(
    deadline: Option<Instant>,
    slice: Duration,
    mut try_wait: impl FnMut(Duration) -> Option<R>,
    mut between: impl FnMut() -> Result<(), X>,
) -> Waited<R, X> {
    loop {
        let step = deadline.map_or(slice, |d| d.saturating_duration_since(Instant::now()).min(slice));
        if let Some(r) = try_wait(step) {
            return Waited::Got(r);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Waited::TimedOut;
        }
        if let Err(x) = between() {
            return Waited::Stopped(x);
        }
    }
}
