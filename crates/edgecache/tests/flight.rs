//! Flight (singleflight) rules, each shown with real threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use edgecache::flight::{Flight, FlightError, Ticket};

type F = Flight<String, u64, String>;
type Joined = thread::JoinHandle<Result<(u64, bool), FlightError<String>>>;

/// Polls `cond` every millisecond for at most 10 s; panics if it never holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

fn lead(f: &F, key: &str) -> edgecache::flight::Leader<String, u64, String> {
    match f.begin(key.to_owned()) {
        Ticket::Leader(l) => l,
        Ticket::Waiter(_) => panic!("expected to lead {key}"),
    }
}

/// Starts `n` threads calling `run` on `key` with a loader that counts its
/// calls, while a leader ticket holds the key; returns the joined results.
fn waiters_behind_leader(f: &F, key: &str, n: usize, calls: &Arc<AtomicUsize>) -> Vec<Joined> {
    (0..n)
        .map(|_| {
            let f = f.clone();
            let key = key.to_owned();
            let calls = Arc::clone(calls);
            thread::spawn(move || {
                f.run(key, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(999)
                })
            })
        })
        .collect()
}

#[test]
fn alone_the_leader_is_not_shared() {
    let f = F::new();
    assert_eq!(f.run("k".into(), || Ok(7)), Ok((7, false)));
    assert_eq!(f.in_flight(), 0);
}

#[test]
fn overlapping_callers_share_one_load() {
    let f = F::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let leader = lead(&f, "k");
    let hs = waiters_behind_leader(&f, "k", 64, &calls);
    eventually("64 waiters", || f.waiting(&"k".to_owned()) == Some(64));
    assert_eq!(leader.complete(Ok(42)), Ok((42, true)));
    for h in hs {
        assert_eq!(h.join().unwrap(), Ok((42, true)));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no waiter may run its own loader");
    assert_eq!(f.in_flight(), 0);
}

#[test]
fn thousand_threads_one_key_one_load() {
    let f = F::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(1000));
    let release = Arc::new(std::sync::Mutex::new(()));
    let gate = release.lock().unwrap();
    let hs: Vec<_> = (0..1000)
        .map(|_| {
            let (f, calls, start, release) = (f.clone(), calls.clone(), start.clone(), release.clone());
            thread::spawn(move || {
                start.wait();
                f.run("hot".into(), || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // Hold the load until the test has seen everyone join.
                    drop(release.lock().unwrap());
                    Ok(1)
                })
            })
        })
        .collect();
    eventually("999 waiters behind one leader", || f.waiting(&"hot".to_owned()) == Some(999));
    drop(gate);
    for h in hs {
        assert_eq!(h.join().unwrap(), Ok((1, true)));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn an_error_reaches_every_waiter_and_is_not_cached() {
    let f = F::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let leader = lead(&f, "k");
    let hs = waiters_behind_leader(&f, "k", 8, &calls);
    eventually("8 waiters", || f.waiting(&"k".to_owned()) == Some(8));
    assert_eq!(leader.complete(Err("upstream 503".into())), Err(FlightError::Failed("upstream 503".into())));
    for h in hs {
        assert_eq!(h.join().unwrap(), Err(FlightError::Failed("upstream 503".into())));
    }
    // The next call loads again.
    assert_eq!(f.run("k".into(), || Ok(5)), Ok((5, false)));
}

#[test]
fn a_panicking_loader_reaches_every_waiter_and_frees_the_key() {
    let f = F::new();
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(std::sync::Mutex::new(()));
    let gate = release.lock().unwrap();
    let leader = {
        let (f, entered, release) = (f.clone(), entered.clone(), release.clone());
        thread::spawn(move || {
            f.run("k".into(), move || {
                entered.wait();
                drop(release.lock().unwrap());
                panic!("loader exploded")
            })
        })
    };
    entered.wait();
    let calls = Arc::new(AtomicUsize::new(0));
    let hs = waiters_behind_leader(&f, "k", 8, &calls);
    eventually("8 waiters", || f.waiting(&"k".to_owned()) == Some(8));
    drop(gate);
    let want = Err(FlightError::LoaderPanicked("loader exploded".into()));
    assert_eq!(leader.join().expect("the panic must not escape run"), want);
    for h in hs {
        assert_eq!(h.join().unwrap(), want);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(f.in_flight(), 0);
    assert_eq!(f.run("k".into(), || Ok(1)), Ok((1, false)));
}

#[test]
fn a_non_string_panic_payload_is_described() {
    let f = F::new();
    let out = f.run("k".into(), || std::panic::panic_any(17_u8));
    assert!(matches!(out, Err(FlightError::LoaderPanicked(m)) if m.contains("non-string")));
}

#[test]
fn a_dropped_leader_wakes_waiters_with_abandoned() {
    let f = F::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let leader = lead(&f, "k");
    let hs = waiters_behind_leader(&f, "k", 4, &calls);
    eventually("4 waiters", || f.waiting(&"k".to_owned()) == Some(4));
    drop(leader);
    for h in hs {
        assert_eq!(h.join().unwrap(), Err(FlightError::Abandoned));
    }
    assert_eq!(f.in_flight(), 0);
}

#[test]
fn a_leader_dropped_while_panicking_reports_a_panic() {
    let f = F::new();
    let leader = lead(&f, "k");
    let waiter = match f.begin("k".into()) {
        Ticket::Waiter(w) => w,
        Ticket::Leader(_) => panic!("expected a waiter"),
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _held = leader;
        panic!("caller blew up");
    }));
    assert!(r.is_err());
    assert!(matches!(waiter.wait(), Err(FlightError::LoaderPanicked(_))));
}

#[test]
fn forget_starts_a_new_load_and_the_old_one_does_not_remove_it() {
    let f = F::new();
    let old = lead(&f, "k");
    assert!(f.forget(&"k".to_owned()));
    assert!(!f.forget(&"k".to_owned()));
    let new = lead(&f, "k");
    // The forgotten flight ends: its successor must stay in flight.
    assert_eq!(old.complete(Ok(1)), Ok((1, false)));
    assert_eq!(f.in_flight(), 1);
    let w = match f.begin("k".into()) {
        Ticket::Waiter(w) => w,
        Ticket::Leader(_) => panic!("the successor flight was removed by its predecessor"),
    };
    assert_eq!(new.complete(Ok(2)), Ok((2, true)));
    assert_eq!(w.wait(), Ok(2));
}

#[test]
fn waiters_of_a_forgotten_flight_still_get_its_result() {
    let f = F::new();
    let old = lead(&f, "k");
    let w = match f.begin("k".into()) {
        Ticket::Waiter(w) => w,
        Ticket::Leader(_) => panic!("expected a waiter"),
    };
    f.forget(&"k".to_owned());
    assert_eq!(old.complete(Ok(3)), Ok((3, true)));
    assert_eq!(w.wait(), Ok(3));
}

#[test]
fn a_waiter_times_out_without_disturbing_the_others() {
    let f = F::new();
    let leader = lead(&f, "k");
    let patient = {
        let f = f.clone();
        thread::spawn(move || f.run("k".into(), || Ok(0)))
    };
    eventually("the patient waiter", || f.waiting(&"k".to_owned()) == Some(1));
    let impatient = f.run_timeout("k".into(), Duration::from_millis(20), || Ok(0));
    assert_eq!(impatient, Err(FlightError::Timeout));
    assert_eq!(leader.complete(Ok(9)), Ok((9, true)));
    assert_eq!(patient.join().unwrap(), Ok((9, true)));
}

#[test]
fn wait_for_polls_and_stays_valid() {
    let f = F::new();
    let leader = lead(&f, "k");
    let w = match f.begin("k".into()) {
        Ticket::Waiter(w) => w,
        Ticket::Leader(_) => panic!("expected a waiter"),
    };
    assert_eq!(w.wait_for(Duration::from_millis(1)), None);
    assert!(!w.is_done());
    let _ = leader.complete(Ok(4));
    assert!(w.is_done());
    assert_eq!(w.wait_for(Duration::ZERO), Some(Ok(4)));
    assert_eq!(w.wait(), Ok(4));
}

#[test]
fn a_leader_completes_on_another_thread() {
    let f = F::new();
    let leader = lead(&f, "k");
    let w = match f.begin("k".into()) {
        Ticket::Waiter(w) => w,
        Ticket::Leader(_) => panic!("expected a waiter"),
    };
    thread::spawn(move || leader.complete(Ok(11))).join().unwrap().unwrap();
    assert_eq!(w.wait(), Ok(11));
}

#[test]
fn distinct_keys_load_independently() {
    let f = F::new();
    let a = lead(&f, "a");
    assert_eq!(f.run("b".into(), || Ok(2)), Ok((2, false)));
    assert_eq!(f.in_flight(), 1);
    let _ = a.complete(Ok(1));
}

#[test]
fn a_hook_runs_once_whether_registered_before_or_after_completion() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let f: Flight<&str, u32, String> = Flight::new();
    let Ticket::Leader(leader) = f.begin("k") else { panic!() };
    let Ticket::Waiter(before) = f.begin("k") else { panic!() };
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    before.on_ready(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(before.try_result(), None);
    let Ticket::Waiter(dropped) = f.begin("k") else { panic!() };
    let r = runs.clone();
    dropped.on_ready(move || {
        r.fetch_add(10, Ordering::SeqCst);
    });
    drop(dropped); // the hook outlives its waiter
    leader.complete(Ok(7)).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 11);
    let r = runs.clone();
    before.on_ready(move || {
        r.fetch_add(100, Ordering::SeqCst);
    });
    assert_eq!(runs.load(Ordering::SeqCst), 111, "after completion the hook runs at once");
    assert_eq!(before.try_result(), Some(Ok(7)));
}

#[test]
fn a_dropped_leader_runs_the_hooks_with_abandoned() {
    let f: Flight<&str, u32, String> = Flight::new();
    let Ticket::Leader(leader) = f.begin("k") else { panic!() };
    let Ticket::Waiter(w) = f.begin("k") else { panic!() };
    let (tx, rx) = std::sync::mpsc::channel();
    w.on_ready(move || tx.send(()).unwrap());
    drop(leader);
    rx.try_recv().unwrap();
    assert_eq!(w.try_result(), Some(Err(FlightError::Abandoned)));
}

#[test]
fn a_panicking_hook_does_not_stop_the_others() {
    let f: Flight<&str, u32, String> = Flight::new();
    let Ticket::Leader(leader) = f.begin("k") else { panic!() };
    let Ticket::Waiter(w) = f.begin("k") else { panic!() };
    let (tx, rx) = std::sync::mpsc::channel();
    w.on_ready(|| panic!("a hostile hook"));
    w.on_ready(move || tx.send(()).unwrap());
    assert_eq!(leader.complete(Ok(1)).unwrap(), (1, true));
    rx.try_recv().unwrap();
}

#[test]
fn a_loader_running_its_own_key_gets_recursive_load() {
    let f: Flight<&str, u32, String> = Flight::new();
    let inner = f.clone();
    let (v, _) = f
        .run("k", || match inner.run("k", || Ok(1)) {
            Err(FlightError::RecursiveLoad) => Ok(42),
            other => Err(format!("{other:?}")),
        })
        .unwrap();
    assert_eq!(v, 42);
    // Another thread waiting on a key is no recursion.
    let Ticket::Leader(leader) = f.begin("x") else { panic!() };
    let g = f.clone();
    let t = std::thread::spawn(move || g.run("x", || Ok(0)));
    let end = Instant::now() + Duration::from_secs(30);
    while f.waiting(&"x") != Some(1) {
        assert!(Instant::now() < end, "the waiter never joined");
        std::thread::yield_now();
    }
    leader.complete(Ok(5)).unwrap();
    assert_eq!(t.join().unwrap(), Ok((5, true)));
}

#[test]
fn a_timeout_too_large_to_represent_waits_without_limit() {
    // It used to overflow `Instant + Duration` and panic.
    let f: Flight<&str, u32, String> = Flight::new();
    let Ticket::Leader(leader) = f.begin("k") else { panic!() };
    let g = f.clone();
    let t = std::thread::spawn(move || g.run_timeout("k", Duration::MAX, || Ok(0)));
    let end = Instant::now() + Duration::from_secs(30);
    while f.waiting(&"k") != Some(1) {
        assert!(Instant::now() < end, "the waiter never joined");
        std::thread::yield_now();
    }
    leader.complete(Ok(3)).unwrap();
    assert_eq!(t.join().unwrap(), Ok((3, true)));
}
