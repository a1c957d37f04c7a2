//! Model check of Flight with loom: every interleaving of a few callers.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom_flight`
//! (`make loom`).
#![cfg(loom)]

use edgecache::flight::{Flight, FlightError, Ticket};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

type F = Flight<u8, u32, &'static str>;

/// A loader that fails the model if two loaders for the key ever overlap.
fn loader(active: &AtomicUsize, runs: &AtomicUsize, out: Result<u32, &'static str>) -> Result<u32, &'static str> {
    assert_eq!(active.fetch_add(1, Ordering::SeqCst), 0, "two loaders ran at once for one key");
    runs.fetch_add(1, Ordering::SeqCst);
    active.fetch_sub(1, Ordering::SeqCst);
    out
}

fn three_callers(out: Result<u32, &'static str>) {
    loom::model(move || {
        let f = F::new();
        let active = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let (f, active, runs) = (f.clone(), active.clone(), runs.clone());
                thread::spawn(move || f.run(1, || loader(&active, &runs, out)))
            })
            .collect();
        let mine = f.run(1, || loader(&active, &runs, out));
        let mut results = vec![mine];
        results.extend(hs.into_iter().map(|h| h.join().unwrap()));
        for r in &results {
            match (r, out) {
                (Ok((v, _)), Ok(want)) => assert_eq!(*v, want),
                (Err(FlightError::Failed(e)), Err(want)) => assert_eq!(*e, want),
                (other, _) => panic!("unexpected {other:?}"),
            }
        }
        // Callers that did not run a loader shared someone's result.
        let runs = runs.load(Ordering::SeqCst);
        let shared = results.iter().filter(|r| matches!(r, Ok((_, true)))).count();
        assert!((1..=3).contains(&runs));
        if out.is_ok() && runs == 1 {
            assert_eq!(shared, 3, "one load for three callers must be marked shared");
        }
        assert_eq!(f.in_flight(), 0, "the key must be free afterwards");
    });
}

#[test]
fn one_loader_at_a_time_and_everyone_gets_the_value() {
    three_callers(Ok(7));
}

#[test]
fn an_error_reaches_everyone() {
    three_callers(Err("boom"));
}

#[test]
fn a_panicking_loader_wakes_the_waiter() {
    loom::model(|| {
        let f = F::new();
        let h = {
            let f = f.clone();
            thread::spawn(move || f.run(1, || panic!("loader panic")))
        };
        let mine = f.run(1, || Ok(5));
        let theirs = h.join().unwrap();
        // Either order: whoever led, the other saw a value or the panic.
        for r in [mine, theirs] {
            assert!(matches!(r, Ok((5, _)) | Err(FlightError::LoaderPanicked(_))), "{r:?}");
        }
        assert_eq!(f.in_flight(), 0);
    });
}

#[test]
fn a_dropped_leader_wakes_the_waiter() {
    loom::model(|| {
        let f = F::new();
        let leader = match f.begin(1) {
            Ticket::Leader(l) => l,
            Ticket::Waiter(_) => unreachable!("first caller leads"),
        };
        let h = {
            let f = f.clone();
            thread::spawn(move || match f.begin(1) {
                Ticket::Waiter(w) => Some(w.wait()),
                // The leader was already dropped: this caller leads, and
                // drops its ticket too.
                Ticket::Leader(_) => None,
            })
        };
        drop(leader);
        if let Some(r) = h.join().unwrap() {
            assert_eq!(r, Err(FlightError::Abandoned));
        }
        assert_eq!(f.in_flight(), 0);
    });
}

#[test]
fn forget_never_removes_the_successor() {
    loom::model(|| {
        let f = F::new();
        let old = match f.begin(1) {
            Ticket::Leader(l) => l,
            Ticket::Waiter(_) => unreachable!(),
        };
        let h = {
            let f = f.clone();
            thread::spawn(move || {
                f.forget(&1);
                f.begin(1)
            })
        };
        let _ = old.complete(Ok(1));
        // The other thread's ticket is a leader (the key was forgotten or
        // freed) and its flight must still be registered.
        match h.join().unwrap() {
            Ticket::Leader(new) => {
                assert_eq!(f.in_flight(), 1);
                let _ = new.complete(Ok(2));
            }
            Ticket::Waiter(_) => panic!("joined a flight that was forgotten or finished"),
        }
        assert_eq!(f.in_flight(), 0);
    });
}

/// A completion hook registered while the leader completes (before, during
/// or after, in every interleaving) runs exactly once, and the result is
/// there when it runs.
#[test]
fn a_hook_runs_exactly_once_around_completion() {
    for abandon in [false, true] {
        loom::model(move || {
            let f = F::new();
            let Ticket::Leader(leader) = f.begin(1) else { panic!("the first caller leads") };
            let Ticket::Waiter(w) = f.begin(1) else { panic!("the second waits") };
            let runs = Arc::new(AtomicUsize::new(0));
            let finisher = thread::spawn(move || {
                if abandon {
                    drop(leader);
                } else {
                    leader.complete(Ok(9)).unwrap();
                }
            });
            let w = Arc::new(w);
            let (r, w2) = (runs.clone(), w.clone());
            w.on_ready(move || {
                assert!(w2.is_done(), "a hook runs only once the result is set");
                r.fetch_add(1, Ordering::SeqCst);
            });
            finisher.join().unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 1, "the hook must run exactly once");
            let want = if abandon { Err(FlightError::Abandoned) } else { Ok(9) };
            assert_eq!(w.try_result(), Some(want));
        });
    }
}

/// A waiter dropped right after registering its hook never leaves the hook
/// unrun.
#[test]
fn a_dropped_waiter_still_gets_its_hook_run() {
    loom::model(|| {
        let f = F::new();
        let Ticket::Leader(leader) = f.begin(1) else { panic!() };
        let Ticket::Waiter(w) = f.begin(1) else { panic!() };
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let t = thread::spawn(move || {
            w.on_ready(move || {
                r.fetch_add(1, Ordering::SeqCst);
            });
            drop(w);
        });
        leader.complete(Ok(1)).unwrap();
        t.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}
