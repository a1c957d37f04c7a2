//! The store: segments under one byte budget, the insert lock that keeps
//! the budget, and the choice of the segment that gives up an entry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use super::Value;
use super::clock::expiry;
use super::segment::{CacheStats, HITS, MISSES, Segment, Slot};
use super::slab::{NIL, Node};
use crate::biased::Readers;
use crate::counter::my_slot;

/// What a removal hands back to the caller's accounting.
struct Removed {
    cost: u64,
}

/// Which segment gives up an entry when the store is over budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// One segment: always segment 0.
    Single,
    /// groupcache: segment 1 (hot) while `hot > main / 8`, else segment 0
    /// (main).
    MainHot,
}

/// Segments under one byte budget. See the [module docs](super).
pub(crate) struct Store {
    segs: Box<[Segment]>,
    hasher: foldhash::fast::RandomState,
    /// The budget in bytes; 0 keeps nothing.
    budget: u64,
    rule: Rule,
    /// More than one shard per segment: hits may skip relinking an entry
    /// whose stamp is already current (see `get`).
    relaxed: bool,
    /// Serialises inserts, so a budget check and its evictions are atomic.
    /// On its own cache line: inserts write it, hits never touch it.
    write: CachePadded<Mutex<()>>,
    /// Bumped by every insert; the stamp of nodes inserted or hit after it.
    /// On its own cache line: every hit reads it, only inserts write it.
    epoch: CachePadded<AtomicU64>,
    /// The reader slots of every shard's lock (see `biased.rs`).
    readers: Readers,
}

/// Above this many bytes of budget per shard, a store gets another shard
/// (up to [`max_shards`]). Small caches get one shard and so exact LRU.
const BYTES_PER_SHARD: u64 = 4096;

/// At most four shards per core, as quick_cache does, so the benchmarks in
/// `benches/cache.rs` compare equal shard counts. (Eight per core made the
/// two-thread hit 10-15 % faster on a 2-core machine; a caller who wants
/// that passes the count to `Cache::with_shards`.) Eviction order does not
/// depend on the count: it is exact across shards except between entries
/// last used between the same two inserts.
fn max_shards() -> usize {
    let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
    (cpus * 4).next_power_of_two().min(64)
}

/// The default shard count for a budget: a power of two, at least 1, at
/// most `4 × cores` (capped at 64), and about one per 4 KiB of budget.
pub(crate) fn default_shards(budget: u64) -> usize {
    let by_size = (budget / BYTES_PER_SHARD).max(1);
    let n = usize::try_from(by_size).unwrap_or(usize::MAX).min(max_shards());
    // Round down to a power of two.
    1 << (usize::BITS - 1 - n.leading_zeros())
}

impl Store {
    /// A store of `segments` segments under `budget` bytes (`<= 0`: keep
    /// nothing), each with `shards` shards (rounded up to a power of two,
    /// clamped to 1..=1024).
    pub(crate) fn new(budget: i64, segments: usize, shards: usize, rule: Rule) -> Self {
        let shards = shards.clamp(1, 1024).next_power_of_two();
        let readers = Readers::default();
        Store {
            segs: (0..segments).map(|_| Segment::new(shards, &readers)).collect(),
            hasher: foldhash::fast::RandomState::default(),
            budget: u64::try_from(budget).unwrap_or(0),
            rule,
            relaxed: shards > 1,
            write: CachePadded::new(Mutex::new(())),
            epoch: CachePadded::new(AtomicU64::new(0)),
            readers,
        }
    }

    pub(crate) fn budget(&self) -> u64 {
        self.budget
    }

    pub(crate) fn shards(&self) -> usize {
        self.segs[0].slots.len()
    }

    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    /// Looks `key` up in segment `seg`; a hit becomes most recently used
    /// and hands out a clone of the value's `Arc`.
    #[inline]
    pub(crate) fn get(&self, seg: usize, hash: u64, key: &[u8]) -> Option<Value> {
        self.lookup(seg, hash, key, Arc::clone)
    }

    /// Looks `key` up in segment `seg` like [`get`](Self::get), but lends
    /// the value's bytes to `f` while the shard is locked instead of
    /// cloning the `Arc`, and returns what `f` returns.
    ///
    /// `f` runs under the shard's lock (the read lock with several shards,
    /// the write lock with one): it must not call into this store, or it
    /// may deadlock. A panic in `f` unwinds through here and releases the
    /// lock; the hit is counted and the store stays consistent.
    #[inline]
    pub(crate) fn get_with<R>(&self, seg: usize, hash: u64, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.lookup(seg, hash, key, |v: &Value| f(v))
    }

    /// The lookup behind `get` and `get_with`: finds the entry, counts the
    /// lookup, runs `take` on the value under the shard lock, and makes the
    /// entry most recently used.
    ///
    /// With several shards a hit takes the shard's read lock, and the write
    /// lock only when the entry must move: an entry already used since the
    /// last insert keeps its place (moving it would only reorder entries of
    /// the same stamp, which cross-shard eviction cannot tell apart anyway).
    /// With one shard (exact LRU) every hit moves its entry under the write
    /// lock.
    #[inline(always)]
    fn lookup<R>(&self, seg: usize, hash: u64, key: &[u8], take: impl FnOnce(&Value) -> R) -> Option<R> {
        let segment = &self.segs[seg];
        let slot = &segment.slots[segment.slot_of(hash)];
        if self.relaxed {
            // One thread-local read serves the lock's reader slot and the
            // counters.
            let me = my_slot();
            // SAFETY: `me` is this thread's own slot.
            let s = unsafe { slot.shard.read_in(&self.readers, me) };
            let Some(i) = s.find(hash, key) else {
                drop(s);
                segment.lookups.incr_in(me, MISSES);
                return None;
            };
            let node = s.node(i);
            if node.expired() {
                drop(s);
                self.drop_expired(segment, slot, hash, key);
                return None;
            }
            segment.lookups.incr_in(me, HITS);
            let current = node.stamp == self.epoch.load(Ordering::Relaxed);
            let out = take(&node.value);
            drop(s);
            if !current {
                self.relink(slot, hash, key);
            }
            return Some(out);
        }
        let mut s = slot.shard.write(&self.readers);
        let Some(i) = s.find(hash, key) else {
            drop(s);
            segment.lookups.incr(MISSES);
            return None;
        };
        if s.node(i).expired() {
            drop(s);
            self.drop_expired(segment, slot, hash, key);
            return None;
        }
        segment.lookups.incr(HITS);
        if s.touch(i, self.epoch.load(Ordering::Relaxed)) {
            slot.sync_tail(&s);
        }
        Some(take(&s.node(i).value))
    }

    /// Moves `key`'s entry, if still there, to the front of its shard's list
    /// with the current stamp (the second half of a hit on a stale entry).
    #[inline(never)]
    fn relink(&self, slot: &Slot, hash: u64, key: &[u8]) {
        let mut w = slot.shard.write(&self.readers);
        // The entry may have been replaced or removed meanwhile; then there
        // is nothing of ours to move.
        if let Some(i) = w.find(hash, key)
            && w.touch(i, self.epoch.load(Ordering::Relaxed))
        {
            slot.sync_tail(&w);
        }
    }

    /// The miss path of a lookup that found an expired entry: counts the
    /// miss, and removes the entry if it is (still) expired, counting an
    /// eviction.
    #[cold]
    #[inline(never)]
    fn drop_expired(&self, segment: &Segment, slot: &Slot, hash: u64, key: &[u8]) {
        segment.lookups.incr(MISSES);
        let mut w = slot.shard.write(&self.readers);
        if let Some(i) = w.find(hash, key)
            && w.node(i).expired()
        {
            let n = w.remove_at(i);
            slot.sync_tail(&w);
            drop(w);
            segment.account_removed(n.cost(), true);
        }
    }

    /// True when segment `seg` holds a live entry for `key`. Does not count
    /// as a lookup and does not change recency.
    pub(crate) fn contains(&self, seg: usize, hash: u64, key: &[u8]) -> bool {
        let segment = &self.segs[seg];
        let s = segment.slots[segment.slot_of(hash)].shard.read(&self.readers);
        match s.find(hash, key) {
            Some(i) => !s.node(i).expired(),
            None => false,
        }
    }

    /// Stores `key → value` in segment `seg`, replacing any entry for `key`
    /// there, evicting as the rule says until it fits. Returns false (and
    /// keeps nothing, dropping any old entry for `key`) when the entry alone
    /// is larger than the budget.
    ///
    /// `admit` runs once, under the write lock and the key's shard lock; if
    /// it returns false nothing is stored and any old entry for `key` is
    /// dropped (used by `Group` to drop a load that a concurrent `remove`
    /// made stale).
    pub(crate) fn insert(
        &self,
        seg: usize,
        key: &[u8],
        value: Value,
        ttl: Option<Duration>,
        admit: impl FnOnce() -> bool,
    ) -> bool {
        let cost = (key.len() + value.len()) as u64;
        let hash = self.hash(key);
        let expires = expiry(ttl);
        let segment = &self.segs[seg];
        let home = segment.slot_of(hash);
        let slot = &segment.slots[home];
        // A replace that does not grow needs no room: swap the value in place
        // under the shard lock alone, without the insert lock or a new epoch
        // (the entry counts as used now, like a hit).
        if self.budget > 0 {
            let mut g = slot.shard.write(&self.readers);
            if let Some(i) = g.find(hash, key) {
                let old_cost = g.node(i).cost();
                if cost <= old_cost {
                    // Under the shard lock, so a `remove` of this key (which
                    // takes the same lock) is wholly before or after it.
                    if !admit() {
                        let old = g.remove_at(i);
                        slot.sync_tail(&g);
                        drop(g);
                        segment.account_removed(old.cost(), false);
                        return false;
                    }
                    let n = g.node_mut(i);
                    n.value = value;
                    n.expires = expires;
                    if g.touch(i, self.epoch.load(Ordering::Relaxed)) {
                        slot.sync_tail(&g);
                    }
                    drop(g);
                    segment.bytes.fetch_sub(old_cost - cost, Ordering::Relaxed);
                    return true;
                }
            }
        }
        let _w = self.write.lock();
        let mut g = slot.shard.write(&self.readers);
        // Under the shard lock, as above.
        let admitted = admit();
        if let Some(i) = g.find(hash, key) {
            let old = g.remove_at(i);
            segment.account_removed(old.cost(), false);
        }
        if self.budget == 0 || cost > self.budget || !admitted {
            slot.sync_tail(&g);
            return false;
        }
        // Make room. Each pass removes one node or finds nothing to remove,
        // so the loop ends within (entries held + 1) passes.
        while self.total_bytes() + cost > self.budget {
            let Some(victim_seg) = self.victim_segment() else { break };
            let vs = &self.segs[victim_seg];
            let Some(vi) = vs.oldest_slot() else { break };
            let removed = if victim_seg == seg && vi == home {
                let n = g.pop_tail();
                slot.sync_tail(&g);
                n.map(|n| Removed { cost: n.cost() })
            } else {
                // Holding `g` too is safe: only holders of `write` take a
                // second shard lock.
                let vslot = &vs.slots[vi];
                let mut vg = vslot.shard.write(&self.readers);
                let n = vg.pop_tail();
                vslot.sync_tail(&vg);
                n.map(|n| Removed { cost: n.cost() })
            };
            match removed {
                Some(r) => vs.account_removed(r.cost, true),
                // The slot emptied since we read its stamp; look again.
                None => continue,
            }
        }
        let stamp = self.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        g.insert(Node { key: key.into(), value, hash, prev: NIL, next: NIL, stamp, expires });
        slot.sync_tail(&g);
        drop(g);
        segment.bytes.fetch_add(cost, Ordering::Relaxed);
        segment.items.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes `key` from segment `seg`; true when an entry was there.
    pub(crate) fn remove(&self, seg: usize, hash: u64, key: &[u8]) -> bool {
        let segment = &self.segs[seg];
        let slot = &segment.slots[segment.slot_of(hash)];
        let mut g = slot.shard.write(&self.readers);
        let Some(i) = g.find(hash, key) else { return false };
        let n = g.remove_at(i);
        slot.sync_tail(&g);
        drop(g);
        segment.account_removed(n.cost(), false);
        true
    }

    /// Drops every entry of every segment. Counters other than bytes and
    /// items are kept.
    pub(crate) fn clear(&self) {
        let _w = self.write.lock();
        for segment in self.segs.iter() {
            for slot in segment.slots.iter() {
                let mut g = slot.shard.write(&self.readers);
                let (mut bytes, mut items) = (0, 0);
                let mut i = g.head;
                while i != NIL {
                    let n = g.node(i);
                    bytes += n.cost();
                    items += 1;
                    i = n.next;
                }
                g.clear();
                slot.sync_tail(&g);
                drop(g);
                segment.bytes.fetch_sub(bytes, Ordering::Relaxed);
                segment.items.fetch_sub(items, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn total_bytes(&self) -> u64 {
        self.segs.iter().map(|s| s.bytes.load(Ordering::Relaxed)).sum()
    }

    pub(crate) fn stats(&self, seg: usize) -> CacheStats {
        self.segs[seg].stats()
    }

    /// The segment the rule names, or another non-empty one if that one is
    /// empty; `None` when all are empty.
    fn victim_segment(&self) -> Option<usize> {
        let bytes = |i: usize| self.segs[i].bytes.load(Ordering::Relaxed);
        let first = match self.rule {
            Rule::Single => 0,
            Rule::MainHot => usize::from(bytes(1) > bytes(0) / 8),
        };
        if bytes(first) > 0 {
            return Some(first);
        }
        (0..self.segs.len()).find(|&i| bytes(i) > 0)
    }

    /// Walks every shard and checks the structure: list and table agree,
    /// stamps are ordered, counters match what is held, and the budget holds.
    /// For tests; panics with a description on the first violation.
    pub(crate) fn check_invariants(&self) {
        // Test-only walker: a panic with a message is the report.
        let _w = self.write.lock();
        let mut total = 0;
        for (si, segment) in self.segs.iter().enumerate() {
            let (mut bytes, mut items) = (0u64, 0u64);
            for (k, slot) in segment.slots.iter().enumerate() {
                let g = slot.shard.read(&self.readers);
                let mut i = g.head;
                let mut prev = NIL;
                let mut last_stamp = u64::MAX;
                let mut n_list = 0usize;
                while i != NIL {
                    let n = g.node(i);
                    assert_eq!(n.prev, prev, "segment {si} shard {k}: broken back link");
                    assert!(n.stamp <= last_stamp, "segment {si} shard {k}: stamps out of order");
                    assert_eq!(g.find(n.hash, &n.key), Some(i), "segment {si} shard {k}: node not in table");
                    assert_eq!(segment.slot_of(n.hash), k, "segment {si}: node in the wrong shard");
                    last_stamp = n.stamp;
                    bytes += n.cost();
                    items += 1;
                    n_list += 1;
                    prev = i;
                    i = n.next;
                }
                assert_eq!(g.tail, prev, "segment {si} shard {k}: tail is not the last node");
                assert_eq!(g.table.len(), n_list, "segment {si} shard {k}: table and list sizes differ");
                assert_eq!(
                    slot.tail_stamp.load(Ordering::Relaxed),
                    g.tail_stamp(),
                    "segment {si} shard {k}: stale tail stamp"
                );
            }
            assert_eq!(segment.bytes.load(Ordering::Relaxed), bytes, "segment {si}: byte counter");
            assert_eq!(segment.items.load(Ordering::Relaxed), items, "segment {si}: item counter");
            total += bytes;
        }
        assert!(total <= self.budget, "resident {total} bytes exceed the budget {}", self.budget);
    }
}
