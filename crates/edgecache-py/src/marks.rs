//! Which loads the binding itself is leading, and on which thread: the
//! recursion check for the loads the core cannot see.
//!
//! The core marks a thread while it runs a loader through `Flight::run` or
//! `GroupLeader::run`, and a `begin` of the same call on that thread then
//! fails with `RecursiveLoad` instead of waiting for itself. Two kinds of
//! load here run outside those calls, because they must hold the load
//! across a return to Python: `Flight.do` (the ticket form, so that a
//! `KeyboardInterrupt` can abandon the load instead of failing it) and every
//! asyncio leader (`Group.aget`, `Flight.ado`), whose load goes on while the
//! event loop runs other tasks. A [`Mark`] records such a load as (owner,
//! key, thread) for as long as it is in flight; a synchronous wait for the
//! same owner and key on the same thread asks [`led_here`] first and raises
//! `RecursiveLoad` instead of blocking a thread that the load itself needs.
//!
//! For an asyncio leader, "the same thread" is the event loop's: a blocking
//! `get` of a key that a task of the same loop is loading can never end,
//! whichever task calls it. (Whether an *awaiting* task belongs to the
//! leader's own chain is asked in Python, with a context variable, in
//! `edgecache._aio`.)
//!
//! The mark is per key, not per call: a load detached by `Flight.forget` or
//! `Group.remove` still marks its key until it ends, so a get of that key on
//! the same thread, which would wait for a newer load by another thread,
//! raises `RecursiveLoad` too. The core's own marks are per call, but
//! `Leader::mark` is private to the core, and `GroupLeader::run` must finish
//! the load before it returns, which an asyncio leader cannot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::thread::{self, ThreadId};

/// (owner, key) → the marks on it: (mark id, thread).
type Marks = HashMap<(usize, Box<[u8]>), Vec<(u64, ThreadId)>>;

static MARKS: LazyLock<Mutex<Marks>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn marks() -> MutexGuard<'static, Marks> {
    // Nothing here panics while the lock is held; take the map anyway if
    // something did.
    MARKS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A load of `key` of `owner` in flight, led from the thread that made the
/// mark. Dropping it (on any thread) ends the mark.
#[derive(Debug)]
pub(crate) struct Mark {
    owner: usize,
    key: Box<[u8]>,
    id: u64,
}

impl Mark {
    /// Marks the current thread as leading `key` of `owner` (an address
    /// that identifies the flight or group while it lives).
    pub(crate) fn new(owner: usize, key: &[u8]) -> Mark {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        marks().entry((owner, key.into())).or_default().push((id, thread::current().id()));
        Mark { owner, key: key.into(), id }
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        let mut m = marks();
        let k = (self.owner, std::mem::take(&mut self.key));
        if let Some(v) = m.get_mut(&k) {
            v.retain(|(id, _)| *id != self.id);
            if v.is_empty() {
                m.remove(&k);
            }
        }
    }
}

/// True when the current thread leads a load of `key` of `owner` that the
/// binding marked: waiting for that key here would wait for itself.
pub(crate) fn led_here(owner: usize, key: &[u8]) -> bool {
    let m = marks();
    if m.is_empty() {
        return false;
    }
    let me = thread::current().id();
    // The map is keyed by an owned key; look up with a borrowed one.
    m.get(&(owner, Box::<[u8]>::from(key))).is_some_and(|v| v.iter().any(|(_, t)| *t == me))
}
