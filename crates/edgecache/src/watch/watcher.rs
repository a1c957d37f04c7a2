//! [`Watcher`]: one client's stream of events, and the hand-off between the
//! writers that fill its buffer and the reader that drains it.
//!
//! # Hand-off
//! Each watcher has its own mutex and condition variable. A writer, holding
//! the cache's lock, locks the watcher, appends the event (or closes the
//! watcher when its buffer is full), and notifies only if a reader is
//! blocked. The reader locks only the watcher, never the cache, so a slow or
//! stuck reader never delays a writer beyond one short critical section.
//! Lock order: cache, then watcher; never the reverse.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Inner;
use super::error::{CloseReason, WatchError};
use super::event::{Event, EventType};
use super::selector::Filter;
use crate::deadline::Deadline;
use crate::hook::{self, Hook};
use crate::sync::{self, Arc, AtomicU64, Condvar, Mutex, Ordering};

/// The buffer a watcher gets unless [`WatchOptions::buffer`] says otherwise:
/// 1024 live events (about 16 KiB of handles, the events themselves being
/// shared). Kubernetes sizes its per-watcher channels between 10 and 1000;
/// an edge agent has fewer, busier watchers, so we take the high end.
pub const DEFAULT_WATCH_BUFFER: usize = 1024;

/// How a watch behaves. Build with [`WatchOptions::new`] and the setters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Deliver BOOKMARK events: one every bookmark interval (see
    /// [`bookmark_interval`](WatchOptions::bookmark_interval)) at the
    /// cache's resourceVersion while the watcher is read, and one for each
    /// [`WatchCache::bookmark`](super::WatchCache::bookmark), whether or
    /// not any event matched the watcher's selectors. Default false.
    pub bookmarks: bool,
    /// Start with the current state (Kubernetes' streaming list,
    /// `sendInitialEvents=true`): the matching objects as ADDED events at
    /// one resourceVersion, then a BOOKMARK whose
    /// [`Event::initial_events_end`] is true, then the changes after it.
    /// With a non-zero resourceVersion the watch first waits (up to
    /// [`fresh_timeout`](WatchOptions::fresh_timeout)) until the cache has
    /// seen it. The end bookmark is sent even without
    /// [`bookmarks`](WatchOptions::bookmarks). Default false.
    pub send_initial_events: bool,
    /// How many live events the watcher may hold unread before it is closed
    /// with [`CloseReason::FellBehind`]. Must be at least 1. The initial
    /// events (the backlog from the window, or the current state for
    /// resourceVersion 0) do not count against it. Default
    /// [`DEFAULT_WATCH_BUFFER`].
    pub buffer: usize,
    /// The period of this watcher's bookmarks; `None` (the default) takes
    /// the cache's ([`WatchCacheBuilder::bookmark_interval`](super::WatchCacheBuilder::bookmark_interval)),
    /// `Some(ZERO)` sends none but those of [`WatchCache::bookmark`](super::WatchCache::bookmark).
    pub bookmark_interval: Option<Duration>,
    /// How long a watch with [`send_initial_events`](WatchOptions::send_initial_events)
    /// waits for its resourceVersion; `None` (the default) takes the
    /// cache's freshness timeout.
    pub fresh_timeout: Option<Duration>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            bookmarks: false,
            send_initial_events: false,
            buffer: DEFAULT_WATCH_BUFFER,
            bookmark_interval: None,
            fresh_timeout: None,
        }
    }
}

impl WatchOptions {
    /// The defaults: no bookmarks, no initial events, a buffer of
    /// [`DEFAULT_WATCH_BUFFER`].
    pub fn new() -> Self {
        WatchOptions::default()
    }

    /// Sets [`bookmarks`](WatchOptions::bookmarks).
    #[must_use]
    pub fn bookmarks(mut self, on: bool) -> Self {
        self.bookmarks = on;
        self
    }

    /// Sets [`send_initial_events`](WatchOptions::send_initial_events).
    #[must_use]
    pub fn send_initial_events(mut self, on: bool) -> Self {
        self.send_initial_events = on;
        self
    }

    /// Sets [`buffer`](WatchOptions::buffer).
    #[must_use]
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events;
        self
    }

    /// Sets [`bookmark_interval`](WatchOptions::bookmark_interval).
    #[must_use]
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = Some(every);
        self
    }

    /// Sets [`fresh_timeout`](WatchOptions::fresh_timeout).
    #[must_use]
    pub fn fresh_timeout(mut self, timeout: Duration) -> Self {
        self.fresh_timeout = Some(timeout);
        self
    }
}

/// What a watcher with `filter` should receive for the raw event `ev`,
/// following Kubernetes' cacheWatcher: an event concerns the watcher when
/// the new object (unless deleted) or the previous object matches; a change
/// that makes the object start matching arrives as ADDED, one that makes it
/// stop matching as DELETED (carrying the previous object). An event both
/// objects match arrives as MODIFIED.
pub(crate) fn project(f: &Filter, ev: &Event) -> Option<Event> {
    let cur = ev.kind != EventType::Deleted && f.matches(ev.object.labels(), ev.object.fields());
    let old = ev.prev.as_ref().is_some_and(|p| f.matches(p.labels(), p.fields()));
    match (cur, old) {
        (false, false) => None,
        (true, false) => Some(Event::new(EventType::Added, ev.rv, ev.object.clone(), None)),
        (true, true) => Some(Event::new(EventType::Modified, ev.rv, ev.object.clone(), ev.prev.clone())),
        (false, true) if ev.kind == EventType::Deleted => Some(ev.clone()),
        (false, true) => Some(Event::new(EventType::Deleted, ev.rv, ev.prev.clone()?, None)),
    }
}

/// When watcher `id`'s bookmark after one at `now` is due: one period
/// later, less a jitter of up to a tenth of it (fixed per watcher), so
/// watchers started together do not all wake in the same instant.
fn bookmark_after(id: u64, every: Option<Duration>, now: Instant) -> Option<Instant> {
    let every = every?;
    // Under loom time does not pass: a period of a millisecond or more is
    // never reached, a shorter one is always due (`bookmark_due`).
    #[cfg(loom)]
    if every >= Duration::from_millis(1) {
        return None;
    }
    // splitmix64 of the id: a well-spread fraction per watcher.
    let mut h = id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let jitter = every / 10_000 * u32::try_from(h % 1000).unwrap_or(0);
    now.checked_add(every.saturating_sub(jitter))
}

/// What the watcher's mutex guards.
struct WatcherState {
    /// Events not yet read, oldest first.
    /// Invariant: resourceVersions never decrease front to back.
    queue: VecDeque<Event>,
    /// How many events at the front of `queue` are the initial backlog.
    /// They do not count against the buffer.
    /// Invariant: `backlog <= queue.len()`.
    backlog: usize,
    /// Set once, never cleared; after it nothing more is queued.
    closed: Option<CloseReason>,
    /// Readers blocked on the condition variable; writers notify only when
    /// this is non-zero.
    waiting: usize,
    /// Completion hooks of readers that do not block a thread, with their
    /// ids; taken by the next event, bookmark or close and run after every
    /// lock is dropped, or cancelled by id.
    hooks: Vec<(u64, Hook)>,
    next_hook_id: u64,
    /// The resourceVersion of the last event read (initially the start).
    /// Invariant: a periodic bookmark is never below it.
    last_rv: u64,
    /// When the next periodic bookmark is due; `None`: never.
    next_bookmark: Option<Instant>,
    /// The resourceVersion of the end-of-initial-events bookmark, if the
    /// stream has one: a periodic bookmark there would say nothing new
    /// (the apiserver drops those too).
    initial_end_rv: Option<u64>,
}

/// The part of a watcher the cache keeps in its registry.
pub(crate) struct WatcherShared {
    /// Unique within its cache; used to unregister.
    pub(crate) id: u64,
    filter: Filter,
    bookmarks: bool,
    /// Live-event capacity. Invariant: `>= 1`.
    buffer: usize,
    /// The period of periodic bookmarks; `None` when there are none.
    bookmark_every: Option<Duration>,
    /// The stream carries events with resourceVersion greater than this.
    start_rv: u64,
    state: Mutex<WatcherState>,
    ready: Condvar,
}

impl WatcherShared {
    /// A registered-to-be watcher holding `backlog` as its first events.
    /// `bookmark_every` is the resolved period (`ZERO`: no periodic
    /// bookmarks).
    pub(crate) fn new(
        id: u64,
        filter: Filter,
        options: &WatchOptions,
        bookmark_every: Duration,
        start_rv: u64,
        backlog: VecDeque<Event>,
    ) -> Self {
        let bookmark_every = (options.bookmarks && !bookmark_every.is_zero()).then_some(bookmark_every);
        let first = bookmark_after(id, bookmark_every, Instant::now());
        WatcherShared {
            id,
            filter,
            bookmarks: options.bookmarks,
            buffer: options.buffer,
            bookmark_every,
            start_rv,
            state: Mutex::new(WatcherState {
                backlog: backlog.len(),
                queue: backlog,
                closed: None,
                waiting: 0,
                hooks: Vec::new(),
                next_hook_id: 0,
                last_rv: start_rv,
                next_bookmark: first,
                initial_end_rv: options.send_initial_events.then_some(start_rv),
            }),
            ready: Condvar::new(),
        }
    }

    fn schedule_bookmark(&self, now: Instant) -> Option<Instant> {
        bookmark_after(self.id, self.bookmark_every, now)
    }

    /// Whether a periodic bookmark due at `due` should go out now. Under
    /// loom time does not pass, so a bookmark scheduled at all (a period
    /// under a millisecond, see `bookmark_after`) is always due.
    #[cfg(not(loom))]
    fn bookmark_due(due: Instant) -> bool {
        Instant::now() >= due
    }

    #[cfg(loom)]
    fn bookmark_due(_due: Instant) -> bool {
        true
    }

    /// Offers a live event; called by a writer holding the cache's lock.
    /// Returns false once the watcher is closed, so the cache drops it from
    /// its registry.
    /// Hooks this wakes are moved to `fired`, for the writer to run once it
    /// has dropped the cache's lock.
    pub(crate) fn offer(&self, ev: &Event, fired: &mut Vec<Hook>) -> bool {
        if ev.rv <= self.start_rv {
            return !self.is_closed();
        }
        let projected = project(&self.filter, ev);
        let mut st = sync::lock(&self.state);
        if st.closed.is_some() {
            return false;
        }
        let Some(out) = projected else {
            return true;
        };
        if st.queue.len() - st.backlog >= self.buffer {
            // Never drop an event silently: end the stream here. The reader
            // gets everything before this event, then the reason.
            st.closed = Some(CloseReason::FellBehind { buffer: self.buffer });
            self.wake(&mut st, fired);
            return false;
        }
        st.queue.push_back(out);
        self.wake(&mut st, fired);
        true
    }

    /// Offers a bookmark; a watcher that did not ask for bookmarks, or
    /// whose buffer is full, skips it (a bookmark carries no state, so
    /// skipping one loses nothing).
    pub(crate) fn offer_bookmark(&self, ev: &Event, fired: &mut Vec<Hook>) -> bool {
        if !self.bookmarks || ev.rv < self.start_rv {
            return !self.is_closed();
        }
        let mut st = sync::lock(&self.state);
        if st.closed.is_some() {
            return false;
        }
        if st.queue.len() - st.backlog < self.buffer {
            st.queue.push_back(ev.clone());
            self.wake(&mut st, fired);
        }
        true
    }

    fn is_closed(&self) -> bool {
        sync::lock(&self.state).closed.is_some()
    }

    fn wake(&self, st: &mut WatcherState, fired: &mut Vec<Hook>) {
        if st.waiting > 0 {
            self.ready.notify_all();
        }
        fired.extend(st.hooks.drain(..).map(|(_, h)| h));
    }

    /// Closes the watcher. With `keep` the reader still gets what is
    /// queued; without, the queue is discarded. The first reason wins.
    /// Hooks it wakes go to `fired`.
    pub(crate) fn close(&self, reason: CloseReason, keep: bool, fired: &mut Vec<Hook>) {
        let mut st = sync::lock(&self.state);
        if st.closed.is_none() {
            st.closed = Some(reason);
        }
        if !keep {
            st.queue.clear();
            st.backlog = 0;
        }
        self.wake(&mut st, fired);
    }

    /// Registers `hook` for the next moment there is something to read;
    /// runs it at once (here, with no lock held) if there is already. See
    /// [`Watcher::on_ready`].
    fn on_ready(&self, hook: Hook) -> Option<(u64, Option<Duration>)> {
        let mut st = sync::lock(&self.state);
        let bookmark_due = st.next_bookmark.is_some_and(Self::bookmark_due);
        if !st.queue.is_empty() || st.closed.is_some() || bookmark_due {
            drop(st);
            hook::run(hook);
            return None;
        }
        let id = st.next_hook_id;
        st.next_hook_id += 1;
        st.hooks.push((id, hook));
        Some((id, st.next_bookmark.map(|t| t.saturating_duration_since(Instant::now()))))
    }

    /// Drops pending hook `id` unrun; false when it has run (or is unknown).
    fn cancel_ready(&self, id: u64) -> bool {
        let mut st = sync::lock(&self.state);
        let Some(pos) = st.hooks.iter().position(|h| h.0 == id) else { return false };
        let (_, hook) = st.hooks.swap_remove(pos);
        drop(st);
        // Its captures' destructors run outside the lock.
        drop(hook);
        true
    }

    /// The next event: `Ok(Some)` if one is queued, a periodic bookmark is
    /// due, or either happens before the deadline; `Ok(None)` when the
    /// deadline passes; `Err(Closed)` when the queue is empty and the
    /// watcher closed. `None` as deadline means "do not wait".
    ///
    /// `published` is the cache's resourceVersion as writers publish it
    /// after offering each event to every watcher. A periodic bookmark
    /// carries the value read while this watcher's lock is held and its
    /// queue is empty: any event at or below it was offered before it was
    /// published, so it is either already read or did not concern this
    /// watcher. So a bookmark never overtakes an event it should follow.
    fn next_until(&self, deadline: Option<Deadline>, published: &AtomicU64) -> Result<Option<Event>, WatchError> {
        let mut st = sync::lock(&self.state);
        loop {
            if let Some(ev) = st.queue.pop_front() {
                st.backlog = st.backlog.saturating_sub(1);
                st.last_rv = st.last_rv.max(ev.rv);
                return Ok(Some(ev));
            }
            if let Some(reason) = &st.closed {
                return Err(WatchError::closed(reason.clone()));
            }
            if let Some(due) = st.next_bookmark.filter(|d| Self::bookmark_due(*d)) {
                st.next_bookmark = self.schedule_bookmark(Instant::now().max(due));
                let rv = published.load(Ordering::Acquire);
                // Nothing to report before the cache has seen anything (the
                // apiserver too waits for its first event).
                if rv > 0 && rv >= st.last_rv && st.initial_end_rv != Some(rv) {
                    st.last_rv = rv;
                    return Ok(Some(Event::bookmark(rv)));
                }
            }
            let Some(deadline) = deadline else {
                return Ok(None);
            };
            let user_left = deadline.remaining();
            if user_left.is_some_and(|d| d.is_zero()) {
                return Ok(None);
            }
            let bookmark_left = st.next_bookmark.map(|t| t.saturating_duration_since(Instant::now()));
            let left = match (user_left, bookmark_left) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            st.waiting += 1;
            st = match left {
                None => sync::wait(&self.ready, st),
                Some(left) => sync::wait_timeout(&self.ready, st, left),
            };
            st.waiting -= 1;
        }
    }

    fn pending(&self) -> usize {
        sync::lock(&self.state).queue.len()
    }

    fn close_reason(&self) -> Option<CloseReason> {
        sync::lock(&self.state).closed.clone()
    }
}

/// A stream of events from a [`WatchCache`](super::WatchCache), made by
/// [`WatchCache::watch`](super::WatchCache::watch).
///
/// It yields the events after the requested resourceVersion that match its
/// selectors, in resourceVersion order, each once. When it closes (see
/// [`CloseReason`]) it first yields every event it holds, then every read
/// fails with [`WatchError::Closed`].
///
/// # Thread safety
/// `Send + Sync`; every method takes `&self`. Several threads may read one
/// watcher (each event goes to one of them), and [`close`](Watcher::close)
/// from any thread wakes a thread blocked in [`next`](Watcher::next).
/// Reading never blocks the cache's writers.
///
/// # Ownership
/// The watcher keeps the cache's shared state alive, not the
/// [`WatchCache`](super::WatchCache) handle: dropping the cache closes the
/// watcher with [`CloseReason::CacheClosed`]. Dropping the watcher closes
/// and unregisters it.
pub struct Watcher {
    shared: Arc<WatcherShared>,
    cache: Arc<Inner>,
}

impl Watcher {
    pub(crate) fn new(shared: Arc<WatcherShared>, cache: Arc<Inner>) -> Self {
        Watcher { shared, cache }
    }

    /// Blocks until the next event, or until the watcher is closed and
    /// drained.
    ///
    /// # Errors
    /// [`WatchError::Closed`] with the reason, once nothing is left to
    /// deliver.
    pub fn next(&self) -> Result<Event, WatchError> {
        match self.shared.next_until(Some(Deadline::never()), &self.cache.published)? {
            Some(ev) => Ok(ev),
            // Unreachable: without a deadline the wait only ends with an
            // event or a close. Report it as a close rather than panic.
            None => Err(WatchError::closed(CloseReason::Stopped)),
        }
    }

    /// Like [`next`](Watcher::next), but gives up after `timeout`:
    /// `Ok(None)` then. A timeout is not a close; the watcher stays usable.
    ///
    /// # Errors
    /// [`WatchError::Closed`] with the reason, once nothing is left to
    /// deliver.
    pub fn next_timeout(&self, timeout: Duration) -> Result<Option<Event>, WatchError> {
        self.shared.next_until(Some(Deadline::after(timeout)), &self.cache.published)
    }

    /// The next event if one is ready, without blocking.
    ///
    /// # Errors
    /// [`WatchError::Closed`] with the reason, once nothing is left to
    /// deliver.
    pub fn try_next(&self) -> Result<Option<Event>, WatchError> {
        self.shared.next_until(None, &self.cache.published)
    }

    /// Closes the watcher: discards what it holds, wakes any thread blocked
    /// in a read (which then fails with [`WatchError::Closed`]) and
    /// unregisters it from the cache. Idempotent; callable from any thread.
    /// If the watcher had already closed for another reason, that reason is
    /// kept.
    pub fn close(&self) {
        let mut fired = Vec::new();
        self.shared.close(CloseReason::Stopped, false, &mut fired);
        self.cache.unregister(self.shared.id);
        hook::run_all(fired);
    }

    /// Registers `hook` to run once there is something to read: an event, a
    /// close (then reads fail with the reason), or a due periodic bookmark.
    /// If there is already, it runs at once on this thread; otherwise on the
    /// thread of the writer or closer that makes it so, after the cache's
    /// locks are dropped. Every hook runs: a watcher always closes, at the
    /// latest when it is dropped. See [`crate::hook`].
    ///
    /// For readers that park instead of blocking a thread (a goroutine, an
    /// asyncio task): `loop { try_next()?; else on_ready(wake); park }`.
    /// Several hooks may be pending; each runs once.
    ///
    /// Returns, when the hook was kept for later, how long until the next
    /// periodic bookmark is due: nothing wakes a hook for that (bookmarks
    /// are made when read), so a reader that wants them should call
    /// [`try_next`](Self::try_next) again after that long. `None`: the hook
    /// ran already, or no periodic bookmark is scheduled.
    pub fn on_ready(&self, hook: impl FnOnce() + Send + 'static) -> Option<Duration> {
        self.shared.on_ready(Box::new(hook)).and_then(|(_, recheck)| recheck)
    }

    /// [`on_ready`](Self::on_ready) for a reader that may stop waiting
    /// before the hook runs (its bookmark timer or its own stop came
    /// first): `None` when the hook ran at once, else its id for
    /// [`cancel_ready`](Self::cancel_ready) and the time until the next
    /// periodic bookmark. A reader that cancels the hooks it no longer
    /// needs keeps at most one pending, however long the watcher stays
    /// idle.
    pub fn on_ready_cancellable(&self, hook: impl FnOnce() + Send + 'static) -> Option<(u64, Option<Duration>)> {
        self.shared.on_ready(Box::new(hook))
    }

    /// Drops the pending hook `id` (from
    /// [`on_ready_cancellable`](Self::on_ready_cancellable)) unrun: true
    /// when it was pending and now never runs, false when it has run or is
    /// running.
    pub fn cancel_ready(&self, id: u64) -> bool {
        self.shared.cancel_ready(id)
    }

    /// Why the watcher closed, or `None` while it is open. A closed watcher
    /// may still hold events to read.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.close_reason()
    }

    /// How many events are waiting to be read.
    pub fn pending(&self) -> usize {
        self.shared.pending()
    }
}

impl Iterator for &Watcher {
    type Item = Event;

    /// Blocks for the next event; `None` once the watcher is closed and
    /// drained ([`Watcher::close_reason`] says why).
    fn next(&mut self) -> Option<Event> {
        Watcher::next(self).ok()
    }
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("id", &self.shared.id)
            .field("start_rv", &self.shared.start_rv)
            .field("buffer", &self.shared.buffer)
            .finish_non_exhaustive()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.close();
    }
}
