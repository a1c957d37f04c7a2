use super::*;
use std::sync::Arc;

/// A read in an explicit slot. Each test thread passes its own slot.
fn at<'a, T>(lock: &'a BiasedRwLock<T>, readers: &'a Readers, slot: usize) -> ReadGuard<'a, T> {
    // SAFETY: the tests give every thread its own slot.
    unsafe { lock.read_in(readers, slot) }
}

#[test]
fn fast_read_then_write_revokes_and_slow_read_reopens() {
    let readers = Readers::default();
    let lock = BiasedRwLock::new(5u64, &readers, true);
    assert!(lock.biased());
    {
        let r = at(&lock, &readers, 3);
        assert!(matches!(r.how, ReadHow::Fast(_)), "a biased lock reads on the fast path");
        assert_eq!(*r, 5);
        assert_eq!(readers.slots[3].load(Ordering::Relaxed), lock.id(), "the reader announced itself");
    }
    assert_eq!(readers.slots[3].load(Ordering::Relaxed), 0, "the announcement ends with the guard");
    *lock.write(&readers) = 6;
    assert!(!lock.biased(), "a writer closes the fast path");
    // Slow reads reopen it once the quiet period (at most 10 ms here)
    // has passed and a recheck falls due (every
    // 64th slow read of a thread).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !lock.biased() {
        assert!(std::time::Instant::now() < deadline, "the fast path never reopened");
        let r = at(&lock, &readers, 3);
        assert_eq!(*r, 6);
    }
    assert!(matches!(at(&lock, &readers, 3).how, ReadHow::Fast(_)));
}

#[test]
fn nested_and_slotless_reads_take_the_slow_path() {
    let readers = Readers::default();
    let (a, b) = (BiasedRwLock::new(1u8, &readers, true), BiasedRwLock::new(2u8, &readers, true));
    let ra = at(&a, &readers, 0);
    let rb = at(&b, &readers, 0);
    assert!(matches!(ra.how, ReadHow::Fast(_)));
    assert!(matches!(rb.how, ReadHow::Slow(_)), "a nested read must not overwrite the announcement");
    assert_eq!(readers.slots[0].load(Ordering::Relaxed), a.id());
    drop(rb);
    assert_eq!(readers.slots[0].load(Ordering::Relaxed), a.id(), "the inner slow read left the slot alone");
    drop(ra);
    assert!(matches!(at(&a, &readers, SLOTS).how, ReadHow::Slow(_)), "no slot, no fast path");
}

#[test]
fn a_writer_waits_for_a_fast_reader() {
    let readers = Arc::new(Readers::default());
    let lock = Arc::new(BiasedRwLock::new(0u64, &readers, true));
    let r = at(&lock, &readers, 1);
    assert!(matches!(r.how, ReadHow::Fast(_)));
    let (tx, rx) = std::sync::mpsc::channel();
    let w = {
        let (lock, readers) = (Arc::clone(&lock), Arc::clone(&readers));
        std::thread::spawn(move || {
            *lock.write(&readers) = 1;
            tx.send(()).expect("receiver alive");
        })
    };
    // The writer cannot finish while the fast reader holds its guard.
    assert!(rx.recv_timeout(std::time::Duration::from_millis(100)).is_err(), "writer ran over a fast reader");
    assert_eq!(*r, 0);
    drop(r);
    rx.recv_timeout(std::time::Duration::from_secs(10)).expect("writer finished after the reader left");
    w.join().expect("writer thread");
    assert_eq!(*at(&lock, &readers, 1), 1);
}

#[test]
fn threads_reading_and_writing_see_whole_values() {
    // Writers keep the two halves equal; a reader seeing them differ saw
    // a write in progress.
    let readers = Arc::new(Readers::default());
    let lock = Arc::new(BiasedRwLock::new((0u64, 0u64), &readers, true));
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let (lock, readers) = (Arc::clone(&lock), Arc::clone(&readers));
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    if t == 0 && i % 8 == 0 {
                        let mut g = lock.write(&readers);
                        g.0 += 1;
                        std::hint::black_box(&mut *g);
                        g.1 += 1;
                    } else {
                        let g = lock.read(&readers);
                        assert_eq!(g.0, g.1, "a reader saw half a write");
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("no thread panicked");
    }
    assert_eq!(*lock.read(&readers), (2500, 2500));
}
