//! The window: a ring of the newest events, resized the way Kubernetes'
//! `watchCache` resizes its buffer, and bounded by bytes as well.
//!
//! # Sizing
//! Each push first considers a resize, only when the window is full
//! (`len == capacity`):
//! - if the oldest buffered event is younger than the freshness duration,
//!   capacity doubles (capped at `max_capacity`): the window is too small to
//!   hold even the last 75 s of history;
//! - else, if the event a quarter of the capacity from the newest end is
//!   older than the freshness duration, capacity halves (not below
//!   `min_capacity`) and the oldest events beyond the new capacity leave.
//!
//! Then, if still full, the oldest event leaves; the new event goes in; and
//! while the counted bytes exceed `max_bytes`, the oldest events leave (the
//! new one too, if it alone exceeds the budget).

use std::collections::VecDeque;
use std::mem::size_of;
use std::time::Duration;

use super::error::WatchError;
use super::event::Event;

/// One buffered event and when it was recorded.
pub(crate) struct Slot {
    pub(crate) event: Event,
    /// Clock time of the push in nanoseconds (saturating), for the
    /// freshness checks.
    recorded: u64,
}

/// Fixed bookkeeping bytes per buffered event that `max_bytes` does not
/// count: the ring slot, the item allocation (with its reference-count
/// header) and the headers of the object's and the key's shared
/// allocations. Label and field maps are extra (shared across events while
/// unchanged; empty ones are free).
pub fn event_overhead_bytes() -> usize {
    const ARC_HEADER: usize = 2 * size_of::<usize>();
    // Item = Arc<ItemRec>; ItemRec = key Arc<str> + object Arc<[u8]> + u64
    // + two Arc<StrMap>.
    let item_rec = 2 * size_of::<std::sync::Arc<[u8]>>() + size_of::<u64>() + 2 * size_of::<usize>();
    size_of::<Slot>() + ARC_HEADER + item_rec + ARC_HEADER /* object */ + ARC_HEADER /* key */
}

/// `d` in nanoseconds, saturating (at 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The window of events.
pub(crate) struct Ring {
    /// Buffered events, oldest first.
    /// Invariants: resourceVersions strictly increase from front to back;
    /// `slots.len() <= capacity`.
    slots: VecDeque<Slot>,
    /// The window's current size in events.
    /// Invariant: `min_capacity <= capacity <= max_capacity`.
    capacity: usize,
    /// The smallest window (the configured `capacity`). Invariant: `>= 1`.
    min_capacity: usize,
    /// The largest window. Invariant: `>= min_capacity`.
    max_capacity: usize,
    /// Σ `Event::counted_bytes` over `slots`.
    /// Invariant: `bytes <= max_bytes` between calls.
    bytes: usize,
    /// The byte budget of the window (`usize::MAX` when unbounded).
    max_bytes: usize,
    /// Events younger than this count as fresh for sizing (75 s default).
    fresh: Duration,
    /// The resourceVersion of the last relist; `None` until the first.
    list_rv: Option<u64>,
    /// True once any event has left the window since the last relist (or,
    /// without one, since creation). While false and `list_rv` is set, every
    /// event since the relist is buffered.
    evicted_since_relist: bool,
}

impl Ring {
    /// An empty window. The arguments must already be validated
    /// (`1 <= min_capacity <= max_capacity`, `max_bytes >= 1`).
    pub(crate) fn new(min_capacity: usize, max_capacity: usize, max_bytes: usize, fresh: Duration) -> Self {
        Ring {
            slots: VecDeque::new(),
            capacity: min_capacity,
            min_capacity,
            max_capacity,
            bytes: 0,
            max_bytes,
            fresh,
            list_rv: None,
            evicted_since_relist: false,
        }
    }

    fn is_full(&self) -> bool {
        self.slots.len() >= self.capacity
    }

    fn pop_oldest(&mut self) {
        if let Some(s) = self.slots.pop_front() {
            self.bytes -= s.event.counted_bytes();
            self.evicted_since_relist = true;
        }
    }

    /// Appends `event`, recorded at `now`. Its resourceVersion must be
    /// greater than every buffered one (the cache checks).
    pub(crate) fn push(&mut self, event: Event, now: Duration) {
        self.resize(now);
        if self.is_full() {
            self.pop_oldest();
        }
        self.bytes += event.counted_bytes();
        self.slots.push_back(Slot { event, recorded: nanos(now) });
        while self.bytes > self.max_bytes {
            self.pop_oldest();
        }
    }

    /// Kubernetes' resize rule (see the module docs). Only a full window
    /// resizes.
    fn resize(&mut self, now: Duration) {
        if !self.is_full() {
            return;
        }
        let len = self.slots.len();
        let Some(oldest) = self.slots.front() else {
            return;
        };
        let now = nanos(now);
        let fresh = nanos(self.fresh);
        if now.saturating_sub(oldest.recorded) < fresh {
            let grown = self.capacity.saturating_mul(2).min(self.max_capacity);
            if grown > self.capacity {
                self.slots.reserve_exact(grown - len);
                self.capacity = grown;
            }
            return;
        }
        // The oldest of the newest quarter. With capacity < 4 the quarter is
        // empty and this wraps to the oldest event, as the index arithmetic
        // on Kubernetes' ring does.
        let idx = (len - self.capacity / 4) % len;
        if now.saturating_sub(self.slots[idx].recorded) > fresh {
            let shrunk = (self.capacity / 2).max(self.min_capacity);
            if shrunk < self.capacity {
                while self.slots.len() > shrunk {
                    self.pop_oldest();
                }
                self.capacity = shrunk;
                self.slots.shrink_to(shrunk);
            }
        }
    }

    /// Empties the window for a relist at `rv`.
    pub(crate) fn reset(&mut self, rv: u64) {
        self.slots.clear();
        self.bytes = 0;
        self.list_rv = Some(rv);
        self.evicted_since_relist = false;
    }

    /// The smallest resourceVersion a request may name right now, given the
    /// cache's resourceVersion `current`: one less than the oldest event the
    /// window can deliver.
    pub(crate) fn oldest_accepted(&self, current: u64) -> u64 {
        let oldest_deliverable = match (self.list_rv, self.evicted_since_relist) {
            // Nothing left since the relist: everything after it is here.
            (Some(list_rv), false) => list_rv.saturating_add(1),
            _ => match self.slots.front() {
                Some(s) => s.event.rv,
                // Nothing buffered and no complete history: only "now".
                None => current.saturating_add(1),
            },
        };
        oldest_deliverable.saturating_sub(1)
    }

    /// Fails with [`WatchError::ResourceExpired`] when events after `rv` may
    /// have left the window.
    pub(crate) fn check(&self, rv: u64, current: u64) -> Result<(), WatchError> {
        let oldest = self.oldest_accepted(current);
        if rv < oldest {
            return Err(WatchError::ResourceExpired { requested: rv, oldest });
        }
        Ok(())
    }

    /// The buffered events with resourceVersion greater than `rv`, oldest
    /// first, found by binary search.
    pub(crate) fn since(&self, rv: u64) -> impl DoubleEndedIterator<Item = &Event> {
        let start = self.slots.partition_point(|s| s.event.rv <= rv);
        self.slots.range(start..).map(|s| &s.event)
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn min_capacity(&self) -> usize {
        self.min_capacity
    }

    pub(crate) fn max_capacity(&self) -> usize {
        self.max_capacity
    }

    pub(crate) fn max_bytes(&self) -> Option<usize> {
        (self.max_bytes != usize::MAX).then_some(self.max_bytes)
    }

    pub(crate) fn list_rv(&self) -> Option<u64> {
        self.list_rv
    }

    pub(crate) fn oldest_buffered(&self) -> Option<u64> {
        self.slots.front().map(|s| s.event.rv)
    }
}
