//! [`Group`]: groupcache's named, loader-backed cache with a main and a hot
//! segment, deduplicated loads, peers and statistics.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use crate::counter::Counter;
use crate::deadline::Deadline;
use crate::error::{Error, GetterError};
use crate::flight::{Flight, FlightError, Leader, Ticket, Waiter};
use crate::lru::{CacheStats, Rule, Store, Value, default_shards};

/// Loads a value on a miss. The counterpart of groupcache's `Getter`.
///
/// Called by at most one thread per key at a time (the flight leader), with
/// no lock of the group held. It may be called from any thread, so it must
/// be `Send + Sync`. A panic is caught and reported to every waiter as
/// [`Error::LoaderPanicked`].
pub trait Getter: Send + Sync + 'static {
    /// The value for `key`, or an error that reaches every caller intact.
    fn get(&self, key: &[u8]) -> Result<Value, GetterError>;
}

impl<F> Getter for F
where
    F: Fn(&[u8]) -> Result<Value, GetterError> + Send + Sync + 'static,
{
    fn get(&self, key: &[u8]) -> Result<Value, GetterError> {
        self(key)
    }
}

/// Another process that owns some keys (groupcache's `ProtoGetter`).
pub trait Peer: Send + Sync {
    /// Fetches `key` of group `group` from this peer.
    fn get(&self, group: &str, key: &[u8]) -> Result<Value, GetterError>;
}

/// Chooses the peer that owns a key (groupcache's `PeerPicker`).
pub trait PeerPicker: Send + Sync {
    /// The owner of `key`, or `None` when this process owns it.
    fn pick_peer(&self, key: &[u8]) -> Option<Arc<dyn Peer>>;
}

/// Which of a group's two caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheType {
    /// Keys this process owns.
    Main = 1,
    /// Popular keys owned by peers, kept to spare the network.
    Hot = 2,
}

/// A group's counters, as groupcache's `Stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every `get`, from callers or peers.
    pub gets: u64,
    /// Gets answered from main or hot (including the re-check inside a load).
    pub cache_hits: u64,
    /// Values fetched from a peer.
    pub peer_loads: u64,
    /// Peer fetches that failed (and fell back to a local load).
    pub peer_errors: u64,
    /// Gets that missed the cache and joined or started a load.
    pub loads: u64,
    /// Loads that actually ran after deduplication.
    pub loads_deduped: u64,
    /// Successful getter calls.
    pub local_loads: u64,
    /// Getter calls that returned an error or panicked.
    pub local_load_errs: u64,
    /// Gets that came from peers ([`Group::serve_peer`]).
    pub server_requests: u64,
}

#[derive(Default, Debug)]
struct Counters {
    gets: Counter,
    cache_hits: Counter,
    peer_loads: Counter,
    peer_errors: Counter,
    loads: Counter,
    loads_deduped: Counter,
    local_loads: Counter,
    local_load_errs: Counter,
    server_requests: Counter,
}

/// Settings of a [`Group`] beyond name, budget and getter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GroupOptions {
    /// Time to live of loaded entries; `None` (the default) never expires.
    pub ttl: Option<Duration>,
    /// One peer load in `hot_sample` is kept in the hot cache (groupcache:
    /// 10). 0 never keeps one.
    pub hot_sample: u32,
    /// Shards per cache; `None` picks from the budget.
    pub shards: Option<usize>,
    /// Data of the binding that made the group (its getter's context), for
    /// that binding to find again from any handle: [`Group::binding_data`].
    pub binding_data: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions { ttl: None, hot_sample: 10, shards: None, binding_data: None }
    }
}

impl GroupOptions {
    /// Sets [`ttl`](Self::ttl).
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets [`hot_sample`](Self::hot_sample).
    pub fn hot_sample(mut self, one_in: u32) -> Self {
        self.hot_sample = one_in;
        self
    }

    /// Sets [`shards`](Self::shards).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Sets [`binding_data`](Self::binding_data).
    pub fn binding_data(mut self, data: Arc<dyn std::any::Any + Send + Sync>) -> Self {
        self.binding_data = Some(data);
        self
    }
}

/// The error a binding's getter reports when it returned without setting a
/// value; a load that ends with it fails with [`Error::NoValue`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoValue;

impl fmt::Display for NoValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the getter returned without setting a value")
    }
}

impl std::error::Error for NoValue {}

/// A getter's error as the group reports it.
fn getter_error(e: GetterError) -> Error {
    if e.is::<NoValue>() { Error::NoValue } else { Error::Getter(e) }
}

const MAIN: usize = 0;
const HOT: usize = 1;

struct Inner {
    name: String,
    getter: Box<dyn Getter>,
    peers: OnceLock<Arc<dyn PeerPicker>>,
    /// Segment `MAIN` and segment `HOT` under `cache_bytes`, with
    /// groupcache's eviction rule.
    store: Store,
    flight: Flight<Box<[u8]>, Value, Error>,
    opts: GroupOptions,
    /// Bumped by every `remove`; a load that saw another value when it
    /// started does not populate the cache (it may hold the removed data).
    removals: AtomicU64,
    closed: AtomicBool,
    counters: Counters,
}

/// A named cache that loads missing values through a [`Getter`], once per
/// key however many callers ask at the same time (groupcache's `Group`).
///
/// Cloning a `Group` is cheap and gives another handle to the same group.
///
/// # Thread safety
/// All methods take `&self` and may be called from any thread.
///
/// # Errors
/// [`get`](Self::get) returns the getter's error to every caller that
/// shared the load ([`Error::Getter`]), [`Error::LoaderPanicked`] when it
/// panicked, [`Error::Timeout`] from the timed variant, [`Error::Closed`]
/// after [`close`](Self::close).
#[derive(Clone)]
pub struct Group {
    inner: Arc<Inner>,
}

static REGISTRY: LazyLock<RwLock<HashMap<String, Group>>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// The registered group named `name`, if any.
pub fn get_group(name: &str) -> Option<Group> {
    REGISTRY.read().get(name).cloned()
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("name", &self.inner.name)
            .field("cache_bytes", &self.inner.store.budget())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Group {
    /// Creates and registers a group. `cache_bytes` bounds main and hot
    /// together; `0` disables caching (every get loads, still
    /// deduplicated).
    ///
    /// # Errors
    /// [`Error::DuplicateGroup`] when the name is taken (groupcache panics
    /// there); [`Error::InvalidArgument`] for a negative `cache_bytes`.
    pub fn new(name: &str, cache_bytes: i64, getter: impl Getter) -> Result<Group, Error> {
        Self::with_options(name, cache_bytes, getter, GroupOptions::default())
    }

    /// [`new`](Self::new) with options.
    ///
    /// # Errors
    /// As [`new`](Self::new); [`Error::InvalidArgument`] for a zero TTL
    /// (`None` is how "no expiry" is spelled).
    pub fn with_options(name: &str, cache_bytes: i64, getter: impl Getter, opts: GroupOptions) -> Result<Group, Error> {
        crate::cache::check_budget(cache_bytes)?;
        if opts.ttl.is_some_and(|t| t.is_zero()) {
            return Err(Error::InvalidArgument("a zero TTL; None means no expiry".to_owned()));
        }
        let mut reg = REGISTRY.write();
        if reg.contains_key(name) {
            return Err(Error::DuplicateGroup(name.to_owned()));
        }
        let shards = opts.shards.unwrap_or_else(|| default_shards(u64::try_from(cache_bytes).unwrap_or(0)));
        let g = Group {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                getter: Box::new(getter),
                peers: OnceLock::new(),
                store: Store::new(cache_bytes, 2, shards, Rule::MainHot),
                flight: Flight::new(),
                opts,
                removals: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                counters: Counters::default(),
            }),
        };
        reg.insert(name.to_owned(), g.clone());
        Ok(g)
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Sets the peer picker, once (groupcache's `RegisterPeerPicker`).
    ///
    /// # Errors
    /// [`Error::PeersAlreadyRegistered`] on a second call.
    pub fn register_peers(&self, picker: Arc<dyn PeerPicker>) -> Result<(), Error> {
        self.inner.peers.set(picker).map_err(|_| Error::PeersAlreadyRegistered)
    }

    /// The value for `key`: from main or hot, else loaded once for all
    /// concurrent callers (from the owning peer, or the getter).
    ///
    /// # Errors
    /// See the [type docs](Group#errors).
    pub fn get(&self, key: &[u8]) -> Result<Value, Error> {
        self.get_inner(key, None)
    }

    /// Like [`get`](Self::get), but waits at most `timeout` for a load that
    /// another caller runs ([`Error::Timeout`] then; the load goes on). A
    /// caller that runs the load itself runs it to the end.
    ///
    /// # Errors
    /// See the [type docs](Group#errors).
    pub fn get_timeout(&self, key: &[u8], timeout: Duration) -> Result<Value, Error> {
        self.get_inner(key, Deadline::after(timeout).instant())
    }

    /// The cached value for `key` (main, then hot) without loading: `None`
    /// on a miss or when the group is closed. A hit counts as a get and a
    /// cache hit, exactly as [`get`](Self::get) counts it; a miss counts
    /// nothing, so a caller that follows a miss with `get` is counted once.
    /// Bindings use it to answer hits before they build a load's context.
    pub fn get_cached(&self, key: &[u8]) -> Option<Value> {
        let inner = &*self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return None;
        }
        let v = self.lookup(key)?;
        inner.counters.gets.incr();
        inner.counters.cache_hits.incr();
        Some(v)
    }

    /// A get on behalf of a peer: counted in `server_requests`, then as
    /// [`get`](Self::get).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn serve_peer(&self, key: &[u8]) -> Result<Value, Error> {
        self.inner.counters.server_requests.incr();
        self.get(key)
    }

    /// Like [`get`](Self::get), for callers that must stay responsive while
    /// another caller's load runs (a Python binding checking for Ctrl-C, a Go
    /// binding watching its context): the wait wakes every `slice` and calls
    /// `poll`. When `poll` returns `Err(x)` the caller stops waiting (the
    /// load goes on for the others) and gets `Err(x)`; otherwise the
    /// result is `Ok` of what `get` would return. A caller that runs the load
    /// itself does not poll.
    ///
    /// # Errors
    /// `Err(x)` from `poll`; inside `Ok`, as [`get`](Self::get).
    pub fn get_polling<X>(
        &self,
        key: &[u8],
        slice: Duration,
        mut poll: impl FnMut() -> Result<(), X>,
    ) -> Result<Result<Value, Error>, X> {
        self.get_waiting(key, |w| {
            while w.wait_for(slice).is_none() {
                poll()?;
            }
            Ok(())
        })
    }

    /// Like [`get`](Self::get), but the wait for another caller's load is
    /// the caller's: `wait` runs only when this call finds a load in flight,
    /// gets the [`Waiter`], and returns `Ok(())` once it is done (for
    /// example after releasing an interpreter lock and waiting in slices) or
    /// `Err(x)` to give up (the load goes on for the others). A hit or a load
    /// this call runs itself never calls `wait`. If `wait` returns `Ok`
    /// early, the call blocks until the load ends. `wait` runs again when the
    /// load it waited for was abandoned and another caller's load follows.
    ///
    /// # Errors
    /// `Err(x)` from `wait`; inside `Ok`, as [`get`](Self::get).
    pub fn get_waiting<X>(
        &self,
        key: &[u8],
        mut wait: impl FnMut(&Waiter<Value, Error>) -> Result<(), X>,
    ) -> Result<Result<Value, Error>, X> {
        let mut stopped = None;
        let r = self.get_with(key, |w| match wait(&w) {
            Ok(()) => w.wait(),
            Err(x) => {
                stopped = Some(x);
                Err(crate::FlightError::Timeout)
            }
        });
        match stopped {
            Some(x) => Err(x),
            None => Ok(r),
        }
    }

    fn get_inner(&self, key: &[u8], deadline: Option<Instant>) -> Result<Value, Error> {
        self.get_with(key, |w| match deadline {
            None => w.wait(),
            Some(d) => w.wait_deadline(d),
        })
    }

    /// The body of every get; `wait` blocks a waiter until its outcome.
    /// A waiter whose leader left without a result (a binding's caller that
    /// went away: a cancelled context, an interrupted thread) takes the key
    /// again, and may lead the next load.
    fn get_with(
        &self,
        key: &[u8],
        mut wait: impl FnMut(Waiter<Value, Error>) -> Result<Value, FlightError<Error>>,
    ) -> Result<Value, Error> {
        let mut ticket = self.begin(key)?;
        loop {
            match ticket {
                GroupTicket::Hit(v) => return Ok(v),
                GroupTicket::Leader(leader) => return leader.load(),
                GroupTicket::Waiter(w) => match wait(w.waiter) {
                    Err(FlightError::Abandoned) => ticket = self.rejoin(key)?,
                    r => return r.map_err(Error::from),
                },
            }
        }
    }

    /// Starts a get without blocking: a hit answers at once; a miss makes
    /// this caller the [`GroupLeader`] of the key's load (it must run or
    /// complete it) or a [`GroupWaiter`] of another caller's.
    ///
    /// For bindings that park their own waiters instead of blocking a
    /// thread each: a Go goroutine on a channel, an asyncio task on a
    /// future. Counted as [`get`](Self::get) counts. A waiter whose result
    /// is [`Error::Abandoned`] (its leader left for its own reasons) should
    /// call [`rejoin`](Self::rejoin) and go on with the new ticket.
    ///
    /// # Errors
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn begin(&self, key: &[u8]) -> Result<GroupTicket, Error> {
        let inner = &*self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        inner.counters.gets.incr();
        if let Some(v) = self.lookup(key) {
            inner.counters.cache_hits.incr();
            return Ok(GroupTicket::Hit(v));
        }
        inner.counters.loads.incr();
        Ok(self.join(key, true))
    }

    /// Takes the key again after the load this caller waited for was
    /// abandoned: the cache, then the flight (as leader or waiter), without
    /// counting another get.
    ///
    /// # Errors
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn rejoin(&self, key: &[u8]) -> Result<GroupTicket, Error> {
        let inner = &*self.inner;
        if inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if let Some(v) = self.lookup(key) {
            return Ok(GroupTicket::Hit(v));
        }
        Ok(self.join(key, false))
    }

    /// Leads or joins the key's load. `first`: this is the get's first try
    /// (a rejoin's hit was counted as a load already, not again as a hit).
    fn join(&self, key: &[u8], first: bool) -> GroupTicket {
        let inner = &*self.inner;
        match inner.flight.begin(key.into()) {
            Ticket::Waiter(waiter) => GroupTicket::Waiter(GroupWaiter { waiter }),
            Ticket::Leader(leader) => {
                // Another leader may have filled the cache between our miss
                // and our becoming leader.
                if let Some(v) = self.lookup(key) {
                    if first {
                        inner.counters.cache_hits.incr();
                    }
                    let _ = leader.complete(Ok(Arc::clone(&v)));
                    return GroupTicket::Hit(v);
                }
                inner.counters.loads_deduped.incr();
                GroupTicket::Leader(GroupLeader {
                    group: self.clone(),
                    key: key.into(),
                    gen_at_start: inner.removals.load(Ordering::Acquire),
                    leader,
                })
            }
        }
    }

    /// Main, then hot, with one hash.
    fn lookup(&self, key: &[u8]) -> Option<Value> {
        let store = &self.inner.store;
        let h = store.hash(key);
        store.get(MAIN, h, key).or_else(|| store.get(HOT, h, key))
    }

    /// The owning peer's value for `key`, if a peer other than this
    /// process owns it and answers (a failure is counted and gives `None`:
    /// the caller loads locally).
    fn fetch_from_peer(&self, key: &[u8], gen_at_start: u64) -> Option<Value> {
        let inner = &*self.inner;
        let peer = inner.peers.get().and_then(|p| p.pick_peer(key))?;
        match peer.get(&inner.name, key) {
            Ok(v) => {
                inner.counters.peer_loads.incr();
                if inner.opts.hot_sample > 0 && one_in(inner.opts.hot_sample) {
                    self.populate(HOT, key, &v, gen_at_start);
                }
                Some(v)
            }
            Err(_) => {
                inner.counters.peer_errors.incr();
                None
            }
        }
    }

    /// Counts and stores a local getter's result.
    fn local_result(&self, key: &[u8], r: Result<Value, Error>, gen_at_start: u64) -> Result<Value, Error> {
        let inner = &*self.inner;
        match &r {
            Ok(v) => {
                inner.counters.local_loads.incr();
                self.populate(MAIN, key, v, gen_at_start);
            }
            Err(_) => inner.counters.local_load_errs.incr(),
        }
        r
    }

    fn populate(&self, seg: usize, key: &[u8], v: &Value, gen_at_start: u64) {
        let inner = &*self.inner;
        inner.store.insert(seg, key, Arc::clone(v), inner.opts.ttl, || {
            inner.removals.load(Ordering::Acquire) == gen_at_start && !inner.closed.load(Ordering::Acquire)
        });
    }

    /// Removes `key` from main and hot, and detaches any load in flight for
    /// it: later gets load afresh, and no load that started before this call
    /// stores its value. Returns true when an entry was removed.
    pub fn remove(&self, key: &[u8]) -> bool {
        let inner = &*self.inner;
        // Before the removal takes the shard lock: a load that checks the
        // counter under that lock either sees the bump or is removed below.
        inner.removals.fetch_add(1, Ordering::AcqRel);
        inner.flight.forget(&Box::from(key));
        let h = inner.store.hash(key);
        let a = inner.store.remove(MAIN, h, key);
        let b = inner.store.remove(HOT, h, key);
        a || b
    }

    /// The group's counters.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        Stats {
            gets: c.gets.get(),
            cache_hits: c.cache_hits.get(),
            peer_loads: c.peer_loads.get(),
            peer_errors: c.peer_errors.get(),
            loads: c.loads.get(),
            loads_deduped: c.loads_deduped.get(),
            local_loads: c.local_loads.get(),
            local_load_errs: c.local_load_errs.get(),
            server_requests: c.server_requests.get(),
        }
    }

    /// The counters of the main or the hot cache.
    pub fn cache_stats(&self, which: CacheType) -> CacheStats {
        self.inner.store.stats(match which {
            CacheType::Main => MAIN,
            CacheType::Hot => HOT,
        })
    }

    /// What the binding that made the group attached
    /// ([`GroupOptions::binding_data`]).
    pub fn binding_data(&self) -> Option<&Arc<dyn std::any::Any + Send + Sync>> {
        self.inner.opts.binding_data.as_ref()
    }

    /// The byte budget shared by main and hot (0 when caching is disabled).
    pub fn cache_bytes(&self) -> u64 {
        self.inner.store.budget()
    }

    /// Unregisters the group (its name can be used again) and drops what it
    /// caches. Later gets on any handle fail with [`Error::Closed`]; loads in
    /// flight finish for their waiters but store nothing. Idempotent.
    pub fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut reg = REGISTRY.write();
        if reg.get(&self.inner.name).is_some_and(|g| Arc::ptr_eq(&g.inner, &self.inner)) {
            reg.remove(&self.inner.name);
        }
        drop(reg);
        self.inner.store.clear();
    }

    /// True after [`close`](Self::close).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Walks both caches and panics if an invariant is broken. For tests.
    #[doc(hidden)]
    pub fn check_invariants(&self) {
        self.inner.store.check_invariants();
    }
}

/// What [`Group::begin`] hands out.
#[derive(Debug)]
pub enum GroupTicket {
    /// The value was cached.
    Hit(Value),
    /// This caller loads the key: it must [`load`](GroupLeader::load),
    /// [`run`](GroupLeader::run) or [`complete`](GroupLeader::complete) it;
    /// dropping it abandons the load (its waiters take the key again).
    Leader(GroupLeader),
    /// Another caller loads the key; wait for it.
    Waiter(GroupWaiter),
}

/// The caller that loads a key of a [`Group`]. Obtained from
/// [`Group::begin`].
///
/// Three ways to finish: [`load`](Self::load) runs the group's own path
/// (the owning peer, then the getter) on this thread;
/// [`run`](Self::run) runs a binding's getter call; [`complete`](Self::complete)
/// publishes a value or error the caller produced itself. Each stores a
/// value in the main cache, counts, and wakes every waiter. Dropping the
/// leader unfinished publishes [`Error::Abandoned`] (or
/// [`Error::LoaderPanicked`] during a panic): waiters then
/// [`rejoin`](Group::rejoin).
///
/// `Send`: it may be finished on another thread than the one that began it.
pub struct GroupLeader {
    group: Group,
    key: Box<[u8]>,
    /// The group's removal count when the load began: a removal since then
    /// keeps this load's value out of the cache.
    gen_at_start: u64,
    leader: Leader<Box<[u8]>, Value, Error>,
}

impl fmt::Debug for GroupLeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupLeader").field("group", &self.group.inner.name).finish_non_exhaustive()
    }
}

impl GroupLeader {
    /// The key being loaded.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The group being loaded.
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// Loads the key the group's own way on this thread: the owning peer if
    /// there is one (a failure falls back), else the group's [`Getter`]. A
    /// getter that asks for its own key on this thread gets
    /// [`Error::RecursiveLoad`]; a panic becomes [`Error::LoaderPanicked`].
    ///
    /// # Errors
    /// The getter's error, for this caller and every waiter.
    pub fn load(self) -> Result<Value, Error> {
        let group = self.group.clone();
        match self.run(|key| Ok::<_, std::convert::Infallible>(group.inner.getter.get(key).map_err(getter_error))) {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }

    /// Runs `getter` as this key's load on this thread (after the owning
    /// peer, if one answers): `Ok(result)` is published to every waiter and
    /// returned; `Err(x)` means this caller leaves for its own reasons (a
    /// Python `KeyboardInterrupt`, a cancelled task): nothing is published
    /// but [`Error::Abandoned`], so a waiter takes over the load, and `x`
    /// comes back to the caller. While `getter` runs, a get of the same key
    /// on this thread fails with [`Error::RecursiveLoad`] at once. A panic
    /// in `getter` is caught and published as [`Error::LoaderPanicked`].
    ///
    /// # Errors
    /// `Err(x)` from `getter`; inside `Ok`, the load's own error.
    pub fn run<X>(
        self,
        getter: impl FnOnce(&[u8]) -> Result<Result<Value, Error>, X>,
    ) -> Result<Result<Value, Error>, X> {
        let group = self.group.clone();
        // The peer and the getter both run behind `catch_unwind`: a panic in
        // either is published as `LoaderPanicked`, never unwound into the
        // caller.
        enum Loaded {
            Peer(Value),
            Local(Result<Value, Error>),
        }
        let out = {
            let _mark = self.leader.mark();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                match group.fetch_from_peer(&self.key, self.gen_at_start) {
                    Some(v) => Ok(Loaded::Peer(v)),
                    None => getter(&self.key).map(Loaded::Local),
                }
            }))
        };
        match out {
            Ok(Ok(Loaded::Peer(v))) => Ok(self.publish(Ok(v))),
            Ok(Ok(Loaded::Local(r))) => {
                let r = group.local_result(&self.key, r, self.gen_at_start);
                Ok(self.publish(r))
            }
            // Dropping `self` publishes `Abandoned`.
            Ok(Err(x)) => Err(x),
            Err(payload) => {
                group.inner.counters.local_load_errs.incr();
                Ok(self.publish(Err(Error::LoaderPanicked(crate::flight::panic_message(payload)))))
            }
        }
    }

    /// Publishes a result this caller produced itself (a binding that ran
    /// its getter outside the library): a value goes to the main cache and
    /// to every waiter, an error to every waiter. Counted as a local load.
    /// No peer is asked.
    ///
    /// # Errors
    /// `result`'s error, returned to this caller too.
    pub fn complete(self, result: Result<Value, Error>) -> Result<Value, Error> {
        let r = self.group.local_result(&self.key, result, self.gen_at_start);
        self.publish(r)
    }

    fn publish(self, r: Result<Value, Error>) -> Result<Value, Error> {
        self.leader.complete(r).map(|(v, _)| v).map_err(Error::from)
    }
}

/// A caller waiting for another caller's load of a [`Group`] key. Obtained
/// from [`Group::begin`]. Dropping it does not disturb the load.
#[derive(Debug)]
pub struct GroupWaiter {
    waiter: Waiter<Value, Error>,
}

impl GroupWaiter {
    /// Blocks until the load ends.
    ///
    /// # Errors
    /// The load's error; [`Error::Abandoned`] when its leader left (then
    /// [`Group::rejoin`]); [`Error::RecursiveLoad`] at once when the load is
    /// this thread's own.
    pub fn wait(self) -> Result<Value, Error> {
        self.waiter.wait().map_err(Error::from)
    }

    /// Blocks until the load ends or `timeout` passes ([`Error::Timeout`]).
    ///
    /// # Errors
    /// As [`wait`](Self::wait), plus [`Error::Timeout`].
    pub fn wait_timeout(self, timeout: Duration) -> Result<Value, Error> {
        match Deadline::after(timeout).instant() {
            Some(d) => self.waiter.wait_deadline(d).map_err(Error::from),
            None => self.wait(),
        }
    }

    /// The result if the load has ended, without blocking.
    pub fn try_result(&self) -> Option<Result<Value, Error>> {
        self.waiter.try_result().map(|r| r.map_err(Error::from))
    }

    /// Registers `hook` to run once when the load ends (at once if it has).
    /// See [`Waiter::on_ready`] and [`crate::hook`].
    pub fn on_ready(&self, hook: impl FnOnce() + Send + 'static) {
        self.waiter.on_ready(hook);
    }

    /// The underlying flight waiter (for `get_waiting`'s callers).
    pub fn waiter(&self) -> &Waiter<Value, Error> {
        &self.waiter
    }
}

/// True about once in `n` calls (a per-thread xorshift; not for security).
fn one_in(n: u32) -> bool {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let seed = std::collections::hash_map::RandomState::new();
            std::hash::BuildHasher::hash_one(&seed, std::thread::current().id()) | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x % u64::from(n) == 0
    })
}
