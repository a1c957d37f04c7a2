//! A segment: one recency-ordered map, split into shards behind their own
//! locks, with its byte, item and lookup counters.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use super::slab::Shard;
use crate::biased::{BiasedRwLock, Readers};
use crate::counter::Counters;

/// Index of the hit counter in [`Segment::lookups`].
pub(super) const HITS: usize = 0;
/// Index of the miss counter in [`Segment::lookups`].
pub(super) const MISSES: usize = 1;

/// A shard and the lock-free copy of its tail stamp.
pub(super) struct Slot {
    /// `shard.tail_stamp()` as of the last change to the tail, for choosing
    /// a victim shard without locking every shard. Written under `shard`'s
    /// lock; read without it (a stale read only makes the choice less exact).
    pub(super) tail_stamp: AtomicU64,
    pub(super) shard: BiasedRwLock<Shard>,
}

impl Slot {
    pub(super) fn sync_tail(&self, s: &Shard) {
        self.tail_stamp.store(s.tail_stamp(), Ordering::Relaxed);
    }
}

/// Counters of one segment, as groupcache's `CacheStats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Sum of `len(key) + len(value)` over the entries held.
    pub bytes: u64,
    /// Entries held.
    pub items: u64,
    /// Lookups.
    pub gets: u64,
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Entries removed to make room, or because their TTL ran out (found
    /// expired by a lookup or an insert). Explicit removals do not count.
    pub evictions: u64,
}

/// One segment: a sharded recency-ordered map.
pub(super) struct Segment {
    pub(super) slots: Box<[CachePadded<Slot>]>,
    /// `slots.len() - 1`; `slots.len()` is a power of two.
    mask: usize,
    /// Lookups that hit ([`HITS`]) and missed ([`MISSES`]), counted per
    /// thread. A lookup is counted once, whatever it finds, so
    /// `gets = hits + misses` holds exactly once the lookups have returned.
    pub(super) lookups: Counters<2>,
    /// Sum of the costs of the nodes held. Incremented only under the
    /// store's `write` lock, after the node is linked; decremented after a
    /// node is unlinked. So it never undercounts what is resident. Padded
    /// away from `slots`/`mask`, which every hit reads.
    pub(super) bytes: CachePadded<AtomicU64>,
    pub(super) items: AtomicU64,
    evictions: AtomicU64,
}

impl Segment {
    /// `shards` shards whose locks use `readers`; with one shard every hit
    /// writes, so its lock starts without the reader bias.
    pub(super) fn new(shards: usize, readers: &Readers) -> Self {
        let slots = (0..shards)
            .map(|_| {
                let shard = BiasedRwLock::new(Shard::new(), readers, shards > 1);
                CachePadded::new(Slot { tail_stamp: AtomicU64::new(u64::MAX), shard })
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Segment {
            slots,
            mask: shards - 1,
            lookups: Counters::default(),
            bytes: CachePadded::new(AtomicU64::new(0)),
            items: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(super) fn slot_of(&self, hash: u64) -> usize {
        // hashbrown indexes buckets with the low bits and tags with the top
        // seven; pick shards with bits from the middle.
        (hash >> 32) as usize & self.mask
    }

    pub(super) fn account_removed(&self, cost: u64, evicted: bool) {
        self.bytes.fetch_sub(cost, Ordering::Relaxed);
        self.items.fetch_sub(1, Ordering::Relaxed);
        if evicted {
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The slot whose tail is oldest, if any slot holds anything.
    pub(super) fn oldest_slot(&self) -> Option<usize> {
        let mut best = None;
        let mut best_stamp = u64::MAX;
        for (i, slot) in self.slots.iter().enumerate() {
            let s = slot.tail_stamp.load(Ordering::Relaxed);
            if s < best_stamp {
                best_stamp = s;
                best = Some(i);
            }
        }
        best
    }

    pub(super) fn stats(&self) -> CacheStats {
        let misses = self.lookups.get(MISSES);
        let hits = self.lookups.get(HITS);
        CacheStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            gets: hits + misses,
            hits,
        }
    }
}
