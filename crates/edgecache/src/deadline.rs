//! Deadlines: how every blocking wait of the crate turns a timeout into the
//! moment it gives up. One rule everywhere: a timeout too large to represent
//! (`Duration::MAX`, a binding's "forever") means no deadline, never a panic
//! or an overflow.

use std::time::{Duration, Instant};

/// When a blocking wait gives up.
///
/// Under `cfg(loom)` time does not pass in the model, so any non-zero
/// timeout is treated as "wait until notified"; a zero timeout still means
/// "do not wait". Loom tests therefore always notify the waiter eventually.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    /// `None`: never.
    at: Option<Instant>,
}

impl Deadline {
    /// A deadline `timeout` from now; a timeout too large to represent means
    /// never.
    #[cfg(not(loom))]
    pub(crate) fn after(timeout: Duration) -> Self {
        Deadline { at: Instant::now().checked_add(timeout) }
    }

    /// Under loom, non-zero timeouts never expire (see the type's docs).
    #[cfg(loom)]
    pub(crate) fn after(timeout: Duration) -> Self {
        if timeout.is_zero() { Deadline { at: Some(Instant::now()) } } else { Deadline::never() }
    }

    /// No deadline.
    pub(crate) fn never() -> Self {
        Deadline { at: None }
    }

    /// `None` to wait without limit, `Some(ZERO)` once expired, else the
    /// time left.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.at.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The instant, if any (for waits that take an `Instant`).
    pub(crate) fn instant(&self) -> Option<Instant> {
        self.at
    }
}
