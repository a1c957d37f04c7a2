//! Singleflight: one load per key, however many callers overlap on it.
//!
//! A [`Flight`] maps each key that is being loaded to the call in progress.
//! The first caller for a key becomes the *leader* and runs the load; every
//! caller that arrives while the load runs becomes a *waiter* and receives a
//! clone of the leader's result. When the load ends the key is free again:
//! the next caller starts a new load. Nothing is cached here; caching is the
//! job of [`Cache`](crate::Cache) and [`Group`](crate::Group).
//!
//! Two forms:
//! - [`Flight::run`] takes a closure and does everything.
//! - [`Flight::begin`] hands out a [`Ticket`] for callers that cannot pass a
//!   closure across their boundary (a C program, a Go goroutine): a
//!   [`Leader`] publishes with [`Leader::complete`], a [`Waiter`] blocks in
//!   [`Waiter::wait`], polls with [`Waiter::wait_for`], or registers a
//!   completion hook ([`crate::hook`]) with [`Waiter::on_ready`] and reads the
//!   result with [`Waiter::try_result`] once it has run.
//!
//! # Recursive loads
//! A loader that asks for its own key on the same thread (directly, or
//! through a chain of loads) would wait for itself forever. While
//! [`Flight::run`] runs a loader, the thread is marked as that call's
//! leader; a [`begin`](Flight::begin) for the same call on the same thread
//! gives a waiter whose every wait fails at once with
//! [`FlightError::RecursiveLoad`] (and whose hook runs at once).
//!
//! # Concurrent calls on the same key
//! Exactly one leader exists per key at a time. Completion is driven by the
//! leader's `Drop`: a leader that completes, returns an error, panics or is
//! simply dropped wakes every waiter, with the result,
//! [`FlightError::LoaderPanicked`] or [`FlightError::Abandoned`]. No waiter
//! can hang on a leader that went away.
//!
//! [`Flight::forget`] detaches the key from the call in progress, so later
//! callers start a new load; the detached load, when it ends, never removes
//! its successor from the map (the map entry is compared by identity).
//!
//! # Thread safety
//! `Flight` is `Send + Sync` and cheap to clone (an `Arc`); clones share the
//! same calls. The key map sits behind one mutex held only for a map lookup
//! or update, never while a loader runs.
//!
//! # Panics
//! A loader's panic never unwinds through [`Flight::run`]: it is caught and
//! becomes [`FlightError::LoaderPanicked`] for the leader and every waiter.
//! The methods of this module do not panic.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::hook::{self, Hook};
use crate::sync::{Arc, Condvar, Mutex, lock, wait, wait_timeout};

/// Why a flight produced no value.
///
/// `E` is the loader's own error type; it reaches every waiter unchanged as
/// [`FlightError::Failed`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlightError<E> {
    /// The loader returned this error. Nothing was cached; the next call for
    /// the key runs a new load.
    Failed(E),
    /// The loader panicked; the text is the panic message when it was a
    /// string, a fixed description otherwise.
    LoaderPanicked(String),
    /// The leader was dropped without completing (for example a C caller
    /// freed its ticket, or a Go goroutine gave up).
    Abandoned,
    /// This waiter gave up after its timeout. The load goes on for the
    /// others.
    Timeout,
    /// The caller asked for a key whose load its own thread is running (a
    /// loader asking for its own key): waiting would never end.
    RecursiveLoad,
}

impl<E: fmt::Display> fmt::Display for FlightError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlightError::Failed(e) => write!(f, "loader failed: {e}"),
            FlightError::LoaderPanicked(msg) => write!(f, "loader panicked: {msg}"),
            FlightError::Abandoned => f.write_str("the leading call was abandoned before it completed"),
            FlightError::Timeout => f.write_str("timed out waiting for the load in flight"),
            FlightError::RecursiveLoad => {
                f.write_str("recursive load: the key is being loaded by this same thread's loader")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for FlightError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FlightError::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// What a call hands to its waiters.
type Outcome<V, E> = Result<V, FlightError<E>>;

/// One load in progress.
struct Call<V, E> {
    state: Mutex<CallState<V, E>>,
    /// Signalled (notify_all) once, when `state.outcome` becomes `Some`.
    done: Condvar,
}

struct CallState<V, E> {
    /// `None` while the load runs; set exactly once by the leader (or by its
    /// drop guard) and never changed afterwards.
    outcome: Option<Outcome<V, E>>,
    /// How many callers joined as waiters. Only incremented while the key map
    /// lock is held and the call is still in the map, so once the call has
    /// left the map the count is final.
    dups: usize,
    /// Completion hooks registered by waiters before the outcome was set;
    /// taken (and run, after the lock is dropped) when it is set.
    hooks: Vec<Hook>,
}

impl<V, E> Call<V, E> {
    fn new() -> Self {
        Call { state: Mutex::new(CallState { outcome: None, dups: 0, hooks: Vec::new() }), done: Condvar::new() }
    }
}

/// The calls whose loader runs on this thread, innermost last (as
/// addresses: only compared, never dereferenced). Loom runs its threads on
/// one OS thread, so the check is off in loom builds.
#[cfg(not(loom))]
mod leading {
    use std::cell::RefCell;

    thread_local! {
        static LEADING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    /// Marks this thread as running call `id`'s loader until dropped.
    pub(crate) struct Mark(usize);

    impl Mark {
        pub(crate) fn new(id: usize) -> Mark {
            LEADING.with(|l| l.borrow_mut().push(id));
            Mark(id)
        }
    }

    impl Drop for Mark {
        fn drop(&mut self) {
            LEADING.with(|l| {
                let mut l = l.borrow_mut();
                if let Some(pos) = l.iter().rposition(|x| *x == self.0) {
                    l.remove(pos);
                }
            });
        }
    }

    /// True when this thread is running call `id`'s loader.
    pub(crate) fn is_leading(id: usize) -> bool {
        LEADING.with(|l| l.borrow().contains(&id))
    }
}

#[cfg(loom)]
mod leading {
    pub(crate) struct Mark;

    impl Mark {
        pub(crate) fn new(_id: usize) -> Mark {
            Mark
        }
    }

    pub(crate) fn is_leading(_id: usize) -> bool {
        false
    }
}

pub(crate) use leading::Mark;

/// A call's identity for the recursion check.
fn call_id<V, E>(call: &Arc<Call<V, E>>) -> usize {
    Arc::as_ptr(call).cast::<u8>() as usize
}

/// Keys with a load in progress, hashed with foldhash (the map is on every
/// miss's path; SipHash would be most of a flight's cost).
type CallMap<K, V, E> = HashMap<K, Arc<Call<V, E>>, foldhash::fast::RandomState>;

struct Inner<K, V, E> {
    /// Keys with a load in progress. Invariant: an entry is removed only by
    /// its own leader (compared with `Arc::ptr_eq`) or by `forget`.
    calls: Mutex<CallMap<K, V, E>>,
}

/// Singleflight over keys of type `K`, producing values of type `V` or loader
/// errors of type `E`.
///
/// See the [module docs](self) for the rules. `V` and `E` are cloned once per
/// waiter; wrap large values in an `Arc`.
pub struct Flight<K, V, E = std::convert::Infallible> {
    inner: Arc<Inner<K, V, E>>,
}

impl<K, V, E> Clone for Flight<K, V, E> {
    fn clone(&self) -> Self {
        Flight { inner: Arc::clone(&self.inner) }
    }
}

impl<K, V, E> Default for Flight<K, V, E>
where
    K: Hash + Eq + Clone,
    V: Clone,
    E: Clone,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, E> fmt::Debug for Flight<K, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = lock(&self.inner.calls).len();
        f.debug_struct("Flight").field("in_flight", &n).finish()
    }
}

/// What [`Flight::begin`] hands out: lead the load, or wait for it.
pub enum Ticket<K: Hash + Eq, V, E> {
    /// This caller runs the load and must [`complete`](Leader::complete) it
    /// (dropping it wakes the waiters with [`FlightError::Abandoned`]).
    Leader(Leader<K, V, E>),
    /// Another caller is loading; wait for its result.
    Waiter(Waiter<V, E>),
}

impl<K, V, E> Flight<K, V, E>
where
    K: Hash + Eq + Clone,
    V: Clone,
    E: Clone,
{
    /// Creates an empty flight.
    pub fn new() -> Self {
        Flight { inner: Arc::new(Inner { calls: Mutex::new(HashMap::default()) }) }
    }

    /// Runs `load` once for all callers that overlap on `key`.
    ///
    /// Returns the value and `shared`: true when more than one caller
    /// received this result (x/sync semantics: the leader too sees `true`
    /// when someone joined it). A loader error reaches every caller as
    /// [`FlightError::Failed`]; a loader panic as
    /// [`FlightError::LoaderPanicked`].
    pub fn run<F>(&self, key: K, load: F) -> Result<(V, bool), FlightError<E>>
    where
        F: FnOnce() -> Result<V, E>,
    {
        self.run_inner(key, None, load)
    }

    /// Like [`run`](Self::run), but a caller that finds a load already in
    /// flight waits at most `timeout` for it and then gets
    /// [`FlightError::Timeout`]; the load goes on for the others. A caller
    /// that becomes the leader runs the load to the end.
    pub fn run_timeout<F>(&self, key: K, timeout: Duration, load: F) -> Result<(V, bool), FlightError<E>>
    where
        F: FnOnce() -> Result<V, E>,
    {
        self.run_inner(key, Some(timeout), load)
    }

    fn run_inner<F>(&self, key: K, timeout: Option<Duration>, load: F) -> Result<(V, bool), FlightError<E>>
    where
        F: FnOnce() -> Result<V, E>,
    {
        match self.begin(key) {
            Ticket::Leader(leader) => match catch_unwind(AssertUnwindSafe(|| {
                let _mark = leader.mark();
                load()
            })) {
                Ok(result) => leader.complete(result),
                Err(payload) => {
                    let msg = panic_message(payload);
                    leader.finish(Err(FlightError::LoaderPanicked(msg)))
                }
            },
            Ticket::Waiter(waiter) => {
                let out = match timeout {
                    None => waiter.wait(),
                    Some(t) => match Deadline::after(t).instant() {
                        Some(d) => waiter.wait_deadline(d),
                        None => waiter.wait(),
                    },
                };
                out.map(|v| (v, true))
            }
        }
    }

    /// Joins the load in flight for `key`, or starts one.
    ///
    /// The returned [`Leader`] must be completed by the caller; until then
    /// every other `begin` for `key` returns a [`Waiter`].
    pub fn begin(&self, key: K) -> Ticket<K, V, E> {
        let mut calls = lock(&self.inner.calls);
        if let Some(call) = calls.get(&key) {
            let call = Arc::clone(call);
            if leading::is_leading(call_id(&call)) {
                // Not counted in `dups`: this waiter never reads the outcome.
                drop(calls);
                return Ticket::Waiter(Waiter { call, recursive: true });
            }
            // The call is in the map and we hold the map lock: the leader
            // cannot have read the final `dups` yet.
            lock(&call.state).dups += 1;
            drop(calls);
            return Ticket::Waiter(Waiter { call, recursive: false });
        }
        let call = Arc::new(Call::new());
        calls.insert(key.clone(), Arc::clone(&call));
        drop(calls);
        Ticket::Leader(Leader { flight: self.clone(), key: Some(key), call })
    }

    /// Detaches `key` from its load in flight, if any; returns whether there
    /// was one. Callers after this start a new load. Callers already waiting
    /// still get the detached load's result.
    pub fn forget(&self, key: &K) -> bool {
        lock(&self.inner.calls).remove(key).is_some()
    }

    /// How many callers are waiting on the load in flight for `key` (not
    /// counting its leader), or `None` when no load is in flight.
    pub fn waiting(&self, key: &K) -> Option<usize> {
        let calls = lock(&self.inner.calls);
        calls.get(key).map(|c| lock(&c.state).dups)
    }

    /// The number of keys with a load in flight.
    pub fn in_flight(&self) -> usize {
        lock(&self.inner.calls).len()
    }
}

/// The caller that runs the load for a key. Obtained from
/// [`Flight::begin`].
///
/// Dropping a leader without calling [`complete`](Self::complete) wakes
/// every waiter with [`FlightError::Abandoned`] (or
/// [`FlightError::LoaderPanicked`] when the drop happens during a panic), and
/// frees the key.
///
/// A `Leader` is `Send`: it may be completed on another thread than the one
/// that began it.
pub struct Leader<K: Hash + Eq, V, E> {
    flight: Flight<K, V, E>,
    /// `Some` until the outcome has been published.
    key: Option<K>,
    call: Arc<Call<V, E>>,
}

impl<K: Hash + Eq, V, E> fmt::Debug for Leader<K, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leader").field("completed", &self.key.is_none()).finish()
    }
}

impl<K: Hash + Eq, V: Clone, E: Clone> Leader<K, V, E> {
    /// Publishes the load's result to every waiter and frees the key.
    ///
    /// Returns the result for the leader itself, with `shared` as in
    /// [`Flight::run`].
    pub fn complete(self, result: Result<V, E>) -> Result<(V, bool), FlightError<E>> {
        self.finish(result.map_err(FlightError::Failed))
    }

    /// Publishes a flight-level failure (used for panics).
    fn finish(mut self, outcome: Outcome<V, E>) -> Result<(V, bool), FlightError<E>> {
        let dups = self.detach();
        // With no waiter nobody can ever read the outcome (none can join a
        // call that left the map): skip the clone and the wake-up.
        if dups > 0 {
            self.store(outcome.clone());
        }
        outcome.map(|v| (v, dups > 0))
    }
}

impl<K: Hash + Eq, V, E> Leader<K, V, E> {
    /// Marks this thread as running this call's loader until the mark is
    /// dropped: a [`Flight::begin`] of the same call on this thread then
    /// gives a waiter that fails with [`FlightError::RecursiveLoad`]. For
    /// code that runs the loader itself instead of through [`Flight::run`].
    pub(crate) fn mark(&self) -> Mark {
        Mark::new(call_id(&self.call))
    }

    /// Frees the key if it is still ours. Returns the final number of
    /// waiters; 0 if the outcome was already published.
    fn detach(&mut self) -> usize {
        let Some(key) = self.key.take() else { return 0 };
        let mut calls = lock(&self.flight.inner.calls);
        if calls.get(&key).is_some_and(|c| Arc::ptr_eq(c, &self.call)) {
            calls.remove(&key);
        }
        drop(calls);
        // The call has left the map (removed above or by `forget`), so no
        // waiter can join any more and `dups` is final.
        lock(&self.call.state).dups
    }

    /// Stores the outcome, wakes every waiter, then runs the hooks
    /// registered so far (with no lock held).
    fn store(&self, outcome: Outcome<V, E>) {
        let mut st = lock(&self.call.state);
        st.outcome = Some(outcome);
        let hooks = std::mem::take(&mut st.hooks);
        drop(st);
        self.call.done.notify_all();
        hook::run_all(hooks);
    }
}

impl<K: Hash + Eq, V, E> Drop for Leader<K, V, E> {
    fn drop(&mut self) {
        if self.key.is_none() {
            return;
        }
        let err = if std::thread::panicking() {
            FlightError::LoaderPanicked("the leading caller panicked".to_owned())
        } else {
            FlightError::Abandoned
        };
        if self.detach() > 0 {
            self.store(Err(err));
        }
    }
}

/// A caller waiting for another caller's load. Obtained from
/// [`Flight::begin`].
///
/// Dropping a waiter (for example after a timeout) does not disturb the
/// load or the other waiters.
pub struct Waiter<V, E> {
    call: Arc<Call<V, E>>,
    /// The call's loader runs on the thread that made this waiter.
    recursive: bool,
}

impl<V, E> fmt::Debug for Waiter<V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}

impl<V: Clone, E: Clone> Waiter<V, E> {
    /// Blocks until the leader publishes, and returns its result.
    ///
    /// # Errors
    /// The leader's error as [`FlightError::Failed`], or
    /// [`FlightError::LoaderPanicked`], [`FlightError::Abandoned`];
    /// [`FlightError::RecursiveLoad`] at once for a recursive waiter.
    pub fn wait(self) -> Result<V, FlightError<E>> {
        if self.recursive {
            return Err(FlightError::RecursiveLoad);
        }
        let mut st = lock(&self.call.state);
        loop {
            if let Some(out) = &st.outcome {
                return out.clone();
            }
            st = wait(&self.call.done, st);
        }
    }

    /// Blocks until the leader publishes or `deadline` passes
    /// ([`FlightError::Timeout`]).
    pub fn wait_deadline(self, deadline: Instant) -> Result<V, FlightError<E>> {
        loop {
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            match self.wait_for(left) {
                Some(out) => return out,
                None if left.is_zero() => return Err(FlightError::Timeout),
                None => {}
            }
        }
    }

    /// Waits at most `dur` for the result: `None` if it has not arrived yet.
    ///
    /// Meant for callers that must wake regularly (a Python binding checking
    /// for Ctrl-C); the waiter stays valid after `None`.
    pub fn wait_for(&self, dur: Duration) -> Option<Result<V, FlightError<E>>> {
        if self.recursive {
            return Some(Err(FlightError::RecursiveLoad));
        }
        let mut st = lock(&self.call.state);
        if st.outcome.is_none() && !dur.is_zero() {
            st = wait_timeout(&self.call.done, st, dur);
        }
        st.outcome.clone()
    }

    /// The result if the leader has published, without blocking; `None`
    /// while the load runs. For a caller woken by its
    /// [`on_ready`](Self::on_ready) hook, this is `Some`.
    pub fn try_result(&self) -> Option<Result<V, FlightError<E>>> {
        self.wait_for(Duration::ZERO)
    }

    /// True once the leader has published (always for a recursive waiter).
    pub fn is_done(&self) -> bool {
        self.recursive || lock(&self.call.state).outcome.is_some()
    }

    /// True when this waiter's load is run by its own thread's loader: every
    /// wait fails with [`FlightError::RecursiveLoad`].
    pub fn is_recursive(&self) -> bool {
        self.recursive
    }
}

impl<V, E> Waiter<V, E> {
    /// Registers `hook` to run once the result is ready: at once, on this
    /// thread, if it already is (or the waiter is recursive); otherwise on
    /// the thread that completes the load, after the flight's locks are
    /// dropped. It runs exactly once whatever happens to the leader
    /// (completed, failed, panicked or dropped) and to this waiter (the
    /// waiter may be dropped before it runs). See [`crate::hook`].
    pub fn on_ready(&self, hook: impl FnOnce() + Send + 'static) {
        if self.recursive {
            return hook::run(Box::new(hook));
        }
        let mut st = lock(&self.call.state);
        if st.outcome.is_some() {
            drop(st);
            return hook::run(Box::new(hook));
        }
        st.hooks.push(Box::new(hook));
    }
}

/// Turns a caught panic's payload into its message (the text of a `&str` or
/// `String` payload, a fixed description otherwise) and drops the payload
/// without letting a hostile one (whose `Drop` panics) unwind out of here.
///
/// For code that catches a loader's panic itself, such as a binding.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    };
    // Dropping the payload runs arbitrary code; keep its panic here.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    msg
}
