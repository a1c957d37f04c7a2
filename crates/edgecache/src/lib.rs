//! edgecache: the caching core for edge agents.
//!
//! An edge agent (a proxy between a node's components and a faraway
//! kube-apiserver) must answer from cache, must not stampede the upstream
//! when many clients ask for the same thing at once, and must let a
//! reconnecting watcher resume from its resourceVersion. This crate holds the
//! three parts that do that, with no FFI; the C, Python and Go bindings wrap
//! it.
//!
//! - [`Flight`]: singleflight. Concurrent requests for one key run one load
//!   and share its result.
//! - [`Cache`] and [`Group`]: a byte-bounded LRU, and groupcache's group (a
//!   main and a hot cache under one budget, behind a loader, with peers and
//!   statistics).
//! - [`watch::WatchCache`]: a sliding window of watch events keyed by
//!   resourceVersion, with the current state and watchers.
//!
//! ```
//! use std::sync::Arc;
//! use edgecache::{Group, Value};
//!
//! let g = Group::new("doc-example", 1 << 20, |key: &[u8]| {
//!     Ok(Value::from(key.to_ascii_uppercase()))
//! })
//! .unwrap();
//! assert_eq!(&*g.get(b"pods").unwrap(), b"PODS");
//! assert_eq!(g.stats().local_loads, 1);
//! assert_eq!(&*g.get(b"pods").unwrap(), b"PODS"); // a hit
//! assert_eq!(g.stats().cache_hits, 1);
//! # g.close();
//! ```
//!
//! # Eviction
//! Each cache is byte-bounded. When an insert needs room, the least recently
//! used entry goes first. A [`Group`] holds a main cache (keys it owns) and
//! a hot cache (popular keys owned by peers) under one budget; while over
//! budget it evicts the oldest hot entry if the hot cache holds more than an
//! eighth of the main cache's bytes, else the oldest main entry (groupcache's
//! rule).
//!
//! Caches are split into shards so hits on different keys run in parallel.
//! Recency is measured in inserts: every entry carries the insert count at
//! its last use. With one shard the order is exact LRU. With several, the
//! victim is the tail of the shard whose tail was used longest ago, and
//! entries last used between the same two inserts count as equally recent
//! (a hit on such an entry does not move it); every other pair keeps its
//! exact order. Caches under 8 KiB have one shard; [`Cache::with_shards`]
//! and [`GroupOptions::shards`] choose.
//!
//! An entry with a TTL that has run out is never returned; it is dropped
//! when a lookup finds it, or evicted in LRU order like any other.
//!
//! # Memory accounting
//! An entry costs `key.len() + value.len()` bytes. For every cache and group,
//! at every instant:
//!
//! `Σ over main and hot (key.len() + value.len()) <= max(cache_bytes, 0)`
//!
//! Replacing a key releases the old entry's cost before counting the new
//! one. A value larger than the whole budget is returned to the caller and
//! not kept; that is not an error. The bookkeeping around each entry (list
//! links, hash, stamp, TTL, table slot, the key's and value's allocation
//! headers) adds about 100 bytes per entry that the budget does not count.
//! Each cache also has a fixed overhead the budget does not count: its shard
//! table, about 2 KiB of per-thread lookup counters (32 slots of one cache
//! line) and 4 KiB of reader slots for the shard locks (32 slots of 128
//! bytes, two lines on x86-64, whose prefetcher fetches lines in pairs); a
//! group's two caches share one table of reader slots, and with its nine
//! counters of 2 KiB each a group comes to about 26 KiB.
//!
//! # Thread safety
//! Every public type is `Send + Sync` and every method takes `&self`. A hit
//! locks one shard; inserts are serialised per cache or group, so a budget
//! check and the evictions it causes happen together. No lock is held while
//! a getter or loader runs. A shard's read lock is reader-biased while the
//! shard is not being written: concurrent hits then write only their own
//! thread's cache line, not a shared lock word, and a writer waits for
//! them. This holds for the first 32 threads alive at once; more threads
//! share an ordinary reader-writer lock, correct but with the cache-line
//! traffic.
//!
//! # Concurrent calls on the same key
//! [`Group::get`] and [`Flight::run`] run one load per key at a time: the
//! first caller loads, every caller that overlaps it waits for and shares the
//! result, whether a value, an error or a panic. Errors are not cached; the
//! next call loads again. Inside the load the group checks its cache once
//! more, so a caller that arrives just after a load finished does not load
//! again. [`Group::remove`] detaches a load in flight, so later callers load
//! afresh and the detached load does not store its (possibly stale) value.
//!
//! A caller that leads a load and leaves for its own reasons (a binding's
//! [`GroupLeader`] dropped unfinished: a cancelled context, a Go
//! `runtime.Goexit`, a Python `KeyboardInterrupt`) does not fail the others:
//! they take the key again and one of them loads. A getter that asks for
//! its own key on its own thread gets [`Error::RecursiveLoad`] at once
//! instead of waiting for itself.
//!
//! # Waiting without a thread
//! Every blocking wait has a non-blocking form with a completion
//! hook ([`hook`]): [`Group::begin`] hands out a hit, a [`GroupLeader`] or a
//! [`GroupWaiter`] (whose [`on_ready`](GroupWaiter::on_ready) runs when the
//! load ends); [`flight::Waiter::on_ready`],
//! [`watch::Watcher::on_ready`] and [`watch::WatchCache::on_fresh`] do the
//! same for a flight, a watcher and a freshness wait. The bindings park a
//! goroutine or an asyncio task on these instead of a thread. A hook runs
//! once, after every lock of the crate is dropped, on the thread that made
//! the result ready.
//!
//! # Errors
//! [`Error`] for groups, [`FlightError`] for flights, and
//! [`watch::WatchError`] for the watch cache. An argument that has no
//! meaning (a negative budget, a zero TTL: `None` is how "no expiry" is
//! spelled) is [`Error::InvalidArgument`] from the fallible constructors;
//! the infallible ones ([`Cache::new`], [`Cache::set`]) panic on it and say
//! so. The same contract holds in every binding: `tests/contract/cases.tsv`
//! lists it case by case and each language's suite runs it.
//!
//! # Panics
//! A panicking getter or loader does not unwind into the caller: it becomes
//! [`Error::LoaderPanicked`] (or [`FlightError::LoaderPanicked`]) for the
//! caller running it and for every waiter, nothing is cached, and the key is
//! free again. The library's own methods do not panic on any input other
//! than the invalid arguments named above; a shard holding 2^32 - 1 entries
//! is the one other documented exception. A hook that panics is caught.

mod biased;
pub mod consistenthash;
mod counter;
mod deadline;
mod error;
pub mod flight;
mod group;
pub mod hook;
mod lru;
pub(crate) mod sync;
pub mod watch;

mod cache;

pub use cache::Cache;
pub use error::{Error, GetterError};
pub use flight::{Flight, FlightError};
pub use group::{
    CacheType, Getter, Group, GroupLeader, GroupOptions, GroupTicket, GroupWaiter, NoValue, Peer, PeerPicker, Stats,
    get_group,
};
pub use lru::{CacheStats, Value};

/// The crate's version, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
