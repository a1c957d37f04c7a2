//! Model check of the WatchCache's wait/notify and watcher hand-off with
//! loom: every interleaving of a writer, a waiter or reader, and a closer.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom_watch`.
//! Under loom time does not pass, so a wait's timeout never fires: every
//! model below ends each wait with a write or a close, and loom reports a
//! deadlock if some interleaving leaves a thread asleep (a lost wake-up).
#![cfg(loom)]

use std::time::Duration;

use edgecache::watch::{CloseReason, EventType, Object, Selector, WatchCache, WatchError, WatchOptions, Watcher};
use loom::sync::Arc;
use loom::thread;

const LONG: Duration = Duration::from_secs(3600);

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

fn add(c: &WatchCache, rv: u64) {
    c.add(Object::new(format!("k{rv}"), &b"v"[..]), rv).unwrap();
}

fn watch(c: &WatchCache, buffer: usize) -> Watcher {
    c.watch(0, &Selector::everything(), &Selector::everything(), WatchOptions::new().buffer(buffer)).unwrap()
}

/// Reads until the watcher fails; returns the rvs and the close reason.
fn read_all(w: &Watcher) -> (Vec<u64>, CloseReason) {
    let mut rvs = Vec::new();
    for _ in 0..4 {
        match w.next() {
            Ok(ev) => rvs.push(ev.resource_version()),
            Err(WatchError::Closed { reason }) => return (rvs, reason),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    panic!("more events than were written: {rvs:?}");
}

#[test]
fn wait_until_fresh_never_misses_the_write() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        let waiter = {
            let c = c.clone();
            thread::spawn(move || c.wait_until_fresh(2, LONG))
        };
        add(&c, 1);
        add(&c, 2);
        assert_eq!(waiter.join().unwrap(), Ok(()));
    });
}

#[test]
fn get_waits_for_the_write_it_needs() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        let reader = {
            let c = c.clone();
            thread::spawn(move || c.get_with_timeout("k1", 1, LONG).map(|i| i.map(|i| i.resource_version())))
        };
        add(&c, 1);
        assert_eq!(reader.join().unwrap(), Ok(Some(1)));
    });
}

#[test]
fn close_wakes_a_fresh_waiter() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        let waiter = {
            let c = c.clone();
            thread::spawn(move || c.wait_until_fresh(5, LONG))
        };
        add(&c, 1);
        c.close();
        assert_eq!(waiter.join().unwrap(), Err(WatchError::Closed { reason: CloseReason::CacheClosed }));
    });
}

#[test]
fn watcher_next_never_misses_a_push() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        let w = Arc::new(watch(&c, 8));
        let reader = {
            let w = w.clone();
            thread::spawn(move || {
                let first = w.next().map(|e| e.resource_version());
                // A timed read: under loom it waits untimed, so only the
                // push can end it.
                let second = w.next_timeout(LONG).map(|e| e.map(|e| e.resource_version()));
                (first, second)
            })
        };
        add(&c, 1);
        add(&c, 2);
        assert_eq!(reader.join().unwrap(), (Ok(1), Ok(Some(2))));
    });
}

#[test]
fn watcher_gets_every_event_then_the_close() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        let w = Arc::new(watch(&c, 8));
        let writer = {
            let c = c.clone();
            thread::spawn(move || {
                add(&c, 1);
                add(&c, 2);
                c.close();
            })
        };
        let (rvs, reason) = read_all(&w);
        writer.join().unwrap();
        assert_eq!(rvs, [1, 2], "no gap, no duplicate, nothing lost to the close");
        assert_eq!(reason, CloseReason::CacheClosed);
    });
}

#[test]
fn slow_watcher_closes_without_a_gap() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        let w = Arc::new(watch(&c, 1));
        let writer = {
            let c = c.clone();
            thread::spawn(move || {
                add(&c, 1);
                add(&c, 2);
                c.close();
            })
        };
        let (rvs, reason) = read_all(&w);
        writer.join().unwrap();
        match reason {
            CloseReason::FellBehind { buffer: 1 } => assert_eq!(rvs, [1]),
            CloseReason::CacheClosed => assert_eq!(rvs, [1, 2]),
            other => panic!("unexpected {other:?} after {rvs:?}"),
        }
    });
}

#[test]
fn owner_close_from_another_thread_wakes_the_reader() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        let w = Arc::new(watch(&c, 8));
        let reader = {
            let w = w.clone();
            thread::spawn(move || read_all(&w))
        };
        let writer = {
            let c = c.clone();
            thread::spawn(move || add(&c, 1))
        };
        w.close();
        let (rvs, reason) = reader.join().unwrap();
        writer.join().unwrap();
        assert!(rvs.is_empty() || rvs == [1], "{rvs:?}");
        assert_eq!(reason, CloseReason::Stopped);
        assert_eq!(c.window_stats().watchers, 0);
    });
}

#[test]
fn writer_waiter_and_reader_together() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        let w =
            c.watch(0, &Selector::everything(), &Selector::everything(), WatchOptions::new().bookmarks(true)).unwrap();
        let waiter = {
            let c = c.clone();
            thread::spawn(move || c.wait_until_fresh(2, LONG))
        };
        let writer = {
            let c = c.clone();
            thread::spawn(move || {
                add(&c, 1);
                c.bookmark(2).unwrap();
            })
        };
        let first = w.next().unwrap();
        let second = w.next().unwrap();
        assert_eq!((first.resource_version(), second.resource_version()), (1, 2));
        assert_eq!(second.event_type(), edgecache::watch::EventType::Bookmark);
        assert_eq!(waiter.join().unwrap(), Ok(()));
        writer.join().unwrap();
    });
}

/// Periodic bookmarks are made by the reader from the resourceVersion the
/// writers publish after their fan-out. In every interleaving of two writes
/// with a reader polling a bookmark-enabled watcher (under loom a period
/// under a millisecond is always due), the reader sees both events, in
/// order, and no bookmark at X is ever followed by an event at or below X.
#[test]
fn periodic_bookmarks_never_overtake_or_hide_an_event() {
    model(|| {
        let c =
            Arc::new(WatchCache::builder().capacity(4).bookmark_interval(Duration::from_micros(1)).build().unwrap());
        add(&c, 1);
        let w =
            c.watch(1, &Selector::everything(), &Selector::everything(), WatchOptions::new().bookmarks(true)).unwrap();
        let writer = {
            let c = c.clone();
            thread::spawn(move || {
                add(&c, 2);
                add(&c, 3);
            })
        };
        let mut seen = Vec::new();
        for _ in 0..2 {
            if let Some(ev) = w.try_next().unwrap() {
                seen.push((ev.event_type() == EventType::Bookmark, ev.resource_version()));
            }
        }
        writer.join().unwrap();
        for _ in 0..6 {
            if let Some(ev) = w.try_next().unwrap() {
                seen.push((ev.event_type() == EventType::Bookmark, ev.resource_version()));
            }
        }
        let events: Vec<u64> = seen.iter().filter(|(b, _)| !b).map(|(_, rv)| *rv).collect();
        assert_eq!(events, [2, 3], "{seen:?}");
        let mut floor = 1;
        for (bookmark, rv) in &seen {
            if *bookmark {
                assert!(*rv >= floor, "bookmark went back: {seen:?}");
            } else {
                assert!(*rv > floor, "event at or below an earlier bookmark: {seen:?}");
            }
            floor = *rv;
        }
    });
}

/// A streaming list started while a write lands is the state at one
/// resourceVersion S, the end-of-initial-events bookmark at S, then exactly
/// the events after S.
#[test]
fn initial_events_are_the_state_at_one_rv_then_the_changes_after_it() {
    model(|| {
        let c = Arc::new(WatchCache::new(4).unwrap());
        add(&c, 1);
        let writer = {
            let c = c.clone();
            thread::spawn(move || add(&c, 2))
        };
        let w = c
            .watch(0, &Selector::everything(), &Selector::everything(), WatchOptions::new().send_initial_events(true))
            .unwrap();
        writer.join().unwrap();
        let mut seen = Vec::new();
        while let Some(ev) = w.try_next().unwrap() {
            seen.push((ev.event_type(), ev.key().to_owned(), ev.resource_version(), ev.initial_events_end()));
        }
        let end = seen.iter().position(|e| e.3).expect("an end-of-initial-events bookmark");
        let s = seen[end].2;
        let want: Vec<(EventType, String, u64, bool)> = if s == 1 {
            vec![
                (EventType::Added, "k1".into(), 1, false),
                (EventType::Bookmark, String::new(), 1, true),
                (EventType::Added, "k2".into(), 2, false),
            ]
        } else {
            vec![
                (EventType::Added, "k1".into(), 2, false),
                (EventType::Added, "k2".into(), 2, false),
                (EventType::Bookmark, String::new(), 2, true),
            ]
        };
        assert_eq!(seen, want);
    });
}
