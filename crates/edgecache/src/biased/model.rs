//! Model checks of the hand-shake, run by `make loom` (`cargo test --lib
//! biased::model` with `--cfg loom`). Loom's cell fails the model if a fast
//! reader's access overlaps a writer's; the values read check that a reader
//! sees a writer's change whole or not at all.

use super::*;
use loom::sync::Arc;
use loom::thread;

/// A read in an explicit slot. Each test thread passes its own slot.
fn at<'a, T>(lock: &'a BiasedRwLock<T>, readers: &'a Readers, slot: usize) -> ReadGuard<'a, T> {
    // SAFETY: the tests give every thread its own slot.
    unsafe { lock.read_in(readers, slot) }
}

/// Writes `v` into both halves of a pair under the write lock; a
/// reader seeing the halves differ saw a write in progress.
fn write_both(lock: &BiasedRwLock<(u8, u8)>, readers: &Readers, v: u8) {
    let mut g = lock.write(readers);
    g.0 = v;
    g.1 = v;
}

/// One fast-path reader (slot 0) against one writer; the writer's two
/// halves must be seen together.
#[test]
fn fast_reader_and_writer() {
    loom::model(|| {
        let readers = Arc::new(Readers::default());
        let lock = Arc::new(BiasedRwLock::new((0u8, 0u8), &readers, true));
        let r = {
            let (lock, readers) = (Arc::clone(&lock), Arc::clone(&readers));
            thread::spawn(move || {
                let g = at(&lock, &readers, 0);
                assert_eq!(g.0, g.1);
                g.0
            })
        };
        write_both(&lock, &readers, 1);
        let seen = r.join().expect("reader");
        assert!(seen <= 1);
        // A reader after the write sees it, on either path.
        assert_eq!(*at(&lock, &readers, 1), (1, 1));
    });
}

/// Two readers in their own slots: one reopens the fast path on the
/// slow path while the other may be on either path, and a writer comes
/// by in between.
#[test]
fn reopen_races_a_writer() {
    loom::model(|| {
        let readers = Arc::new(Readers::default());
        let lock = Arc::new(BiasedRwLock::new(0u8, &readers, true));
        let hs: Vec<_> = (0..2)
            .map(|slot| {
                let (lock, readers) = (Arc::clone(&lock), Arc::clone(&readers));
                thread::spawn(move || {
                    let a = *at(&lock, &readers, slot);
                    let b = *at(&lock, &readers, slot);
                    // A later read never sees an older value.
                    assert!(b >= a);
                })
            })
            .collect();
        *lock.write(&readers) = 1;
        for h in hs {
            h.join().expect("reader");
        }
        assert_eq!(*at(&lock, &readers, 0), 1);
    });
}

/// Two writers and a reader: writers exclude each other, and the
/// reader sees 0, 1 or 2 whole.
#[test]
fn two_writers_one_reader() {
    loom::model(|| {
        let readers = Arc::new(Readers::default());
        let lock = Arc::new(BiasedRwLock::new((0u8, 0u8), &readers, true));
        let w = {
            let (lock, readers) = (Arc::clone(&lock), Arc::clone(&readers));
            thread::spawn(move || {
                let mut g = lock.write(&readers);
                g.0 += 1;
                g.1 += 1;
            })
        };
        let r = {
            let (lock, readers) = (Arc::clone(&lock), Arc::clone(&readers));
            thread::spawn(move || {
                let g = at(&lock, &readers, 1);
                assert_eq!(g.0, g.1);
            })
        };
        {
            let mut g = lock.write(&readers);
            g.0 += 1;
            g.1 += 1;
        }
        w.join().expect("writer");
        r.join().expect("reader");
        assert_eq!(*at(&lock, &readers, 0), (2, 2));
    });
}

/// A reader leaves lock `a` and announces itself for lock `b` in the
/// same slot; a writer of `a` that finds `b` there must still see the
/// read of `a` as finished (the announcement's Release).
#[test]
fn slot_reused_for_another_lock() {
    loom::model(|| {
        let readers = Arc::new(Readers::default());
        let a = Arc::new(BiasedRwLock::new((0u8, 0u8), &readers, true));
        let b = Arc::new(BiasedRwLock::new(0u8, &readers, true));
        let t = {
            let (a, b, readers) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&readers));
            thread::spawn(move || {
                {
                    let g = at(&a, &readers, 0);
                    assert_eq!(g.0, g.1);
                }
                let _held = at(&b, &readers, 0);
            })
        };
        write_both(&a, &readers, 1);
        t.join().expect("reader");
    });
}

/// A nested read (the slot already announces `a`) takes the slow path
/// on `b`, and a writer of `b` waits for it.
#[test]
fn nested_read_against_a_writer_of_the_inner_lock() {
    loom::model(|| {
        let readers = Arc::new(Readers::default());
        let a = Arc::new(BiasedRwLock::new(0u8, &readers, true));
        let b = Arc::new(BiasedRwLock::new((0u8, 0u8), &readers, true));
        let t = {
            let (a, b, readers) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&readers));
            thread::spawn(move || {
                let _outer = at(&a, &readers, 0);
                let g = at(&b, &readers, 0);
                assert_eq!(g.0, g.1);
            })
        };
        write_both(&b, &readers, 1);
        t.join().expect("reader");
    });
}

/// A writer closes the fast path, a slow reader (another thread)
/// reopens it, and a third thread reading on the fast path through
/// that reopening must see the write whole (the reopening's Release
/// carries the writer's changes on; loom's cell flags the read
/// otherwise).
#[test]
fn reopened_fast_read_sees_the_last_write() {
    loom::model(|| {
        let readers = Arc::new(Readers::default());
        let lock = Arc::new(BiasedRwLock::new((0u8, 0u8), &readers, true));
        let w = {
            let (lock, readers) = (Arc::clone(&lock), Arc::clone(&readers));
            thread::spawn(move || {
                write_both(&lock, &readers, 1);
            })
        };
        let s = {
            let (lock, readers) = (Arc::clone(&lock), Arc::clone(&readers));
            thread::spawn(move || {
                let g = at(&lock, &readers, 0);
                assert_eq!(g.0, g.1);
            })
        };
        {
            let g = at(&lock, &readers, 1);
            assert_eq!(g.0, g.1, "a fast reader saw half a write");
        }
        w.join().expect("writer");
        s.join().expect("slow reader");
    });
}
