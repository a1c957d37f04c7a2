//! A reader-writer lock whose readers, while no writer has come by lately,
//! touch no cache line shared with other readers.
//!
//! A hit in a sharded cache takes its shard's read lock. With an ordinary
//! reader-writer lock that is two locked read-modify-writes on the lock
//! word, and when several cores hit the same popular shard the word's cache
//! line moves between them on every hit: in the two-thread `get_hit`
//! benchmark that was about half the cost of a hit. This lock follows the
//! idea of BRAVO (Dice and Kogan, "BRAVO — Biased Locking for
//! Reader-Writer Locks", USENIX ATC 2019) and of Folly's `SharedMutex`
//! "deferred readers":
//!
//! - Each lock has a `bias` flag. While it is set, a reader announces itself
//!   in its own *reader slot* (a padded cache line per live thread, in a table
//!   the lock's owner keeps: [`Readers`]), re-checks the flag, and reads. It
//!   writes only its own line and reads the flag's line, which stays shared.
//! - A writer takes the underlying lock, and if the flag is set clears it
//!   and waits until no reader slot names this lock (*revocation*). Store
//!   then fence then load on both sides (a Dekker hand-shake) means that
//!   either the reader sees the cleared flag and falls back, or the writer
//!   sees the reader and waits for it.
//! - Without the flag, readers take the underlying lock's read side (the
//!   *slow path*, what an ordinary lock always does). A slow reader sets the
//!   flag again once a quiet period has passed since the last revocation.
//!   The period is at least nine times as long as that revocation took, as
//!   in BRAVO, so writers spend at most about a tenth of their time
//!   revoking, and at least [`MIN_QUIET_NANOS`]. It doubles (up to
//!   [`MAX_QUIET_NANOS`]) each time a writer revokes soon after the flag
//!   was set again, so a lock written often settles into behaving as a
//!   plain reader-writer lock (plus one relaxed load per read), while a
//!   lock read for a while between writes goes back to the short period.
//!
//! Threads without a reader slot (more than [`SLOTS`] alive at once) and a
//! thread reading a second lock of the same table while it holds a fast read
//! (a nested read) take the slow path; both are correct, only slower.
//!
//! A writer waits for announced readers by spinning, then yielding, then
//! sleeping in growing steps (up to a millisecond). So a closure running
//! under a read guard that writes to the same lock (a self-deadlock with
//! any reader-writer lock) wakes its thread about a thousand times a second
//! instead of sleeping; the library never does that, and the public
//! `get_with` documents it as forbidden.
//!
//! The `--cfg loom` build swaps in loom's atomics, lock and cell, so the
//! `model` tests (`biased/model.rs`) check the hand-shake in every
//! interleaving (a data race between a fast reader and a writer fails the
//! model).

use std::ops::{Deref, DerefMut};

use crossbeam_utils::CachePadded;

use crate::counter::SLOTS;

#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};

/// The least time the fast path stays closed after a revocation. BRAVO's
/// rule alone (nine times the revocation) would reopen it after about a
/// microsecond here, where revoking is cheap: under a write-heavy mix the
/// lock would then flip every few operations and pay a revocation and a
/// clock read each time (measured: 75/25 read/write 15-25 % slower than a
/// plain lock).
const MIN_QUIET_NANOS: u64 = 50_000;

/// The most the quiet period grows to on a lock that keeps being written:
/// at most about a hundred revocations a second then.
const MAX_QUIET_NANOS: u64 = 10_000_000;

/// A revocation less than this many quiet periods after the flag was set
/// again doubles the period.
const SOON: u64 = 4;

/// The reader slots of every lock that shares them: one cache line per
/// thread slot (see `counter.rs`), holding the address of the lock that
/// thread is reading on the fast path, or 0.
///
/// A cache keeps one table for all its shards, so a writer scans one table
/// of [`SLOTS`] lines whichever shard it locks.
pub(crate) struct Readers {
    slots: Box<[CachePadded<AtomicUsize>]>,
    /// Tells tables apart, so debug builds can check that a lock is always
    /// used with the table it was made for.
    id: u64,
}

impl Default for Readers {
    fn default() -> Self {
        // A std atomic even under loom: a label, not part of any model.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Readers {
            slots: (0..SLOTS).map(|_| CachePadded::new(AtomicUsize::new(0))).collect(),
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// A reader-writer lock with biased readers; see the [module docs](self).
///
/// Every `read` and `write` must pass the [`Readers`] table the lock was
/// made with (checked in debug builds); the lock does not hold it, so one
/// table can serve many locks.
pub(crate) struct BiasedRwLock<T> {
    /// Readers may take the fast path. Set only under the read side of
    /// `raw`, cleared only under its write side.
    bias: AtomicBool,
    /// The slow path does not set `bias` again before this `imp::now()`.
    inhibit_until: AtomicU64,
    /// The current quiet period, in nanoseconds. Written under the write
    /// side of `raw`.
    quiet: AtomicU64,
    /// When `bias` was last set (`imp::now()`).
    opened_at: AtomicU64,
    raw: imp::RawLock,
    data: imp::Cell<T>,
    /// `Readers::id` of the table this lock is used with.
    table: u64,
}

// SAFETY: the lock hands out `&T` to several threads at once and `&mut T` to
// one, as `std::sync::RwLock` does, so it needs the same bounds.
unsafe impl<T: Send + Sync> Sync for BiasedRwLock<T> {}
// SAFETY: owning the lock is owning the `T`.
unsafe impl<T: Send> Send for BiasedRwLock<T> {}

impl<T> BiasedRwLock<T> {
    /// A lock around `value`, used with `readers`. `biased` opens the fast
    /// path from the start; a lock that will mostly be written (a cache
    /// with one shard writes on every hit) starts closed instead.
    pub(crate) fn new(value: T, readers: &Readers, biased: bool) -> Self {
        BiasedRwLock {
            bias: AtomicBool::new(biased),
            inhibit_until: AtomicU64::new(0),
            quiet: AtomicU64::new(MIN_QUIET_NANOS),
            opened_at: AtomicU64::new(imp::now()),
            raw: imp::RawLock::default(),
            data: imp::Cell::new(value),
            table: readers.id,
        }
    }

    fn id(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// Shared access for the calling thread, in reader slot
    /// `crate::counter::my_slot()`.
    #[inline]
    pub(crate) fn read<'a>(&'a self, readers: &'a Readers) -> ReadGuard<'a, T> {
        // SAFETY: `my_slot` is this thread's own while it lives.
        unsafe { self.read_in(readers, imp::my_slot()) }
    }

    /// [`read`](Self::read) in an explicit reader slot (`>= SLOTS`: none).
    ///
    /// # Safety
    /// No other thread may use `slot` with this table while the guard
    /// lives (two readers in one slot would hide one from a writer). The
    /// thread's own `crate::counter::my_slot()` always qualifies.
    #[inline]
    pub(crate) unsafe fn read_in<'a>(&'a self, readers: &'a Readers, slot: usize) -> ReadGuard<'a, T> {
        debug_assert_eq!(self.table, readers.id, "a biased lock used with another table");
        if self.bias.load(Ordering::Relaxed)
            && let Some(mine) = readers.slots.get(slot)
            // Not already reading another lock of this table on the fast
            // path (a nested read): that announcement must stay.
            && mine.load(Ordering::Relaxed) == 0
        {
            // Release, so that a writer of a lock this thread read before,
            // finding this later value in the slot, still synchronises with
            // the end of that earlier read.
            mine.store(self.id(), Ordering::Release);
            // Pairs with the fence in `revoke`: either this load sees the
            // flag cleared, or the revoking writer sees our announcement.
            fence(Ordering::SeqCst);
            // Acquire: pairs with the Release that set the flag, after the
            // last writer's changes became visible to that slow reader.
            if self.bias.load(Ordering::Acquire) {
                return ReadGuard { ptr: Some(self.data.get()), how: ReadHow::Fast(mine) };
            }
            mine.store(0, Ordering::Release);
        }
        self.read_slow()
    }

    #[inline]
    fn read_slow(&self) -> ReadGuard<'_, T> {
        let g = self.raw.read();
        if !self.bias.load(Ordering::Relaxed) && imp::recheck_due() {
            self.maybe_reopen();
        }
        ReadGuard { ptr: Some(self.data.get()), how: ReadHow::Slow(g) }
    }

    /// Sets the flag again if the quiet period since the last revocation
    /// is over. Called with the read side of `raw` held, so no writer is
    /// inside; the next one finds the flag set and revokes it.
    #[cold]
    #[inline(never)]
    fn maybe_reopen(&self) {
        let now = imp::now();
        if now >= self.inhibit_until.load(Ordering::Relaxed) {
            // Before the flag, so a writer that sees the flag sees this.
            self.opened_at.store(now, Ordering::Relaxed);
            self.bias.store(true, Ordering::Release);
        }
    }

    /// Exclusive access. Waits for readers on both paths.
    #[inline]
    pub(crate) fn write<'a>(&'a self, readers: &Readers) -> WriteGuard<'a, T> {
        debug_assert_eq!(self.table, readers.id, "a biased lock used with another table");
        let raw = self.raw.write();
        // The flag's last change was made under `raw`, so this sees it.
        if self.bias.load(Ordering::Relaxed) {
            self.revoke(readers);
        }
        WriteGuard { ptr: self.data.get_mut(), _raw: raw }
    }

    /// Clears the flag and waits until no reader slot names this lock.
    /// Called with the write side of `raw` held.
    #[cold]
    #[inline(never)]
    fn revoke(&self, readers: &Readers) {
        let start = imp::now();
        self.bias.store(false, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let id = self.id();
        for slot in readers.slots.iter() {
            let mut spins = 0u32;
            // Acquire: pairs with the reader's Release when it leaves, so
            // its reads come before our writes.
            while slot.load(Ordering::Acquire) == id {
                imp::backoff(&mut spins);
            }
        }
        let end = imp::now();
        let last = self.quiet.load(Ordering::Relaxed);
        let open_for = start.saturating_sub(self.opened_at.load(Ordering::Relaxed));
        let quiet = if open_for < last.saturating_mul(SOON) {
            last.saturating_mul(2).min(MAX_QUIET_NANOS)
        } else {
            MIN_QUIET_NANOS
        };
        let quiet = quiet.max(end.saturating_sub(start).saturating_mul(9));
        self.quiet.store(quiet, Ordering::Relaxed);
        self.inhibit_until.store(end.saturating_add(quiet), Ordering::Relaxed);
    }

    /// True while the fast path is open (for tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn biased(&self) -> bool {
        self.bias.load(Ordering::Relaxed)
    }
}

enum ReadHow<'a> {
    /// Announced in this reader slot.
    Fast(&'a AtomicUsize),
    /// Holding the underlying lock's read side.
    Slow(#[allow(dead_code, reason = "held for its Drop")] imp::ReadRaw<'a>),
}

/// Shared access; released on drop.
pub(crate) struct ReadGuard<'a, T> {
    /// `Some` until drop, which gives it up before the lock.
    ptr: Option<imp::ConstPtr<T>>,
    how: ReadHow<'a>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match &self.ptr {
            // SAFETY: a reader (fast or slow) is registered, so no writer
            // holds the lock until this guard drops.
            Some(p) => unsafe { p.deref() },
            None => unreachable!("read guard used after release"),
        }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // End the access before giving the lock up.
        self.ptr = None;
        if let ReadHow::Fast(mine) = self.how {
            mine.store(0, Ordering::Release);
        }
        // A slow guard's raw read guard drops after this.
    }
}

/// Exclusive access; released on drop.
pub(crate) struct WriteGuard<'a, T> {
    // Declared before `_raw`, so it drops (ends the access) first.
    ptr: imp::MutPtr<T>,
    _raw: imp::WriteRaw<'a>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write side is held and every fast reader has left.
        unsafe { self.ptr.deref() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes this the only borrow.
        unsafe { self.ptr.deref_mut() }
    }
}

/// The parts that differ under loom.
#[cfg(not(loom))]
mod imp {
    use std::cell::{Cell as StdCell, UnsafeCell};
    use std::ptr::NonNull;

    pub(crate) use crate::counter::my_slot;

    #[derive(Default)]
    pub(crate) struct RawLock(parking_lot::RwLock<()>);
    pub(crate) type ReadRaw<'a> = parking_lot::RwLockReadGuard<'a, ()>;
    pub(crate) type WriteRaw<'a> = parking_lot::RwLockWriteGuard<'a, ()>;

    impl RawLock {
        #[inline]
        pub(crate) fn read(&self) -> ReadRaw<'_> {
            self.0.read()
        }
        #[inline]
        pub(crate) fn write(&self) -> WriteRaw<'_> {
            self.0.write()
        }
    }

    pub(crate) struct Cell<T>(UnsafeCell<T>);
    pub(crate) struct ConstPtr<T>(NonNull<T>);
    pub(crate) struct MutPtr<T>(NonNull<T>);

    impl<T> Cell<T> {
        pub(crate) fn new(v: T) -> Self {
            Cell(UnsafeCell::new(v))
        }
        #[inline]
        pub(crate) fn get(&self) -> ConstPtr<T> {
            // SAFETY: `UnsafeCell::get` of a live cell is never null.
            ConstPtr(unsafe { NonNull::new_unchecked(self.0.get()) })
        }
        #[inline]
        pub(crate) fn get_mut(&self) -> MutPtr<T> {
            // SAFETY: as in `get`.
            MutPtr(unsafe { NonNull::new_unchecked(self.0.get()) })
        }
    }

    impl<T> ConstPtr<T> {
        /// # Safety
        /// No `&mut` to the value may exist while the result lives.
        #[inline]
        pub(crate) unsafe fn deref(&self) -> &T {
            // SAFETY: the caller's promise.
            unsafe { self.0.as_ref() }
        }
    }

    impl<T> MutPtr<T> {
        /// # Safety
        /// No other reference to the value may exist while the result lives.
        #[inline]
        pub(crate) unsafe fn deref(&self) -> &T {
            // SAFETY: the caller's promise.
            unsafe { self.0.as_ref() }
        }
        /// # Safety
        /// As for `deref`.
        #[inline]
        pub(crate) unsafe fn deref_mut(&mut self) -> &mut T {
            // SAFETY: the caller's promise.
            unsafe { self.0.as_mut() }
        }
    }

    /// Nanoseconds on the monotonic clock entry expiry uses.
    pub(crate) use crate::lru::clock_nanos as now;

    thread_local! {
        static SLOW_READS: StdCell<u32> = const { StdCell::new(0) };
    }

    /// True on every 64th slow read of this thread: how often a slow reader
    /// reads the clock to see whether the fast path may open again.
    #[inline]
    pub(crate) fn recheck_due() -> bool {
        SLOW_READS
            .try_with(|n| {
                let v = n.get().wrapping_add(1);
                n.set(v);
                v % 64 == 0
            })
            .unwrap_or(false)
    }

    /// Waits a little while a fast reader finishes: spins briefly, then
    /// yields the CPU, then sleeps in doubling steps up to a millisecond
    /// (a reader running a long closure should not cost a whole core).
    #[inline]
    pub(crate) fn backoff(spins: &mut u32) {
        *spins = spins.saturating_add(1);
        match *spins {
            0..64 => std::hint::spin_loop(),
            64..128 => std::thread::yield_now(),
            n => std::thread::sleep(std::time::Duration::from_micros(1 << (n - 128).min(10))),
        }
    }
}

/// Loom's versions: its lock and cell (which catch a fast reader racing a
/// writer), no clock (time stands at its end, so the fast path may always
/// reopen and the model sees every toggle), and no thread slots (tests pass
/// slots to `read_in`).
#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::ConstPtr;

    /// Loom's `MutPtr` with the two accessors the guards use.
    pub(crate) struct MutPtr<T>(loom::cell::MutPtr<T>);

    impl<T> MutPtr<T> {
        pub(crate) unsafe fn deref(&self) -> &T {
            // SAFETY: the caller's promise, as in the std version.
            unsafe { &*self.0.deref() }
        }
        pub(crate) unsafe fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as above.
            unsafe { self.0.deref() }
        }
    }

    #[derive(Default)]
    pub(crate) struct RawLock(loom::sync::RwLock<()>);
    pub(crate) type ReadRaw<'a> = loom::sync::RwLockReadGuard<'a, ()>;
    pub(crate) type WriteRaw<'a> = loom::sync::RwLockWriteGuard<'a, ()>;

    impl RawLock {
        pub(crate) fn read(&self) -> ReadRaw<'_> {
            self.0.read().unwrap_or_else(|p| p.into_inner())
        }
        pub(crate) fn write(&self) -> WriteRaw<'_> {
            self.0.write().unwrap_or_else(|p| p.into_inner())
        }
    }

    pub(crate) struct Cell<T>(loom::cell::UnsafeCell<T>);

    impl<T> Cell<T> {
        pub(crate) fn new(v: T) -> Self {
            Cell(loom::cell::UnsafeCell::new(v))
        }
        pub(crate) fn get(&self) -> ConstPtr<T> {
            self.0.get()
        }
        pub(crate) fn get_mut(&self) -> MutPtr<T> {
            MutPtr(self.0.get_mut())
        }
    }

    /// Loom threads share one OS thread, so thread-locals cannot tell them
    /// apart: without an explicit slot, read on the slow path.
    pub(crate) fn my_slot() -> usize {
        usize::MAX
    }

    pub(crate) fn now() -> u64 {
        u64::MAX
    }

    pub(crate) fn recheck_due() -> bool {
        true
    }

    pub(crate) fn backoff(_spins: &mut u32) {
        loom::thread::yield_now();
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod model;
