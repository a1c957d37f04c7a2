//! The byte-bounded LRU store behind [`Cache`](crate::Cache) and
//! [`Group`](crate::Group).
//!
//! A [`Store`] holds one or more *segments* (a `Cache` has one; a `Group`
//! has two, main and hot) under one byte budget. Each segment is split into
//! shards; a shard is a hash table of node indices plus an intrusive
//! doubly-linked recency list, all behind one reader-writer lock
//! ([`BiasedRwLock`]).
//!
//! - A hit locks one shard, clones the value's `Arc` (or, for
//!   [`Store::get_with`], lends the bytes to a closure under the lock) and,
//!   unless the entry was already used since the last insert, moves it to
//!   the front of that shard's list. With several shards the lookup runs
//!   under the read lock and only the move takes the write lock, so hits on
//!   popular entries run in parallel. Hits on different shards do not
//!   contend (a writer revoking a shard's reader bias reads every thread's
//!   reader slot of the store, once per quiet period).
//! - While a shard has not been written for a while, its read lock is
//!   reader-biased: a reader announces itself in its own cache line of the
//!   store's [`Readers`] table instead of changing the lock word, so hits
//!   from several cores on one popular shard do not pass the lock's cache
//!   line between them (see `biased.rs`). A write closes that path for a
//!   quiet period and waits for the announced readers.
//! - Lookups are counted per thread slot ([`Counters`]): a plain load and
//!   store on a line no other thread writes, not a locked read-modify-write
//!   on the shard's lock line.
//! - Structural changes that need room (inserts) are serialised by the
//!   store's `write` mutex, so the budget check and the evictions it causes
//!   are atomic with respect to each other: the resident bytes never exceed
//!   the budget, at any instant.
//! - The victim of an eviction is the tail of the shard whose tail is oldest,
//!   judged by a stamp taken from the store's insert counter (`epoch`). With
//!   one shard this is exact LRU; with several, entries last used between
//!   the same two inserts count as equally recent (a hit on an entry whose
//!   stamp is current does not relink it), and all other order is exact.
//!
//! Lock order: `write` before any shard; a thread holds two shard locks only
//! while it holds `write`, so no two threads ever wait on each other's shard.
//!
//! The parts, from the bottom up: `clock.rs` (the time base of expiry),
//! `slab.rs` (one shard's entries and the recency order the eviction policy
//! keeps), `segment.rs` (a segment's shards and counters) and `store.rs`
//! (segments under the budget, and the lookup and insert paths).
//!
//! [`BiasedRwLock`]: crate::biased::BiasedRwLock
//! [`Readers`]: crate::biased::Readers
//! [`Counters`]: crate::counter::Counters

use std::sync::Arc;

mod clock;
mod segment;
mod slab;
mod store;

#[cfg_attr(loom, allow(unused_imports, reason = "the loom build of biased.rs has no clock"))]
pub(crate) use clock::clock_nanos;
pub use segment::CacheStats;
pub(crate) use store::{Rule, Store, default_shards};

/// A cached value: immutable shared bytes. Cloning is an atomic increment.
pub type Value = Arc<[u8]>;
