//! A statistics counter that many threads can bump without sharing a cache
//! line.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

const STRIPES: usize = 16;

/// A monotonically increasing counter split into cache-padded stripes; each
/// thread bumps the stripe picked by its thread index. Reads sum the
/// stripes, so a read racing with bumps may miss the newest ones.
pub(crate) struct Counter {
    stripes: [CachePadded<AtomicU64>; STRIPES],
}

impl Default for Counter {
    fn default() -> Self {
        Counter { stripes: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))) }
    }
}

fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    MINE.with(|c| {
        let v = c.get();
        if v != usize::MAX {
            return v;
        }
        let v = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
        c.set(v);
        v
    })
}

impl Counter {
    pub(crate) fn incr(&self) {
        self.stripes[stripe()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.stripes.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}
