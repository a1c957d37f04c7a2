//! [`Cache`]: a thread-safe, byte-bounded LRU map from byte keys to byte
//! values, with optional per-entry TTL.

use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::lru::{CacheStats, Rule, Store, Value, default_shards};

/// A byte-bounded LRU cache, safe to share between threads.
///
/// Entry cost is `key.len() + value.len()`; the summed cost of what is held
/// never exceeds `max_bytes`, at any instant. When an insert needs room the
/// least recently used entries go first (see the [crate docs](crate#eviction)
/// for how exact that is across shards).
///
/// # Thread safety
/// All methods take `&self`; share a `Cache` behind an `Arc`. Lookups lock
/// one shard each; inserts are serialised with each other.
///
/// # Ownership
/// The cache owns its copy of each key; values are reference-counted
/// ([`Value`]), so a value handed out stays valid after it is evicted.
pub struct Cache {
    store: Store,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.stats();
        f.debug_struct("Cache")
            .field("max_bytes", &self.store.budget())
            .field("bytes", &st.bytes)
            .field("items", &st.items)
            .finish()
    }
}

impl Cache {
    /// A cache holding at most `max_bytes` of keys and values. `max_bytes ==
    /// 0` makes a cache that keeps nothing (every `get` misses).
    ///
    /// The shard count is chosen from the budget (one shard, and so exact
    /// LRU, below 8 KiB); [`with_shards`](Self::with_shards) sets it.
    ///
    /// # Panics
    /// On a negative `max_bytes` (the contract's invalid argument);
    /// [`try_new`](Self::try_new) returns it as an error instead.
    pub fn new(max_bytes: i64) -> Self {
        match Self::try_new(max_bytes) {
            Ok(c) => c,
            Err(e) => panic!("Cache::new: {e}"),
        }
    }

    /// [`new`](Self::new), with a negative budget as an error.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative `max_bytes`.
    pub fn try_new(max_bytes: i64) -> Result<Self, Error> {
        let budget = check_budget(max_bytes)?;
        Ok(Self::with_shards(max_bytes, default_shards(budget)))
    }

    /// Like [`new`](Self::new) with an explicit shard count (rounded up to a
    /// power of two, clamped to 1..=1024). One shard gives exact LRU order;
    /// more shards let hits on different keys run in parallel.
    ///
    /// # Panics
    /// As [`new`](Self::new).
    pub fn with_shards(max_bytes: i64, shards: usize) -> Self {
        if let Err(e) = check_budget(max_bytes) {
            panic!("Cache::with_shards: {e}");
        }
        Cache { store: Store::new(max_bytes, 1, shards, Rule::Single) }
    }

    /// The budget in bytes (0 when caching is disabled).
    pub fn max_bytes(&self) -> u64 {
        self.store.budget()
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.store.shards()
    }

    /// The value for `key`, if held and not expired; a hit makes the entry
    /// most recently used. Every call counts as one lookup in
    /// [`stats`](Self::stats) (`gets`, and `hits` when found).
    ///
    /// Thread-safe; a hit takes one shard's read lock (its write lock with
    /// one shard) and clones the value's `Arc`. Never fails: a miss is
    /// `None`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<Value> {
        self.store.get(0, self.store.hash(key), key)
    }

    /// Like [`get`](Self::get), but lends the value's bytes to `f` instead
    /// of handing out a clone of its `Arc`, and returns what `f` returns:
    /// `Some(f(value))` on a hit, `None` (without calling `f`) on a miss.
    /// Counting and recency are as for `get`.
    ///
    /// This saves the `Arc`'s two atomic reference-count updates when the
    /// caller only copies or inspects the value (a binding copying it into
    /// its own string type, say).
    ///
    /// # Thread safety and deadlocks
    /// `f` runs while the key's shard is locked (its read lock with several
    /// shards, its write lock with one), so writers to that shard wait for
    /// it: keep it short, and do not call any method of this cache from
    /// inside `f` (that may deadlock, the waiting writer sleeping in short
    /// steps rather than blocking). Reading another cache from `f` is fine;
    /// writing to another cache is fine unless that cache's own `get_with`
    /// closures may write to this one (two such closures can deadlock each
    /// other, as with any two locks taken in opposite orders).
    ///
    /// # Panics
    /// A panic in `f` propagates to the caller after releasing the lock;
    /// the lookup still counts as a hit and the cache stays consistent.
    ///
    /// ```
    /// let c = edgecache::Cache::new(1 << 10);
    /// c.set(b"k", b"value".to_vec(), None);
    /// assert_eq!(c.get_with(b"k", |v| v.len()), Some(5));
    /// assert_eq!(c.get_with(b"nope", |v| v.len()), None);
    /// ```
    #[inline]
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.store.get_with(0, self.store.hash(key), key, f)
    }

    /// Stores `key → value`, replacing any entry for `key` (its bytes are
    /// released first: a replace never counts both). `ttl` of `None` never
    /// expires.
    ///
    /// Returns false when nothing was kept: the entry alone is larger than
    /// the budget (any older entry for `key` is removed then, so a stale
    /// value is never served). That is not an error.
    ///
    /// # Panics
    /// On a zero `ttl` (the contract's invalid argument: `None` is how "no
    /// expiry" is spelled); nothing is stored or removed then.
    pub fn set(&self, key: &[u8], value: impl Into<Value>, ttl: Option<Duration>) -> bool {
        assert!(!ttl.is_some_and(|t| t.is_zero()), "Cache::set: a zero TTL; None means no expiry");
        self.store.insert(0, key, value.into(), ttl, || true)
    }

    /// Removes `key`; true when it was held.
    pub fn remove(&self, key: &[u8]) -> bool {
        self.store.remove(0, self.store.hash(key), key)
    }

    /// True when a live entry for `key` is held. Not counted as a lookup,
    /// and does not change recency.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.store.contains(0, self.store.hash(key), key)
    }

    /// The number of entries held (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        usize::try_from(self.stats().items).unwrap_or(usize::MAX)
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry. Counters other than `bytes` and `items` are kept.
    pub fn clear(&self) {
        self.store.clear();
    }

    /// The counters: bytes, items, gets, hits, evictions.
    pub fn stats(&self) -> CacheStats {
        self.store.stats(0)
    }

    /// Walks the whole structure and panics if an invariant is broken
    /// (list/table agreement, counters, the byte budget). For tests and
    /// fuzzing; it takes every lock in turn.
    #[doc(hidden)]
    pub fn check_invariants(&self) {
        self.store.check_invariants();
    }
}

/// The budget as bytes, or the contract's error for a negative one.
pub(crate) fn check_budget(max_bytes: i64) -> Result<u64, Error> {
    u64::try_from(max_bytes)
        .map_err(|_| Error::InvalidArgument(format!("the byte budget is negative ({max_bytes}); 0 disables caching")))
}
