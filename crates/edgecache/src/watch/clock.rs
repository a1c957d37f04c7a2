//! The injectable clock behind window sizing, and the deadlines of blocking
//! waits.
//!
//! Window sizing compares the ages of buffered events with the freshness
//! window (75 s by default). It reads the time from a [`Clock`], so tests can
//! drive it with a [`ManualClock`] instead of sleeping. Waits with a timeout
//! ([`WatchCache::wait_until_fresh`](super::WatchCache::wait_until_fresh),
//! [`Watcher::next_timeout`](super::Watcher::next_timeout)) use the real
//! monotonic clock, as a condition variable does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source: the time since an arbitrary fixed origin.
///
/// Closures `Fn() -> Duration + Send + Sync` are clocks too. The cache calls
/// [`now`](Clock::now) once per write, with its lock held: it must be cheap,
/// must not block and must not call back into the cache. A clock that goes
/// backwards is tolerated (ages saturate at zero) but makes sizing
/// decisions meaningless.
pub trait Clock: Send + Sync {
    /// The current time, as a duration since the clock's origin.
    fn now(&self) -> Duration;
}

impl<F> Clock for F
where
    F: Fn() -> Duration + Send + Sync,
{
    fn now(&self) -> Duration {
        self()
    }
}

/// The default clock: [`Instant`], measured from the clock's creation.
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock { origin: Instant::now() }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to; for tests. Thread-safe.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use edgecache::watch::{ManualClock, WatchCache};
///
/// let clock = Arc::new(ManualClock::new());
/// let cache = WatchCache::builder().clock(clock.clone()).build().unwrap();
/// clock.advance(Duration::from_secs(80)); // no sleeping
/// # drop(cache);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    /// Nanoseconds since the origin.
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the clock forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // A lost race between two advances cannot happen: fetch_update
        // retries until its read-modify-write lands.
        let _ = self.nanos.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(by)));
    }

    /// Sets the clock to `to` since its origin.
    pub fn set(&self, to: Duration) {
        let to = u64::try_from(to.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(to, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}
