//! Statistics counters that many threads bump without a locked
//! read-modify-write.
//!
//! Each live thread that counts gets a *thread slot*: a small index no other
//! live thread holds. A counter keeps one word per slot, and only the slot's
//! owner writes that word, with a plain load and store (no `lock` prefix, no
//! cache line shared with another writer). Ownership passes from a thread
//! that exits to the next thread that asks through a mutex-guarded free
//! list, so the next owner starts from the last value written. Threads
//! beyond [`SLOTS`] live at once share one word per counter and bump it with
//! `fetch_add`. Either way no increment is lost: once the threads that
//! counted are quiescent, a read is exact. A read racing with bumps may miss
//! the newest ones.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Thread slots: live threads beyond this many share an atomic word.
pub(crate) const SLOTS: usize = 32;

/// "No slot yet" in [`MY_SLOT`].
const UNSET: usize = usize::MAX;
/// "Use the shared word" in [`MY_SLOT`]: every slot was taken, or the thread
/// is exiting and has given its slot back.
const SHARED: usize = usize::MAX - 1;

/// Slots never handed out yet start here.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
/// Slots given back by threads that exited.
static FREE_SLOTS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's slot, [`UNSET`] or [`SHARED`]. No destructor, so it is
    /// readable even while the thread's other thread-locals are dropped.
    static MY_SLOT: Cell<usize> = const { Cell::new(UNSET) };
    /// Gives the slot back when the thread exits.
    static RELEASE: Release = const { Release(Cell::new(UNSET)) };
}

struct Release(Cell<usize>);

impl Drop for Release {
    fn drop(&mut self) {
        let slot = self.0.get();
        if slot >= SLOTS {
            return;
        }
        // Later bumps from this thread (other thread-locals' destructors)
        // go to the shared word, never to the slot handed on below.
        let _ = MY_SLOT.try_with(|s| s.set(SHARED));
        // The mutex orders this thread's last store to the slot's words
        // before the next owner's first load of them.
        FREE_SLOTS.lock().unwrap_or_else(|p| p.into_inner()).push(slot);
    }
}

/// This thread's slot, below [`SLOTS`], or [`SHARED`].
#[inline]
pub(crate) fn my_slot() -> usize {
    match MY_SLOT.try_with(Cell::get) {
        Ok(s) if s != UNSET => s,
        Ok(_) => claim_slot(),
        Err(_) => SHARED,
    }
}

#[cold]
fn claim_slot() -> usize {
    let reused = FREE_SLOTS.lock().unwrap_or_else(|p| p.into_inner()).pop();
    let slot = reused.unwrap_or_else(|| {
        // Never hand out more than SLOTS fresh indices, even when many
        // threads race here.
        let n = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
        if n < SLOTS {
            n
        } else {
            NEXT_SLOT.store(SLOTS, Ordering::Relaxed);
            SHARED
        }
    });
    if slot < SLOTS {
        // Register the release; if the thread is already tearing down its
        // thread-locals, give the slot straight back and share instead.
        if RELEASE.try_with(|r| r.0.set(slot)).is_err() {
            FREE_SLOTS.lock().unwrap_or_else(|p| p.into_inner()).push(slot);
            let _ = MY_SLOT.try_with(|s| s.set(SHARED));
            return SHARED;
        }
    }
    let _ = MY_SLOT.try_with(|s| s.set(slot));
    slot
}

/// One word per thread slot, each on its own cache line.
#[repr(align(64))]
#[derive(Default)]
struct Word(AtomicU64);

/// `N` monotonically increasing counters kept per thread slot. A bump is a
/// thread-local read, a load and a store; see the [module docs](self).
pub(crate) struct Counters<const N: usize> {
    /// `owned[slot][k]`: counter `k` as bumped by the owners of `slot`.
    owned: Box<[Owned<N>]>,
    /// Counter `k` as bumped by threads without a slot.
    shared: [Word; N],
}

/// The words of one thread slot. `N` words of 8 bytes share the slot's
/// cache line(s); only the slot's owner writes them.
#[repr(align(64))]
struct Owned<const N: usize>([AtomicU64; N]);

impl<const N: usize> Default for Counters<N> {
    fn default() -> Self {
        Counters {
            owned: (0..SLOTS).map(|_| Owned(std::array::from_fn(|_| AtomicU64::new(0)))).collect(),
            shared: std::array::from_fn(|_| Word::default()),
        }
    }
}

impl<const N: usize> Counters<N> {
    /// Adds one to counter `k`.
    #[inline]
    pub(crate) fn incr(&self, k: usize) {
        self.incr_in(my_slot(), k);
    }

    /// Adds one to counter `k` as the owner of thread slot `slot`, which
    /// must be this thread's [`my_slot`] (for a caller that already has it).
    #[inline]
    pub(crate) fn incr_in(&self, slot: usize, k: usize) {
        match self.owned.get(slot) {
            Some(words) => {
                // Only this thread writes this word (it owns `slot`), so a
                // load and a store lose nothing.
                let w = &words.0[k];
                w.store(w.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
            }
            None => {
                self.shared[k].0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counter `k`: the sum over every slot and the shared word.
    pub(crate) fn get(&self, k: usize) -> u64 {
        let owned: u64 = self.owned.iter().map(|w| w.0[k].load(Ordering::Relaxed)).sum();
        owned.wrapping_add(self.shared[k].0.load(Ordering::Relaxed))
    }
}

/// A single counter (see [`Counters`]), as `Group` keeps its statistics.
#[derive(Default)]
pub(crate) struct Counter(Counters<1>);

impl Counter {
    pub(crate) fn incr(&self) {
        self.0.incr(0);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.get(0)
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn live_threads_never_share_a_slot() {
        // More threads than slots, all alive at once: the owned slots they
        // report must be distinct (the rest share the atomic word).
        const THREADS: usize = SLOTS + 8;
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let slot = my_slot();
                    // Hold the slot until every thread has claimed one.
                    barrier.wait();
                    assert_eq!(my_slot(), slot, "a thread's slot changed while it lived");
                    slot
                })
            })
            .collect();
        let mut owned: Vec<usize> = handles.into_iter().map(|h| h.join().expect("no panic")).collect();
        assert!(owned.contains(&SHARED), "more threads than slots, yet none shares");
        owned.retain(|&s| s < SLOTS);
        let n = owned.len();
        owned.sort_unstable();
        owned.dedup();
        assert_eq!(owned.len(), n, "two live threads held the same slot");
    }

    #[test]
    fn counts_from_exited_and_overflow_threads_are_kept() {
        let c = Arc::new(Counters::<2>::default());
        for _ in 0..3 {
            let handles: Vec<_> = (0..SLOTS + 4)
                .map(|_| {
                    let c = Arc::clone(&c);
                    std::thread::spawn(move || {
                        for _ in 0..1000 {
                            c.incr(0);
                        }
                        c.incr(1);
                    })
                })
                .collect();
            for h in handles {
                h.join().expect("no panic");
            }
        }
        assert_eq!(c.get(0), 3 * (SLOTS as u64 + 4) * 1000);
        assert_eq!(c.get(1), 3 * (SLOTS as u64 + 4));
    }
}
