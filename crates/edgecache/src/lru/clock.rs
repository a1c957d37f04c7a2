//! The store's time base.

use std::time::{Duration, Instant};

/// Nanoseconds since the first call in this process (monotonic), the time
/// base of entry expiry and of the shard locks' quiet periods.
#[inline(never)]
pub(crate) fn clock_nanos() -> u64 {
    static BASE: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
    u64::try_from(BASE.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The expiry of an entry stored now with time to live `ttl`, in
/// [`clock_nanos`] time; 0 (never) for `None`.
#[inline]
pub(super) fn expiry(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |t| {
        let nanos = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
        // At least 1: 0 means "never".
        clock_nanos().saturating_add(nanos).max(1)
    })
}
