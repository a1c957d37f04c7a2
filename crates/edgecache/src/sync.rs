//! The synchronisation primitives the model-checked parts of the crate use.
//!
//! Everything that `loom` must be able to see (the flight hand-off and the
//! watch cache's wait/notify) takes its `Mutex`, `Condvar`, `Arc` and atomics
//! from here instead of `std`. A normal build re-exports `std`; a build with
//! `RUSTFLAGS="--cfg loom"` re-exports loom's mocks, so `tests/loom_*.rs` can
//! explore every interleaving. The byte-bounded cache's shards are checked
//! by property and stress tests; their lock (`biased.rs`) carries its own
//! loom switch and model tests, since it needs loom's `UnsafeCell` too.

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(loom)]
#[allow(unused_imports, reason = "not every module uses every atomic")]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
#[allow(unused_imports, reason = "not every module uses every atomic")]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use std::time::Duration;

/// Locks `m`, ignoring poisoning.
///
/// No code of ours panics while holding one of these locks (user code such as
/// a loader never runs under them), so a poisoned lock can only come from a
/// bug elsewhere; the protected state is still consistent then.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Blocks on `cv` until notified.
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    match cv.wait(g) {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Blocks on `cv` until notified or `dur` passes (loom never times out).
pub(crate) fn wait_timeout<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>, dur: Duration) -> MutexGuard<'a, T> {
    match cv.wait_timeout(g, dur) {
        Ok((g, _)) => g,
        Err(poisoned) => poisoned.into_inner().0,
    }
}
