//! [`WatchCache`]: a sliding window of watch events keyed by
//! resourceVersion, plus the current state, so a reconnecting client resumes
//! from its resourceVersion instead of listing everything again. The
//! semantics are those of the Kubernetes apiserver's `watchCache`.
//!
//! ```
//! use std::time::Duration;
//! use edgecache::watch::{EventType, Object, Selector, WatchCache, WatchOptions};
//!
//! let cache = WatchCache::builder()
//!     .capacity(100)
//!     .index("label:app")
//!     .build()
//!     .unwrap();
//! cache.replace(vec![Object::new("default/a", &b"a1"[..]).label("app", "web")], 10).unwrap();
//! cache.update(Object::new("default/a", &b"a2"[..]).label("app", "web"), 11).unwrap();
//!
//! // A client that saw rv 10 resumes without relisting.
//! let events = cache.events_since(10).unwrap();
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].event_type(), EventType::Modified);
//! assert_eq!(events[0].prev_object(), Some(&b"a1"[..]));
//!
//! // A list answered from the index.
//! let web = Selector::new().with("app", "web");
//! let (items, rv) = cache.list(11, &web, &Selector::everything()).unwrap();
//! assert_eq!((items.len(), rv), (1, 11));
//!
//! // A watcher: the backlog after rv 10, then live events.
//! let w = cache.watch(10, &web, &Selector::everything(), WatchOptions::new()).unwrap();
//! cache.delete(Object::new("default/a", &b""[..]), 12).unwrap();
//! assert_eq!(w.next().unwrap().resource_version(), 11);
//! assert_eq!(w.next().unwrap().event_type(), EventType::Deleted);
//! assert_eq!(w.next_timeout(Duration::from_millis(1)).unwrap(), None);
//! ```
//!
//! # Resource versions and expiry
//! Every write carries a resourceVersion greater than the cache's current
//! one (else [`WatchError::InvalidArgument`], nothing changed).
//! [`events_since(rv)`](WatchCache::events_since) and
//! [`watch(rv, ..)`](WatchCache::watch) deliver the events with a greater
//! resourceVersion; `rv = 0` means "the current state", given as ADDED
//! events at the cache's resourceVersion. A request is too old
//! ([`WatchError::ResourceExpired`], HTTP 410) when `rv < oldest - 1`,
//! where, as in Kubernetes:
//! - if no event has left the window since the last
//!   [`replace`](WatchCache::replace) (relist) at `list_rv`,
//!   `oldest = list_rv + 1`: everything after the relist is here;
//! - otherwise `oldest` is the oldest buffered event's resourceVersion
//!   (and, with nothing buffered, the cache's resourceVersion + 1).
//!
//! So `rv = oldest - 1` succeeds and `rv = oldest - 2` expires. After a
//! relist at `rv`, `events_since(rv)` is empty and anything older expires.
//! A resourceVersion the cache has not reached yet is not an error for
//! `events_since` (nothing after it is known, so the answer is empty); use
//! [`wait_until_fresh`](WatchCache::wait_until_fresh) first to wait for it,
//! as [`list`](WatchCache::list) and [`get`](WatchCache::get) do.
//!
//! # Window sizing
//! The window holds between `capacity` and `max_capacity` events and
//! resizes as Kubernetes' `resizeCacheLocked` does, only when full: it
//! doubles (capped) when even its oldest event is younger than the
//! freshness duration (75 s by default), and halves (not below `capacity`)
//! when the event a quarter of the capacity from the newest end is older
//! than that. It is also bounded by `max_bytes`, which Kubernetes lacks: the
//! oldest events leave while the counted bytes exceed it. Every event that
//! leaves, by any of these rules, expires the resourceVersions before it.
//! The time comes from a [`Clock`] (injectable, see [`ManualClock`]).
//!
//! # Watchers
//! A [`Watcher`] first yields the events after its resourceVersion from the
//! window (or the current state for 0), then live events, filtered by its
//! selectors: an event reaches it when the new object (unless deleted) or
//! the previous one matches; a change into the selection arrives as ADDED,
//! out of it as DELETED, as in Kubernetes' cacheWatcher. A watcher never
//! blocks a writer: it has a bounded buffer ([`WatchOptions::buffer`],
//! default [`DEFAULT_WATCH_BUFFER`]) and one that fills it is closed with
//! [`CloseReason::FellBehind`], never given a gap or a duplicate. A relist
//! closes every watcher ([`CloseReason::Relisted`]), as the Kubernetes
//! cacher terminates all watchers before relisting.
//!
//! # Bookmarks and streaming lists
//! A watcher that asked for bookmarks ([`WatchOptions::bookmarks`]) gets a
//! BOOKMARK at the cache's resourceVersion every bookmark interval
//! ([`WatchCacheBuilder::bookmark_interval`], default 60 s, jittered), and
//! one for every [`WatchCache::bookmark(rv)`](WatchCache::bookmark) (call it
//! when the upstream reports progress), whether or not any event matched
//! its selectors, so a quiet selective watcher can always resume without a
//! 410. Periodic bookmarks are made by the reader when it reads (no timer
//! thread, nothing added to a write): a watcher nobody reads accumulates
//! none. They never go back, never overtake an event they should follow,
//! never occupy the window and never count against its bytes; a full
//! buffer skips a bookmark rather than closing. A streaming list
//! ([`WatchOptions::send_initial_events`], Kubernetes' `sendInitialEvents`)
//! starts with the matching state as ADDED events and a BOOKMARK marked
//! [`Event::initial_events_end`], all at one resourceVersion.
//!
//! # Lists from snapshots
//! The current state is a persistent B-tree, so [`WatchCache::list_page`]
//! takes a snapshot in O(1), pages through it in key order with opaque
//! continue tokens (the apiserver's format), and serves every page of a
//! listing from its first page's snapshot. Older snapshots inside the
//! window are rebuilt by undoing the window's events, so `Exact` lists and
//! continue tokens work for any resourceVersion the window still covers and
//! expire with 410 once it leaves.
//!
//! # Selectors
//! [`Selector::parse`] and [`Selector::parse_fields`] take Kubernetes'
//! syntax (`in`, `notin`, `!=`, existence). A field selector on a field the
//! cache does not extract fails with [`WatchError::InvalidSelector`]; declare
//! the extracted fields with [`WatchCacheBuilder::fields`] (without a
//! declaration the cache learns them from the writes).
//!
//! # Thread safety
//! [`WatchCache`] and [`Watcher`] are `Send + Sync`; every method takes
//! `&self`. One mutex guards the window, the current state and the watcher
//! registry, so each write, together with its fan-out to watchers, is
//! atomic: a reader sees a write entirely or not at all, and a watcher
//! registered during a write gets it either in its backlog or live, exactly
//! once. Readers copy handles out (one reference count per event or item)
//! and release the lock; a watcher's reads take only the watcher's own lock.
//! Blocking waits use condition variables, never spinning; the primitives
//! come from `crate::sync`, so the wait/notify and hand-off paths are
//! model-checked with loom (`tests/loom_watch.rs`).
//!
//! # Memory accounting
//! Each buffered event counts `key.len() + object.len() + prev_object.len()`
//! bytes ([`Event::counted_bytes`]), and between calls
//!
//! `Σ counted bytes over the window <= max_bytes` and
//! `events in the window <= capacity <= max_capacity`.
//!
//! The uncounted bookkeeping is [`event_overhead_bytes()`] per event (the
//! ring slot, the item allocation and reference-count headers: 144 bytes
//! on 64-bit), plus label and field maps that changed with the event
//! (unchanged ones are shared with the previous version, empty ones are
//! free). The count is conservative: the previous object is shared with the
//! older event that introduced it. So the window's heap is at most about
//! `max_bytes + max_capacity × event_overhead_bytes()` plus changed maps.
//! The current state (one item per key) mirrors the upstream and is not
//! bounded by `max_bytes`. A watcher holds 32-byte handles to shared events:
//! at most `buffer` live ones plus its initial backlog.
//!
//! # Differences from Kubernetes
//! - The byte bound (`max_bytes`).
//! - Watchers' DELETED events for real deletions carry the object passed to
//!   [`delete`](WatchCache::delete) (Kubernetes sends the cached previous
//!   object); the previous object is available as
//!   [`Event::prev_object`].
//! - Writes whose resourceVersion does not increase are rejected.
//! - Periodic bookmarks are made when a watcher is read, not by a
//!   dispatcher tick; the end-of-initial-events bookmark is sent even to a
//!   watcher that did not ask for bookmarks; `send_initial_events = false`
//!   with resourceVersion 0 keeps the legacy meaning (the state as ADDED
//!   events); watch from [`WatchCache::resource_version`] for "now, no
//!   state".
//! - Errors after a watch started are not in-stream ERROR events: a watch
//!   that cannot start fails with the error, one that ends closes with a
//!   [`CloseReason`].
//! - No fallback to another store: a consistent list the cache cannot
//!   serve in time is a 504, never a read from elsewhere.
//!
//! # Panics
//! No method panics on any input. A panic inside a user-supplied [`Clock`]
//! propagates to the writer that called it; the cache stays consistent
//! (the clock is read before anything changes).

mod clock;
mod error;
mod event;
mod index;
mod ring;
mod selector;
mod token;
mod watcher;

pub use clock::{Clock, ManualClock, MonotonicClock};
pub use error::{CloseReason, WatchError};
pub use event::{Event, EventType, Item, Object, StrMap};
pub use ring::event_overhead_bytes;
pub use selector::{Operator, Requirement, Selector};
pub use watcher::{DEFAULT_WATCH_BUFFER, WatchOptions, Watcher};

use std::collections::{HashSet, VecDeque};
use std::sync::Arc as StdArc;
use std::time::Duration;

use self::index::Store;
use self::ring::Ring;
use self::selector::Filter;
use self::watcher::WatcherShared;
use crate::deadline::Deadline;
use crate::hook::{self, Hook};
use crate::sync::{self, Arc, AtomicU64, Condvar, Mutex, MutexGuard, Ordering};

/// The smallest window, in events, unless configured: 100.
pub const DEFAULT_CAPACITY: usize = 100;
/// The largest window, in events, unless configured: 102 400 (Kubernetes'
/// upper bound).
pub const DEFAULT_MAX_CAPACITY: usize = 102_400;
/// How young the oldest event must be for the window to grow, and how old
/// the newest quarter must be for it to shrink: 75 s (Kubernetes'
/// `eventFreshDuration`).
pub const DEFAULT_EVENT_FRESH_DURATION: Duration = Duration::from_secs(75);
/// How long [`WatchCache::list`] and [`WatchCache::get`] wait for a
/// resourceVersion the cache has not seen yet: 3 s (Kubernetes' default).
pub const DEFAULT_FRESH_TIMEOUT: Duration = Duration::from_secs(3);

/// How often a watcher that asked for bookmarks gets one unless configured:
/// 60 s (Kubernetes' cacher sends them about once a minute).
pub const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// How many list snapshots a cache keeps for continue tokens and exact
/// reads (besides rebuilding one from the window when it is not kept).
const KEPT_SNAPSHOTS: usize = 8;

/// Configures and builds a [`WatchCache`]; from [`WatchCache::builder`].
#[derive(Clone)]
pub struct WatchCacheBuilder {
    capacity: usize,
    max_capacity: Option<usize>,
    max_bytes: Option<usize>,
    indexes: Vec<String>,
    event_fresh_duration: Duration,
    fresh_timeout: Duration,
    bookmark_interval: Duration,
    fields: Option<Vec<String>>,
    clock: Option<std::sync::Arc<dyn Clock>>,
}

impl std::fmt::Debug for WatchCacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCacheBuilder")
            .field("capacity", &self.capacity)
            .field("max_capacity", &self.max_capacity)
            .field("max_bytes", &self.max_bytes)
            .field("indexes", &self.indexes)
            .field("event_fresh_duration", &self.event_fresh_duration)
            .field("fresh_timeout", &self.fresh_timeout)
            .field("bookmark_interval", &self.bookmark_interval)
            .field("fields", &self.fields)
            .field("custom_clock", &self.clock.is_some())
            .finish()
    }
}

impl Default for WatchCacheBuilder {
    fn default() -> Self {
        WatchCacheBuilder {
            capacity: DEFAULT_CAPACITY,
            max_capacity: None,
            max_bytes: None,
            indexes: Vec::new(),
            event_fresh_duration: DEFAULT_EVENT_FRESH_DURATION,
            fresh_timeout: DEFAULT_FRESH_TIMEOUT,
            bookmark_interval: DEFAULT_BOOKMARK_INTERVAL,
            fields: None,
            clock: None,
        }
    }
}

impl WatchCacheBuilder {
    /// The initial and smallest window, in events (default
    /// [`DEFAULT_CAPACITY`]). Must be at least 1.
    #[must_use]
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events;
        self
    }

    /// The largest window, in events. Default: [`DEFAULT_MAX_CAPACITY`], or
    /// `capacity` if that is larger. Must be at least `capacity`.
    #[must_use]
    pub fn max_capacity(mut self, events: usize) -> Self {
        self.max_capacity = Some(events);
        self
    }

    /// Bounds the window's counted bytes (see the module's *Memory
    /// accounting*). Default: unbounded. Must be at least 1.
    #[must_use]
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Declares an index: `"label:<name>"` or `"field:<name>"`, e.g.
    /// `"label:app"`, `"field:spec.nodeName"`. Indexed equality selectors
    /// are served without a scan; others still work, by scanning.
    #[must_use]
    pub fn index(mut self, spec: impl Into<String>) -> Self {
        self.indexes.push(spec.into());
        self
    }

    /// Declares several indexes (see [`index`](WatchCacheBuilder::index)).
    #[must_use]
    pub fn indexes<I, S>(mut self, specs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.indexes.extend(specs.into_iter().map(Into::into));
        self
    }

    /// The freshness duration of the sizing rules (default
    /// [`DEFAULT_EVENT_FRESH_DURATION`]).
    #[must_use]
    pub fn event_fresh_duration(mut self, d: Duration) -> Self {
        self.event_fresh_duration = d;
        self
    }

    /// How long [`WatchCache::list`] and [`WatchCache::get`] wait for
    /// freshness (default [`DEFAULT_FRESH_TIMEOUT`]).
    #[must_use]
    pub fn fresh_timeout(mut self, d: Duration) -> Self {
        self.fresh_timeout = d;
        self
    }

    /// How often a watcher that asked for bookmarks receives one at the
    /// cache's resourceVersion (default [`DEFAULT_BOOKMARK_INTERVAL`],
    /// jittered by up to a tenth; `ZERO`: only those of
    /// [`WatchCache::bookmark`]). A watcher can override it
    /// ([`WatchOptions::bookmark_interval`]).
    #[must_use]
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }

    /// Declares the fields writers extract into [`Object::fields`] (for
    /// example `metadata.name`, `metadata.namespace`, `spec.nodeName`).
    /// A field selector on any other field then fails with
    /// [`WatchError::InvalidSelector`] ("field label not supported"), as
    /// the apiserver answers. Fields of `field:` indexes count as declared.
    ///
    /// Without a declaration the cache learns the fields from the writes:
    /// until a write has carried a field every name is accepted; after
    /// that, only names some write carried or an index declares.
    #[must_use]
    pub fn fields<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields.get_or_insert_with(Vec::new).extend(names.into_iter().map(Into::into));
        self
    }

    /// The clock of the sizing rules (default [`MonotonicClock`]).
    #[must_use]
    pub fn clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Builds the cache: empty, at resourceVersion 0, never listed.
    ///
    /// # Errors
    /// [`WatchError::InvalidArgument`] for a capacity of 0, a
    /// `max_capacity` below `capacity`, a `max_bytes` of 0, or a malformed
    /// index declaration.
    pub fn build(self) -> Result<WatchCache, WatchError> {
        if self.capacity == 0 {
            return Err(WatchError::invalid("capacity must be at least 1"));
        }
        let max_capacity = self.max_capacity.unwrap_or(DEFAULT_MAX_CAPACITY.max(self.capacity));
        if max_capacity < self.capacity {
            return Err(WatchError::invalid(format!(
                "max_capacity ({max_capacity}) must not be below capacity ({})",
                self.capacity
            )));
        }
        if self.max_bytes == Some(0) {
            return Err(WatchError::invalid("max_bytes must be at least 1 (leave it unset for no bound)"));
        }
        let indexes = index::parse_indexes(&self.indexes)?;
        if let Some(f) = self.fields.iter().flatten().find(|f| f.is_empty()) {
            return Err(WatchError::invalid(format!("declared field name {f:?} is empty")));
        }
        let clock = self.clock.unwrap_or_else(|| std::sync::Arc::new(MonotonicClock::new()));
        Ok(WatchCache {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    rv: 0,
                    ring: Ring::new(
                        self.capacity,
                        max_capacity,
                        self.max_bytes.unwrap_or(usize::MAX),
                        self.event_fresh_duration,
                    ),
                    store: Store::new(indexes),
                    watchers: Vec::new(),
                    next_watcher_id: 0,
                    fresh_waiters: 0,
                    fresh_hooks: Vec::new(),
                    next_fresh_id: 0,
                    closed: false,
                    snapshots: VecDeque::new(),
                    seen_fields: HashSet::new(),
                }),
                fresh: Condvar::new(),
                published: AtomicU64::new(0),
                clock,
                fresh_timeout: self.fresh_timeout,
                bookmark_interval: self.bookmark_interval,
                declared_fields: self.fields.map(|f| f.into_iter().collect()),
            }),
        })
    }
}

/// A snapshot of the window's size and accounting, from
/// [`WatchCache::window_stats`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowStats {
    /// Events in the window.
    pub events: usize,
    /// Their counted bytes (`Σ key + object + prev_object`).
    pub bytes: usize,
    /// The window's current size in events.
    pub capacity: usize,
    /// The configured smallest size.
    pub min_capacity: usize,
    /// The configured largest size.
    pub max_capacity: usize,
    /// The byte bound, if any.
    pub max_bytes: Option<usize>,
    /// The cache's resourceVersion.
    pub resource_version: u64,
    /// The smallest resourceVersion `events_since`/`watch` accept now.
    pub oldest_accepted: u64,
    /// The resourceVersion of the oldest buffered event.
    pub oldest_buffered: Option<u64>,
    /// The resourceVersion of the last relist.
    pub list_resource_version: Option<u64>,
    /// Objects in the current state.
    pub items: usize,
    /// Registered (open) watchers.
    pub watchers: usize,
}

/// Everything the cache's mutex guards.
struct State {
    /// The newest resourceVersion the cache has seen (a write, a relist or a
    /// bookmark). Invariant: never decreases; `>=` every buffered event's.
    rv: u64,
    ring: Ring,
    /// The current state; holds exactly the keys added/updated and not
    /// deleted since the last relist, plus the relist's items.
    store: Store,
    /// Open watchers. A watcher found closed during a fan-out is dropped.
    watchers: Vec<Arc<WatcherShared>>,
    next_watcher_id: u64,
    /// Threads blocked in a freshness wait; writers notify only if non-zero.
    fresh_waiters: usize,
    /// Freshness hooks ([`WatchCache::on_fresh`]) not yet due: (id, the
    /// resourceVersion awaited, the hook).
    fresh_hooks: Vec<(u64, u64, Hook)>,
    next_fresh_id: u64,
    /// Set once by `close`; then every call fails with `Closed`.
    closed: bool,
    /// Recent list snapshots by resourceVersion, oldest first, at most
    /// `KEPT_SNAPSHOTS`. Invariant: each is the state at its
    /// resourceVersion, which is within the window (older ones are dropped
    /// by writes); emptied by a relist.
    snapshots: VecDeque<(u64, Store)>,
    /// Field names writes have carried (used only when no fields were
    /// declared). Only grows.
    seen_fields: HashSet<StdArc<str>>,
}

impl State {
    /// Moves the freshness hooks that are due (all of them once the cache
    /// is closed) to `fired`.
    fn take_fresh(&mut self, fired: &mut Vec<Hook>) {
        if self.fresh_hooks.is_empty() {
            return;
        }
        let (rv, closed) = (self.rv, self.closed);
        let mut i = 0;
        while i < self.fresh_hooks.len() {
            if closed || self.fresh_hooks[i].1 <= rv {
                fired.push(self.fresh_hooks.swap_remove(i).2);
            } else {
                i += 1;
            }
        }
    }

    /// The state as it was at `rv`, which must lie between the oldest
    /// accepted resourceVersion and the cache's (the caller checks): a kept
    /// snapshot, the current state, or the current state with the window's
    /// events after `rv` undone, newest first (O(k log n) for k events).
    /// The result is kept for the next page.
    fn snapshot_at(&mut self, rv: u64) -> Store {
        if let Some((_, s)) = self.snapshots.iter().find(|(r, _)| *r == rv) {
            return s.clone();
        }
        let mut s = self.store.clone();
        for ev in self.ring.since(rv).rev() {
            match &ev.prev {
                Some(p) => {
                    s.insert(p.clone());
                }
                None => {
                    s.remove(ev.key());
                }
            }
        }
        if self.snapshots.len() == KEPT_SNAPSHOTS {
            self.snapshots.pop_front();
        }
        let at = self.snapshots.partition_point(|(r, _)| *r < rv);
        self.snapshots.insert(at, (rv, s.clone()));
        s
    }

    /// Drops kept snapshots that the window no longer covers.
    fn prune_snapshots(&mut self) {
        if self.snapshots.is_empty() {
            return;
        }
        let oldest = self.ring.oldest_accepted(self.rv);
        while self.snapshots.front().is_some_and(|(r, _)| *r < oldest) {
            self.snapshots.pop_front();
        }
    }

    /// Remembers the field names `item` carries (when it does not share
    /// its field map with `prev`, which was learned already).
    fn learn_fields(&mut self, item: &Item, prev: Option<&Item>) {
        if item.fields().is_empty() || prev.is_some_and(|p| item.same_fields(p)) {
            return;
        }
        for k in item.fields().keys() {
            if !self.seen_fields.contains(k.as_str()) {
                self.seen_fields.insert(StdArc::from(k.as_str()));
            }
        }
    }
}

/// The shared body of a [`WatchCache`], also kept alive by its watchers.
pub(crate) struct Inner {
    state: Mutex<State>,
    /// Notified (all) when `rv` advances or the cache closes.
    fresh: Condvar,
    /// `State::rv`, stored (Release, with the state's lock held) only after
    /// the write that set it has been offered to every watcher; watchers
    /// read it for periodic bookmarks without taking the cache's lock.
    pub(crate) published: AtomicU64,
    clock: std::sync::Arc<dyn Clock>,
    fresh_timeout: Duration,
    bookmark_interval: Duration,
    /// The fields writers extract, if declared.
    declared_fields: Option<HashSet<String>>,
}

impl Inner {
    /// Removes watcher `id` from the registry (if still there).
    pub(crate) fn unregister(&self, id: u64) {
        let mut st = sync::lock(&self.state);
        if let Some(pos) = st.watchers.iter().position(|w| w.id == id) {
            st.watchers.swap_remove(pos);
        }
    }
}

/// A Kubernetes-style watch cache: the newest events by resourceVersion,
/// the current state, and watchers. See the [module docs](self) for the
/// rules.
///
/// # Thread safety
/// `Send + Sync`; share it with `Arc` and call any method from any thread.
///
/// # Ownership
/// Not `Clone`: dropping the `WatchCache` closes it (as
/// [`close`](WatchCache::close)). Payloads are shared, never copied, between
/// the window, the current state, readers and watchers.
pub struct WatchCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache").field("stats", &self.window_stats()).finish()
    }
}

impl WatchCache {
    /// A builder with the defaults.
    pub fn builder() -> WatchCacheBuilder {
        WatchCacheBuilder::default()
    }

    /// A cache with a window of `capacity` events and every other setting
    /// at its default.
    ///
    /// # Errors
    /// [`WatchError::InvalidArgument`] if `capacity` is 0.
    pub fn new(capacity: usize) -> Result<Self, WatchError> {
        WatchCache::builder().capacity(capacity).build()
    }

    fn lock_open(&self) -> Result<MutexGuard<'_, State>, WatchError> {
        let st = sync::lock(&self.inner.state);
        if st.closed {
            return Err(WatchError::closed(CloseReason::CacheClosed));
        }
        Ok(st)
    }

    /// Records that `obj` was added at `rv`.
    ///
    /// The event is appended to the window (its previous object filled in
    /// from the current state if the key exists), the current state is
    /// updated, waiters for `rv` wake, and the event is offered to every
    /// watcher.
    ///
    /// # Errors
    /// [`WatchError::InvalidArgument`] if `rv` is not greater than the
    /// cache's resourceVersion or the key is empty;
    /// [`WatchError::Closed`] after [`close`](WatchCache::close). Nothing
    /// changes on error.
    pub fn add(&self, obj: Object, rv: u64) -> Result<(), WatchError> {
        self.write(EventType::Added, obj, rv)
    }

    /// Records that `obj` was modified at `rv`. As [`add`](WatchCache::add).
    ///
    /// # Errors
    /// As [`add`](WatchCache::add).
    pub fn update(&self, obj: Object, rv: u64) -> Result<(), WatchError> {
        self.write(EventType::Modified, obj, rv)
    }

    /// Records that `obj` was deleted at `rv`: the key leaves the current
    /// state, and the event carries `obj` as its object and the stored one
    /// as its previous object. As [`add`](WatchCache::add).
    ///
    /// # Errors
    /// As [`add`](WatchCache::add).
    pub fn delete(&self, obj: Object, rv: u64) -> Result<(), WatchError> {
        self.write(EventType::Deleted, obj, rv)
    }

    fn write(&self, kind: EventType, obj: Object, rv: u64) -> Result<(), WatchError> {
        if obj.key.is_empty() {
            return Err(WatchError::invalid("key must not be empty"));
        }
        let mut guard = self.lock_open()?;
        if rv <= guard.rv {
            return Err(WatchError::invalid(format!(
                "resource version {rv} does not move forward: the cache is at {}",
                guard.rv
            )));
        }
        let now = self.inner.clock.now();
        let st = &mut *guard;
        let mut fired = Vec::new();
        let (item, prev) = st.store.write(obj, rv, kind == EventType::Deleted);
        if self.inner.declared_fields.is_none() {
            st.learn_fields(&item, prev.as_ref());
        }
        let event = Event::new(kind, rv, item, prev);
        st.rv = rv;
        st.watchers.retain(|w| w.offer(&event, &mut fired));
        self.inner.published.store(rv, Ordering::Release);
        st.ring.push(event, now);
        st.prune_snapshots();
        if st.fresh_waiters > 0 {
            self.inner.fresh.notify_all();
        }
        st.take_fresh(&mut fired);
        drop(guard);
        hook::run_all(fired);
        Ok(())
    }

    /// Relists: the current state becomes `items` (later duplicates win),
    /// each stored at resourceVersion `rv`; the window empties; the cache's
    /// resourceVersion becomes `rv`. Afterwards `events_since(rv)` is empty
    /// and every older resourceVersion is expired. Every open watcher is
    /// closed with [`CloseReason::Relisted`] after delivering what it holds.
    ///
    /// # Errors
    /// [`WatchError::InvalidArgument`] if `rv` is below the cache's
    /// resourceVersion (equal is allowed) or an item's key is empty;
    /// [`WatchError::Closed`] after [`close`](WatchCache::close). Nothing
    /// changes on error.
    pub fn replace<I>(&self, items: I, rv: u64) -> Result<(), WatchError>
    where
        I: IntoIterator<Item = Object>,
    {
        let objects: Vec<Object> = items.into_iter().collect();
        if objects.iter().any(|o| o.key.is_empty()) {
            return Err(WatchError::invalid("key must not be empty"));
        }
        let items: Vec<Item> = objects.into_iter().map(|o| Item::build(o, rv, None)).collect();
        let mut guard = self.lock_open()?;
        if rv < guard.rv {
            return Err(WatchError::invalid(format!(
                "relist resource version {rv} is older than the cache's {}",
                guard.rv
            )));
        }
        let st = &mut *guard;
        let mut fired = Vec::new();
        if self.inner.declared_fields.is_none() {
            for item in &items {
                st.learn_fields(item, None);
            }
        }
        st.store.replace_all(items);
        st.ring.reset(rv);
        st.snapshots.clear();
        st.rv = rv;
        for w in st.watchers.drain(..) {
            w.close(CloseReason::Relisted { resource_version: rv }, true, &mut fired);
        }
        self.inner.published.store(rv, Ordering::Release);
        if st.fresh_waiters > 0 {
            self.inner.fresh.notify_all();
        }
        st.take_fresh(&mut fired);
        drop(guard);
        hook::run_all(fired);
        Ok(())
    }

    /// Records that the upstream has reached `rv` without a change to this
    /// cache's objects (a progress notification), and sends a BOOKMARK at
    /// `rv` to every watcher that asked for bookmarks. Waiters for `rv`
    /// wake. Bookmarks are not stored in the window.
    ///
    /// # Errors
    /// [`WatchError::InvalidArgument`] if `rv` is below the cache's
    /// resourceVersion (equal is allowed: a bookmark at the current one);
    /// [`WatchError::Closed`] after [`close`](WatchCache::close).
    pub fn bookmark(&self, rv: u64) -> Result<(), WatchError> {
        let mut st = self.lock_open()?;
        if rv < st.rv {
            return Err(WatchError::invalid(format!(
                "bookmark resource version {rv} is older than the cache's {}",
                st.rv
            )));
        }
        st.rv = rv;
        let event = Event::bookmark(rv);
        let mut fired = Vec::new();
        st.watchers.retain(|w| w.offer_bookmark(&event, &mut fired));
        self.inner.published.store(rv, Ordering::Release);
        if st.fresh_waiters > 0 {
            self.inner.fresh.notify_all();
        }
        st.take_fresh(&mut fired);
        drop(st);
        hook::run_all(fired);
        Ok(())
    }

    /// How long [`list`](WatchCache::list), [`get`](WatchCache::get),
    /// [`list_page`](WatchCache::list_page) and streaming watches wait for
    /// freshness unless told otherwise (the builder's `fresh_timeout`).
    pub fn fresh_timeout(&self) -> Duration {
        self.inner.fresh_timeout
    }

    /// The newest resourceVersion the cache has seen.
    pub fn resource_version(&self) -> u64 {
        sync::lock(&self.inner.state).rv
    }

    /// The number of objects in the current state.
    pub fn len(&self) -> usize {
        sync::lock(&self.inner.state).store.len()
    }

    /// True when the current state holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The events with resourceVersion greater than `rv`, oldest first,
    /// found by binary search in the window (O(log n + k)). `rv = 0` gives
    /// the current state as ADDED events at the cache's resourceVersion,
    /// sorted by key. An `rv` the cache has not reached yet gives an empty
    /// list (see the module's *Resource versions and expiry*).
    ///
    /// # Errors
    /// [`WatchError::ResourceExpired`] when events after `rv` may have left
    /// the window; [`WatchError::Closed`] after [`close`](WatchCache::close).
    pub fn events_since(&self, rv: u64) -> Result<Vec<Event>, WatchError> {
        let st = self.lock_open()?;
        if rv == 0 {
            return Ok(snapshot(&st, &Filter::default()).into());
        }
        st.ring.check(rv, st.rv)?;
        Ok(st.ring.since(rv).cloned().collect())
    }

    /// Blocks, without spinning, until the cache has seen `rv` (a write, a
    /// relist or a bookmark at `rv` or later), for at most `timeout`.
    ///
    /// # Errors
    /// [`WatchError::TooLargeResourceVersion`] (HTTP 504, retry after 1 s)
    /// if `timeout` passes first; [`WatchError::Closed`] if the cache is or
    /// gets closed (the wait wakes at once).
    pub fn wait_until_fresh(&self, rv: u64, timeout: Duration) -> Result<(), WatchError> {
        self.wait_fresh_locked(rv, timeout).map(drop)
    }

    /// Registers `hook` to run once the cache has seen `rv` (as
    /// [`wait_until_fresh`](WatchCache::wait_until_fresh) would return) or
    /// is closed: at once on this thread, returning `None`, if it already
    /// has; otherwise on the writer's or closer's thread after the cache's
    /// locks are dropped, returning the hook's id. The hook carries no
    /// result: the caller checks again (for example with a zero-timeout
    /// `wait_until_fresh`). There is no timeout here: a caller that stops
    /// waiting calls [`cancel_fresh`](WatchCache::cancel_fresh). See
    /// [`crate::hook`].
    pub fn on_fresh(&self, rv: u64, hook: impl FnOnce() + Send + 'static) -> Option<u64> {
        let mut st = sync::lock(&self.inner.state);
        if st.closed || st.rv >= rv {
            drop(st);
            hook::run(Box::new(hook));
            return None;
        }
        let id = st.next_fresh_id;
        st.next_fresh_id += 1;
        st.fresh_hooks.push((id, rv, Box::new(hook)));
        Some(id)
    }

    /// Drops the freshness hook `id` unrun. Returns true when it was still
    /// pending (it will never run); false when it has run or is running.
    pub fn cancel_fresh(&self, id: u64) -> bool {
        let mut st = sync::lock(&self.inner.state);
        let Some(pos) = st.fresh_hooks.iter().position(|h| h.0 == id) else { return false };
        let (_, _, hook) = st.fresh_hooks.swap_remove(pos);
        drop(st);
        // Dropping a hook runs its captures' destructors: not under the lock.
        drop(hook);
        true
    }

    fn wait_fresh_locked(&self, rv: u64, timeout: Duration) -> Result<MutexGuard<'_, State>, WatchError> {
        let deadline = Deadline::after(timeout);
        let mut st = sync::lock(&self.inner.state);
        loop {
            if st.closed {
                return Err(WatchError::closed(CloseReason::CacheClosed));
            }
            if st.rv >= rv {
                return Ok(st);
            }
            let left = deadline.remaining();
            if left.is_some_and(|d| d.is_zero()) {
                return Err(WatchError::TooLargeResourceVersion { requested: rv, current: st.rv });
            }
            st.fresh_waiters += 1;
            st = match left {
                None => sync::wait(&self.inner.fresh, st),
                Some(d) => sync::wait_timeout(&self.inner.fresh, st, d),
            };
            st.fresh_waiters -= 1;
        }
    }

    /// The objects matching both selectors, sorted by key, and the cache's
    /// resourceVersion, after waiting (up to the configured fresh timeout,
    /// default 3 s) until the cache has seen `rv`. `rv = 0` does not wait.
    /// Indexed selectors are served from their index, others by a scan.
    ///
    /// # Errors
    /// As [`wait_until_fresh`](WatchCache::wait_until_fresh).
    pub fn list(
        &self,
        rv: u64,
        label_selector: &Selector,
        field_selector: &Selector,
    ) -> Result<(Vec<Item>, u64), WatchError> {
        self.list_with_timeout(rv, label_selector, field_selector, self.inner.fresh_timeout)
    }

    /// [`list`](WatchCache::list) with an explicit freshness timeout.
    ///
    /// # Errors
    /// As [`wait_until_fresh`](WatchCache::wait_until_fresh).
    pub fn list_with_timeout(
        &self,
        rv: u64,
        label_selector: &Selector,
        field_selector: &Selector,
        timeout: Duration,
    ) -> Result<(Vec<Item>, u64), WatchError> {
        let filter = self.filter(label_selector, field_selector)?;
        let st = self.wait_fresh_locked(rv, timeout)?;
        let (snapshot, at) = (st.store.clone(), st.rv);
        drop(st);
        Ok((snapshot.select(&filter), at))
    }

    /// One page of a list, served from a snapshot: up to `limit` objects
    /// matching the selectors, in key order, and a continue token while
    /// more remain. Every page of one listing (the first page and those
    /// fetched with its tokens) comes from the snapshot the first page
    /// took, whatever is written in between; taking it is O(1) and a page
    /// costs O(log n + the items walked), outside the cache's lock.
    ///
    /// Which snapshot, as the apiserver decides ([`ListRequest`]):
    /// - a continue token: the token's; its resourceVersion must still be
    ///   in the window (a token with the apiserver's `rv: -1` continues in
    ///   the current state);
    /// - resourceVersion 0, not Exact: the current state, and `limit` is
    ///   ignored (everything in one page, as the apiserver does for "any");
    /// - N, [`NotOlderThan`](ResourceVersionMatch::NotOlderThan): the
    ///   current state once the cache has seen N (waiting up to the
    ///   freshness timeout);
    /// - N, [`Exact`](ResourceVersionMatch::Exact): the state at N, which
    ///   must be in the window (waiting for it as above if the cache has
    ///   not reached it).
    ///
    /// The apiserver also reads a list with a `limit` at a non-zero
    /// resourceVersion and no `resourceVersionMatch` as Exact (client-go's
    /// paged relists rely on it). That is a rule of its HTTP parameters: a
    /// server in front of this cache passes `Exact` for such a request.
    ///
    /// A page with a token holds exactly `limit` items: the walk stops at
    /// the limit or at the end, and the token only says that keys remain,
    /// so the last page may hold fewer, even none.
    ///
    /// # Errors
    /// - [`WatchError::ResourceExpired`] (410) when the token's or the
    ///   Exact resourceVersion has left the window (list again without it);
    /// - [`WatchError::TooLargeResourceVersion`] (504) when the cache does
    ///   not reach the resourceVersion within the timeout;
    /// - [`WatchError::InvalidArgument`] (400) for a malformed token, a
    ///   token together with a resourceVersion or Exact, or Exact with
    ///   resourceVersion 0;
    /// - [`WatchError::InvalidSelector`] (400) for a field the cache does
    ///   not extract;
    /// - [`WatchError::Closed`] after [`close`](WatchCache::close).
    pub fn list_page(&self, req: &ListRequest) -> Result<ListPage, WatchError> {
        let filter = self.filter(&req.label_selector, &req.field_selector)?;
        let timeout = req.timeout.unwrap_or(self.inner.fresh_timeout);
        let exact = req.resource_version_match == Some(ResourceVersionMatch::Exact);
        let (snapshot, at, start, limit) = match req.continue_token.as_deref().filter(|t| !t.is_empty()) {
            Some(tok) => {
                if req.resource_version != 0 || exact {
                    return Err(WatchError::invalid(
                        "specifying a resource version (or resourceVersionMatch=Exact) is not allowed with continue",
                    ));
                }
                let (rv, start) = token::decode(tok)?;
                let mut st = self.lock_open()?;
                let Some(rv) = rv else {
                    let at = st.rv;
                    return Ok(page_of(st.snapshot_at(at), at, &filter, Some(start), req.limit));
                };
                if rv > st.rv {
                    return Err(WatchError::invalid(format!(
                        "continue key is not valid: resource version {rv} is ahead of the cache's {}",
                        st.rv
                    )));
                }
                st.ring.check(rv, st.rv)?;
                (st.snapshot_at(rv), rv, Some(start), req.limit)
            }
            None if req.resource_version == 0 => {
                if exact {
                    return Err(WatchError::invalid("resourceVersionMatch=Exact requires a non-zero resource version"));
                }
                let st = self.lock_open()?;
                (st.store.clone(), st.rv, None, 0)
            }
            None => {
                let rv = req.resource_version;
                let mut st = self.wait_fresh_locked(rv, timeout)?;
                if exact {
                    st.ring.check(rv, st.rv)?;
                    (st.snapshot_at(rv), rv, None, req.limit)
                } else if req.limit == 0 {
                    (st.store.clone(), st.rv, None, 0)
                } else {
                    let at = st.rv;
                    (st.snapshot_at(at), at, None, req.limit)
                }
            }
        };
        Ok(page_of(snapshot, at, &filter, start, limit))
    }

    /// The filter for a list or a watch, after checking the field selector
    /// against the fields the cache extracts.
    fn filter(&self, labels: &Selector, fields: &Selector) -> Result<Filter, WatchError> {
        if !fields.is_empty() {
            let st = sync::lock(&self.inner.state);
            fields.check_fields(|name| match &self.inner.declared_fields {
                Some(declared) => declared.contains(name) || st.store.has_field_index(name),
                None => st.seen_fields.is_empty() || st.seen_fields.contains(name) || st.store.has_field_index(name),
            })?;
        }
        Ok(Filter::new(labels, fields))
    }

    /// The current object under `key`, after waiting (up to the configured
    /// fresh timeout) until the cache has seen `rv`; `rv = 0` does not wait.
    ///
    /// # Errors
    /// As [`wait_until_fresh`](WatchCache::wait_until_fresh).
    pub fn get(&self, key: &str, rv: u64) -> Result<Option<Item>, WatchError> {
        self.get_with_timeout(key, rv, self.inner.fresh_timeout)
    }

    /// [`get`](WatchCache::get) with an explicit freshness timeout.
    ///
    /// # Errors
    /// As [`wait_until_fresh`](WatchCache::wait_until_fresh).
    pub fn get_with_timeout(&self, key: &str, rv: u64, timeout: Duration) -> Result<Option<Item>, WatchError> {
        let st = self.wait_fresh_locked(rv, timeout)?;
        Ok(st.store.get(key).cloned())
    }

    /// Starts a watch: a [`Watcher`] yielding the events after `rv` that
    /// match both selectors — first those still in the window (for `rv = 0`,
    /// the current state as ADDED events), then live ones. An `rv` the
    /// cache has not reached yet is fine: the stream starts after it.
    ///
    /// With [`WatchOptions::send_initial_events`] (a streaming list) the
    /// watcher starts instead with the matching current state as ADDED
    /// events and a BOOKMARK marked [`Event::initial_events_end`], all at
    /// the cache's resourceVersion, then the changes after it. A non-zero
    /// `rv` then means "not older than": the call first waits until the
    /// cache has seen it, up to the freshness timeout.
    ///
    /// The backlog is taken under the cache's lock as handles (O(k) for k
    /// events or matching items), so the watcher starts exactly where the
    /// backlog ends.
    ///
    /// # Errors
    /// [`WatchError::ResourceExpired`] as for
    /// [`events_since`](WatchCache::events_since) (never with initial
    /// events); [`WatchError::TooLargeResourceVersion`] when initial events
    /// wait in vain; [`WatchError::InvalidArgument`] for a buffer of 0;
    /// [`WatchError::InvalidSelector`] for a field the cache does not
    /// extract; [`WatchError::Closed`] after [`close`](WatchCache::close).
    pub fn watch(
        &self,
        rv: u64,
        label_selector: &Selector,
        field_selector: &Selector,
        options: WatchOptions,
    ) -> Result<Watcher, WatchError> {
        if options.buffer == 0 {
            return Err(WatchError::invalid("watch buffer must be at least 1"));
        }
        let filter = self.filter(label_selector, field_selector)?;
        let mut st = if options.send_initial_events && rv != 0 {
            self.wait_fresh_locked(rv, options.fresh_timeout.unwrap_or(self.inner.fresh_timeout))?
        } else {
            self.lock_open()?
        };
        let st_ref = &mut *st;
        let id = st_ref.next_watcher_id;
        let (start_rv, backlog) = if options.send_initial_events {
            let mut backlog = snapshot(st_ref, &filter);
            backlog.push_back(Event::end_of_initial_events(st_ref.rv));
            (st_ref.rv, backlog)
        } else if rv == 0 {
            (st_ref.rv, snapshot(st_ref, &filter))
        } else {
            st_ref.ring.check(rv, st_ref.rv)?;
            let backlog = st_ref.ring.since(rv).filter_map(|e| watcher::project(&filter, e)).collect();
            (rv, backlog)
        };
        let every = options.bookmark_interval.unwrap_or(self.inner.bookmark_interval);
        let shared = Arc::new(WatcherShared::new(id, filter, &options, every, start_rv, backlog));
        st_ref.next_watcher_id += 1;
        st_ref.watchers.push(Arc::clone(&shared));
        drop(st);
        Ok(Watcher::new(shared, Arc::clone(&self.inner)))
    }

    /// Closes the cache: every blocked [`wait_until_fresh`](WatchCache::wait_until_fresh),
    /// [`list`](WatchCache::list) and [`get`](WatchCache::get) wakes with
    /// [`WatchError::Closed`], every watcher is closed with
    /// [`CloseReason::CacheClosed`] (after delivering what it holds), and
    /// every later call fails with `Closed`. Idempotent.
    pub fn close(&self) {
        let mut st = sync::lock(&self.inner.state);
        if st.closed {
            return;
        }
        st.closed = true;
        let mut fired = Vec::new();
        for w in st.watchers.drain(..) {
            w.close(CloseReason::CacheClosed, true, &mut fired);
        }
        self.inner.fresh.notify_all();
        st.take_fresh(&mut fired);
        drop(st);
        hook::run_all(fired);
    }

    /// True after [`close`](WatchCache::close).
    pub fn is_closed(&self) -> bool {
        sync::lock(&self.inner.state).closed
    }

    /// The window's size and byte accounting, and related counters.
    pub fn window_stats(&self) -> WindowStats {
        let st = sync::lock(&self.inner.state);
        WindowStats {
            events: st.ring.len(),
            bytes: st.ring.bytes(),
            capacity: st.ring.capacity(),
            min_capacity: st.ring.min_capacity(),
            max_capacity: st.ring.max_capacity(),
            max_bytes: st.ring.max_bytes(),
            resource_version: st.rv,
            oldest_accepted: st.ring.oldest_accepted(st.rv),
            oldest_buffered: st.ring.oldest_buffered(),
            list_resource_version: st.ring.list_rv(),
            items: st.store.len(),
            watchers: st.watchers.len(),
        }
    }
}

/// How a list's resourceVersion is matched, as the apiserver's
/// `resourceVersionMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceVersionMatch {
    /// The state at the resourceVersion or any later one (the cache's
    /// current state once it has seen it).
    NotOlderThan,
    /// The state exactly at the resourceVersion, which must still be in
    /// the window.
    Exact,
}

/// What [`WatchCache::list_page`] lists: build with [`ListRequest::new`]
/// and the setters. The defaults list everything at resourceVersion 0 in
/// one page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListRequest {
    /// The most items in a page; 0 for no limit.
    pub limit: usize,
    /// The token of the previous page, if this continues a listing.
    pub continue_token: Option<String>,
    /// The resourceVersion (0: any).
    pub resource_version: u64,
    /// How `resource_version` is matched; `None`: NotOlderThan.
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// Labels the items must match.
    pub label_selector: Selector,
    /// Fields the items must match.
    pub field_selector: Selector,
    /// How long to wait for the resourceVersion; `None`: the cache's
    /// freshness timeout.
    pub timeout: Option<Duration>,
}

impl ListRequest {
    /// Everything, at resourceVersion 0, in one page.
    pub fn new() -> Self {
        ListRequest::default()
    }

    /// Sets [`limit`](ListRequest::limit).
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets [`continue_token`](ListRequest::continue_token).
    #[must_use]
    pub fn continue_token(mut self, token: impl Into<String>) -> Self {
        self.continue_token = Some(token.into());
        self
    }

    /// Sets [`resource_version`](ListRequest::resource_version).
    #[must_use]
    pub fn resource_version(mut self, rv: u64) -> Self {
        self.resource_version = rv;
        self
    }

    /// Sets [`resource_version_match`](ListRequest::resource_version_match).
    #[must_use]
    pub fn resource_version_match(mut self, m: ResourceVersionMatch) -> Self {
        self.resource_version_match = Some(m);
        self
    }

    /// Sets [`label_selector`](ListRequest::label_selector).
    #[must_use]
    pub fn label_selector(mut self, s: Selector) -> Self {
        self.label_selector = s;
        self
    }

    /// Sets [`field_selector`](ListRequest::field_selector).
    #[must_use]
    pub fn field_selector(mut self, s: Selector) -> Self {
        self.field_selector = s;
        self
    }

    /// Sets [`timeout`](ListRequest::timeout).
    #[must_use]
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
}

/// One page from [`WatchCache::list_page`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListPage {
    /// The items, in key order.
    pub items: Vec<Item>,
    /// The resourceVersion of the snapshot every page of the listing
    /// comes from.
    pub resource_version: u64,
    /// Pass it back for the next page; `None` on the last one. Opaque.
    pub continue_token: Option<String>,
}

impl Drop for WatchCache {
    fn drop(&mut self) {
        self.close();
    }
}

/// One page of `snapshot` (at `at`) from key `start`, with its token.
fn page_of(snapshot: Store, at: u64, filter: &Filter, start: Option<String>, limit: usize) -> ListPage {
    let (items, last) = snapshot.page(filter, start.as_deref(), limit);
    ListPage { items, resource_version: at, continue_token: last.map(|k| token::encode(at, &k)) }
}

/// The current state matching `filter` as ADDED events at the cache's
/// resourceVersion, sorted by key.
fn snapshot(st: &State, filter: &Filter) -> VecDeque<Event> {
    st.store.select(filter).into_iter().map(|item| Event::new(EventType::Added, st.rv, item, None)).collect()
}
