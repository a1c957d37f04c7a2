//! Unit-level tests of every WatchCache rule, through the public API.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use edgecache::watch::{
    CloseReason, Event, EventType, ListRequest, ManualClock, Object, ResourceVersionMatch, Selector, WatchCache,
    WatchError, WatchOptions, Watcher,
};

/// Long enough that a correct program never hits it; only a hang would.
const HANG: Duration = Duration::from_secs(30);

fn obj(key: &str, body: &str) -> Object {
    Object::new(key, body.as_bytes())
}

fn rvs(events: &[Event]) -> Vec<u64> {
    events.iter().map(Event::resource_version).collect()
}

fn everything() -> Selector {
    Selector::everything()
}

/// Reads everything a watcher has ready without blocking, then its state.
fn drain(w: &Watcher) -> (Vec<Event>, Option<WatchError>) {
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        match w.try_next() {
            Ok(Some(ev)) => out.push(ev),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
    panic!("watcher never ran dry");
}

fn expired(requested: u64, oldest: u64) -> WatchError {
    WatchError::ResourceExpired { requested, oldest }
}

#[test]
fn cache_and_watcher_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<WatchCache>();
    check::<Watcher>();
    check::<Event>();
    check::<WatchError>();
}

#[test]
fn builder_rejects_bad_configuration() {
    let bad = [
        WatchCache::builder().capacity(0).build(),
        WatchCache::builder().capacity(10).max_capacity(9).build(),
        WatchCache::builder().max_bytes(0).build(),
        WatchCache::builder().index("app").build(),
        WatchCache::builder().index("annotation:app").build(),
        WatchCache::builder().index("label:").build(),
    ];
    for r in bad {
        let err = r.expect_err("must be rejected");
        assert!(matches!(err, WatchError::InvalidArgument(_)), "{err:?}");
        assert_eq!(err.code(), 400);
    }
    assert!(WatchCache::new(0).is_err());
    // Defaults adapt: a capacity above the default maximum is accepted.
    let big = WatchCache::builder().capacity(200_000).build().unwrap();
    assert_eq!(big.window_stats().max_capacity, 200_000);
    let dflt = WatchCache::builder().build().unwrap();
    let s = dflt.window_stats();
    assert_eq!((s.capacity, s.max_capacity, s.max_bytes), (100, 102_400, None));
}

#[test]
fn writes_fill_previous_object_and_current_state() {
    let c = WatchCache::new(10).unwrap();
    c.add(obj("a", "a1").label("app", "web"), 1).unwrap();
    c.update(obj("a", "a2").label("app", "web"), 2).unwrap();
    c.add(obj("b", "b1"), 3).unwrap();
    c.delete(obj("a", "a3"), 4).unwrap();
    let ev = c.events_since(0).unwrap();
    // rv 0: the current state, ADDED at the current rv.
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].event_type(), ev[0].key(), ev[0].object()), (EventType::Added, "b", &b"b1"[..]));
    assert_eq!(ev[0].resource_version(), 4);
    assert_eq!(ev[0].item().resource_version(), 3);

    let ev = c.events_since(1).unwrap();
    assert_eq!(rvs(&ev), [2, 3, 4]);
    assert_eq!(ev[0].event_type(), EventType::Modified);
    assert_eq!(ev[0].prev_object(), Some(&b"a1"[..]));
    assert_eq!(ev[0].labels().get("app").map(String::as_str), Some("web"));
    assert_eq!(ev[1].prev_object(), None);
    assert_eq!(ev[2].event_type(), EventType::Deleted);
    assert_eq!(ev[2].object(), b"a3");
    assert_eq!(ev[2].prev_object(), Some(&b"a2"[..]));
    assert_eq!(ev[2].counted_bytes(), 1 + 2 + 2);
    assert_eq!(c.get("a", 0).unwrap(), None);
    assert_eq!(c.get("b", 4).unwrap().unwrap().object(), b"b1");
    assert_eq!(c.len(), 1);
    assert_eq!(c.resource_version(), 4);
}

#[test]
fn non_increasing_resource_version_is_rejected_and_changes_nothing() {
    let c = WatchCache::new(10).unwrap();
    c.add(obj("a", "1"), 5).unwrap();
    for rv in [5, 4, 0] {
        let err = c.update(obj("a", "2"), rv).unwrap_err();
        assert!(matches!(err, WatchError::InvalidArgument(_)), "{err:?}");
    }
    assert!(matches!(c.add(obj("", "x"), 6), Err(WatchError::InvalidArgument(_))));
    assert!(matches!(c.replace(vec![obj("a", "x")], 4), Err(WatchError::InvalidArgument(_))));
    assert!(matches!(c.replace(vec![obj("", "x")], 9), Err(WatchError::InvalidArgument(_))));
    assert!(matches!(c.bookmark(4), Err(WatchError::InvalidArgument(_))));
    assert_eq!(c.resource_version(), 5);
    assert_eq!(rvs(&c.events_since(4).unwrap()), [5]);
    assert_eq!(c.get("a", 0).unwrap().unwrap().object(), b"1");
    // Still usable.
    c.update(obj("a", "2"), 6).unwrap();
    assert_eq!(rvs(&c.events_since(4).unwrap()), [5, 6]);
}

#[test]
fn events_since_future_rv_is_empty_not_an_error() {
    let c = WatchCache::new(10).unwrap();
    c.add(obj("a", "1"), 5).unwrap();
    assert!(c.events_since(5).unwrap().is_empty());
    assert!(c.events_since(500).unwrap().is_empty());
}

#[test]
fn boundary_after_relist_while_nothing_evicted() {
    let c = WatchCache::new(4).unwrap();
    c.replace(vec![obj("a", "1")], 10).unwrap();
    c.update(obj("a", "2"), 12).unwrap();
    c.update(obj("a", "3"), 15).unwrap();
    // No eviction since the relist: oldest deliverable is 11, so rv 10 is
    // accepted and 9 is not, although the oldest event is 12.
    assert_eq!(rvs(&c.events_since(10).unwrap()), [12, 15]);
    assert_eq!(c.events_since(9).unwrap_err(), expired(9, 10));
    assert_eq!(c.window_stats().oldest_accepted, 10);
}

#[test]
fn boundary_oldest_minus_one_succeeds_one_lower_expires() {
    let c = WatchCache::builder().capacity(3).max_capacity(3).build().unwrap();
    c.replace(Vec::new(), 1).unwrap();
    for rv in [10, 20, 30, 40] {
        c.add(obj(&format!("k{rv}"), "x"), rv).unwrap();
    }
    // 10 was evicted; the oldest buffered is 20.
    let s = c.window_stats();
    assert_eq!((s.events, s.oldest_buffered, s.oldest_accepted), (3, Some(20), 19));
    assert_eq!(rvs(&c.events_since(19).unwrap()), [20, 30, 40]);
    let err = c.events_since(18).unwrap_err();
    assert_eq!(err, expired(18, 19));
    assert_eq!(err.to_string(), "too old resource version: 18 (19)");
    assert_eq!(err.code(), 410);
    assert_eq!(err.retry_after_seconds(), None);
    // Between buffered events: fine.
    assert_eq!(rvs(&c.events_since(25).unwrap()), [30, 40]);
    // The same rule applies to watch.
    assert_eq!(c.watch(18, &everything(), &everything(), WatchOptions::new()).unwrap_err(), expired(18, 19));
}

#[test]
fn boundary_without_any_relist_uses_the_oldest_event() {
    let c = WatchCache::new(10).unwrap();
    // A fresh cache accepts 0 (the state) and its current rv.
    assert!(c.events_since(0).unwrap().is_empty());
    c.add(obj("a", "1"), 5).unwrap();
    c.add(obj("b", "1"), 7).unwrap();
    assert_eq!(rvs(&c.events_since(4).unwrap()), [5, 7]);
    assert_eq!(c.events_since(3).unwrap_err(), expired(3, 4));
}

#[test]
fn relist_leaves_an_empty_window_and_expires_the_past() {
    let c = WatchCache::new(10).unwrap();
    c.add(obj("a", "1"), 1).unwrap();
    c.add(obj("b", "1"), 2).unwrap();
    let w = c.watch(1, &everything(), &everything(), WatchOptions::new()).unwrap();
    c.replace(vec![obj("c", "1"), obj("d", "1"), obj("c", "2")], 50).unwrap();
    assert!(c.events_since(50).unwrap().is_empty());
    assert_eq!(c.events_since(49).unwrap_err(), expired(49, 50));
    assert_eq!(c.events_since(1).unwrap_err(), expired(1, 50));
    let s = c.window_stats();
    assert_eq!((s.events, s.bytes, s.resource_version, s.list_resource_version), (0, 0, 50, Some(50)));
    let (items, rv) = c.list(0, &everything(), &everything()).unwrap();
    assert_eq!(rv, 50);
    let got: Vec<_> = items.iter().map(|i| (i.key(), i.object(), i.resource_version())).collect();
    assert_eq!(got, [("c", &b"2"[..], 50), ("d", &b"1"[..], 50)]);
    // The open watcher delivers what it held, then learns of the relist.
    let (events, err) = drain(&w);
    assert_eq!(rvs(&events), [2]);
    assert_eq!(err, Some(WatchError::Closed { reason: CloseReason::Relisted { resource_version: 50 } }));
    // Writes continue from the relist.
    c.add(obj("e", "1"), 51).unwrap();
    assert_eq!(rvs(&c.events_since(50).unwrap()), [51]);
}

#[test]
fn wait_until_fresh_times_out_with_504() {
    let c = WatchCache::new(10).unwrap();
    c.add(obj("a", "1"), 3).unwrap();
    c.wait_until_fresh(3, Duration::ZERO).unwrap();
    let err = c.wait_until_fresh(4, Duration::ZERO).unwrap_err();
    assert_eq!(err, WatchError::TooLargeResourceVersion { requested: 4, current: 3 });
    assert_eq!((err.code(), err.retry_after_seconds()), (504, Some(1)));
    assert_eq!(err.to_string(), "Too large resource version: 4, current: 3");
    let err = c.wait_until_fresh(9, Duration::from_millis(20)).unwrap_err();
    assert!(matches!(err, WatchError::TooLargeResourceVersion { requested: 9, .. }));
    assert!(c.list_with_timeout(4, &everything(), &everything(), Duration::ZERO).is_err());
    assert!(c.get_with_timeout("a", 4, Duration::ZERO).is_err());
}

#[test]
fn wait_until_fresh_wakes_on_write_bookmark_and_relist() {
    let c = Arc::new(WatchCache::new(10).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let waiters: Vec<_> = [1u64, 2, 3]
        .into_iter()
        .map(|rv| {
            let c = Arc::clone(&c);
            let tx = tx.clone();
            thread::spawn(move || {
                let r = c.wait_until_fresh(rv, HANG);
                tx.send(rv).unwrap();
                r
            })
        })
        .collect();
    c.add(obj("a", "1"), 1).unwrap();
    assert_eq!(rx.recv_timeout(HANG).unwrap(), 1);
    c.bookmark(2).unwrap();
    assert_eq!(rx.recv_timeout(HANG).unwrap(), 2);
    c.replace(Vec::new(), 3).unwrap();
    assert_eq!(rx.recv_timeout(HANG).unwrap(), 3);
    for w in waiters {
        w.join().unwrap().unwrap();
    }
}

#[test]
fn list_and_get_wait_for_freshness() {
    let c = Arc::new(WatchCache::new(10).unwrap());
    let reader = {
        let c = Arc::clone(&c);
        thread::spawn(move || {
            let (items, rv) = c.list_with_timeout(2, &everything(), &everything(), HANG).unwrap();
            let got = c.get_with_timeout("b", 2, HANG).unwrap();
            (items.len(), rv, got.map(|i| i.resource_version()))
        })
    };
    c.add(obj("a", "1"), 1).unwrap();
    c.add(obj("b", "1"), 2).unwrap();
    let (n, rv, b) = reader.join().unwrap();
    assert!(rv >= 2);
    assert_eq!((n, b), (2, Some(2)));
}

#[test]
fn close_wakes_every_waiter_and_watcher() {
    let c = Arc::new(WatchCache::new(10).unwrap());
    c.add(obj("a", "1"), 1).unwrap();
    let w = Arc::new(c.watch(1, &everything(), &everything(), WatchOptions::new()).unwrap());
    let fresh = {
        let c = Arc::clone(&c);
        thread::spawn(move || c.wait_until_fresh(100, HANG))
    };
    let list = {
        let c = Arc::clone(&c);
        thread::spawn(move || c.list_with_timeout(100, &everything(), &everything(), HANG).map(|_| ()))
    };
    let reader = {
        let w = Arc::clone(&w);
        thread::spawn(move || w.next())
    };
    // Let the threads block (not needed for correctness: a wait that starts
    // after the close fails at once too).
    thread::sleep(Duration::from_millis(20));
    c.close();
    let closed = WatchError::Closed { reason: CloseReason::CacheClosed };
    assert_eq!(fresh.join().unwrap(), Err(closed.clone()));
    assert_eq!(list.join().unwrap(), Err(closed.clone()));
    assert_eq!(reader.join().unwrap(), Err(closed.clone()));
    assert_eq!(closed.code(), 503);
    // Everything fails afterwards; close is idempotent.
    c.close();
    assert!(c.is_closed());
    assert_eq!(c.add(obj("b", "1"), 2), Err(closed.clone()));
    assert_eq!(c.events_since(0).unwrap_err(), closed);
    assert!(c.watch(0, &everything(), &everything(), WatchOptions::new()).is_err());
}

#[test]
fn dropping_the_cache_closes_its_watchers() {
    let c = WatchCache::new(10).unwrap();
    c.add(obj("a", "1"), 1).unwrap();
    let w = c.watch(0, &everything(), &everything(), WatchOptions::new()).unwrap();
    drop(c);
    assert_eq!(w.next().unwrap().key(), "a");
    assert_eq!(w.next().unwrap_err().close_reason(), Some(&CloseReason::CacheClosed));
}

#[test]
fn window_grows_when_fresh_and_shrinks_when_stale() {
    let clock = Arc::new(ManualClock::new());
    let c = WatchCache::builder().capacity(4).max_capacity(16).clock(clock.clone()).build().unwrap();
    for rv in 1..=4 {
        c.add(obj("k", "v"), rv).unwrap();
    }
    assert_eq!(c.window_stats().capacity, 4);
    // Full and every event fresh: doubles, then doubles again, then caps.
    c.add(obj("k", "v"), 5).unwrap();
    assert_eq!((c.window_stats().capacity, c.window_stats().events), (8, 5));
    for rv in 6..=9 {
        c.add(obj("k", "v"), rv).unwrap();
    }
    assert_eq!(c.window_stats().capacity, 16);
    for rv in 10..=20 {
        c.add(obj("k", "v"), rv).unwrap();
    }
    let s = c.window_stats();
    assert_eq!((s.capacity, s.events, s.oldest_buffered), (16, 16, Some(5)));

    // 74 s later the oldest is still fresh: no change but the usual evict.
    clock.advance(Duration::from_secs(74));
    c.add(obj("k", "v"), 21).unwrap();
    assert_eq!(c.window_stats().capacity, 16);
    // 100 s later even the newest quarter is stale: halves, never below 4.
    clock.advance(Duration::from_secs(100));
    c.add(obj("k", "v"), 22).unwrap();
    let s = c.window_stats();
    assert_eq!((s.capacity, s.events, s.oldest_buffered), (8, 8, Some(15)));
    // The events the shrink dropped are expired.
    assert_eq!(c.events_since(13).unwrap_err(), expired(13, 14));
    assert_eq!(rvs(&c.events_since(14).unwrap()), (15..=22).collect::<Vec<_>>());
    clock.advance(Duration::from_secs(100));
    c.add(obj("k", "v"), 23).unwrap();
    assert_eq!(c.window_stats().capacity, 4);
    clock.advance(Duration::from_secs(100));
    c.add(obj("k", "v"), 24).unwrap();
    assert_eq!(c.window_stats().capacity, 4);
}

#[test]
fn shrink_keeps_the_window_when_the_newest_quarter_is_fresh() {
    let clock = Arc::new(ManualClock::new());
    let c = WatchCache::builder().capacity(4).max_capacity(8).clock(clock.clone()).build().unwrap();
    for rv in 1..=6 {
        c.add(obj("k", "v"), rv).unwrap();
    }
    clock.advance(Duration::from_secs(100));
    for rv in 7..=8 {
        c.add(obj("k", "v"), rv).unwrap();
    }
    // Full (8), oldest stale, and the event 8/4 = 2 from the end (rv 7) is
    // fresh: keep the size.
    c.add(obj("k", "v"), 9).unwrap();
    assert_eq!(c.window_stats().capacity, 8);
}

#[test]
fn byte_bound_drops_oldest_events_and_expires_them() {
    // Each event: key 1 + object 10 (+ prev 10 after the first per key).
    let c = WatchCache::builder().capacity(100).max_bytes(50).build().unwrap();
    c.replace(Vec::new(), 1).unwrap();
    c.add(obj("a", "0123456789"), 2).unwrap(); // 11
    c.add(obj("b", "0123456789"), 3).unwrap(); // 11 -> 22
    c.update(obj("a", "0123456789"), 4).unwrap(); // 21 -> 43
    let s = c.window_stats();
    assert_eq!((s.events, s.bytes), (3, 43));
    c.update(obj("b", "0123456789"), 5).unwrap(); // 21 -> 64 > 50: drop 2, 3
    let s = c.window_stats();
    assert_eq!((s.events, s.bytes, s.oldest_buffered), (2, 42, Some(4)));
    assert_eq!(c.events_since(2).unwrap_err(), expired(2, 3));
    assert_eq!(rvs(&c.events_since(3).unwrap()), [4, 5]);
    // One event larger than the whole budget leaves at once.
    c.add(obj("c", &"x".repeat(60)), 6).unwrap();
    let s = c.window_stats();
    assert_eq!((s.events, s.bytes, s.oldest_accepted), (0, 0, 6));
    assert!(c.events_since(6).unwrap().is_empty());
    assert_eq!(c.events_since(5).unwrap_err(), expired(5, 6));
    // The current state keeps it.
    assert_eq!(c.get("c", 6).unwrap().unwrap().object().len(), 60);
}

fn seeded_items() -> Vec<Object> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut o = obj(&format!("ns/pod-{i:03}"), "spec");
        if x % 5 != 0 {
            o = o.label("app", format!("app{}", x % 7));
        }
        o = o.label("tier", format!("t{}", (x >> 8) % 3));
        if x % 3 != 0 {
            o = o.field("spec.nodeName", format!("node{}", (x >> 16) % 4));
        }
        out.push(o);
    }
    out
}

#[test]
fn selectors_via_index_and_via_scan_agree() {
    let indexed = WatchCache::builder().indexes(["label:app", "field:spec.nodeName", "label:tier"]).build().unwrap();
    let scanned = WatchCache::new(100).unwrap();
    for c in [&indexed, &scanned] {
        c.replace(seeded_items(), 10).unwrap();
        // Changes after the relist keep the indexes in step.
        c.update(obj("ns/pod-000", "v2").label("app", "app3").field("spec.nodeName", "node1"), 11).unwrap();
        c.delete(obj("ns/pod-001", ""), 12).unwrap();
        c.add(obj("ns/pod-new", "v").label("app", "app3"), 13).unwrap();
    }
    let mut sels = vec![(everything(), everything())];
    for app in ["app0", "app3", "app6", "nope"] {
        sels.push((Selector::new().with("app", app), everything()));
        for node in ["node1", "node3"] {
            let f = Selector::new().with("spec.nodeName", node);
            sels.push((Selector::new().with("app", app), f.clone()));
            sels.push((Selector::new().with("app", app).with("tier", "t1"), f.clone()));
            sels.push((everything(), f));
        }
    }
    sels.push((Selector::new().with("app", "app3").with("app", "app4"), everything()));
    sels.push((Selector::new().with("tier", "t2").with("unindexed", "x"), everything()));
    let mut nonempty = 0;
    for (l, f) in &sels {
        let (a, rv_a) = indexed.list(0, l, f).unwrap();
        let (b, rv_b) = scanned.list(0, l, f).unwrap();
        assert_eq!(rv_a, rv_b);
        assert_eq!(a, b, "labels {l:?} fields {f:?}");
        assert!(a.windows(2).all(|p| p[0].key() < p[1].key()), "sorted by key");
        assert!(a.iter().all(|i| l.matches(i.labels()) && f.matches(i.fields())));
        nonempty += usize::from(!a.is_empty());
    }
    assert!(nonempty > sels.len() / 2, "the selectors must exercise real matches");
    assert!(
        indexed.list(0, &Selector::new().with("app", "app3").with("app", "app4"), &everything()).unwrap().0.is_empty()
    );
}

#[test]
fn watcher_gets_backlog_then_live_events_in_order() {
    let c = WatchCache::new(100).unwrap();
    c.replace(vec![obj("a", "1"), obj("b", "1")], 10).unwrap();
    c.update(obj("a", "2"), 11).unwrap();
    let from_state = c.watch(0, &everything(), &everything(), WatchOptions::new()).unwrap();
    let from_rv = c.watch(10, &everything(), &everything(), WatchOptions::new()).unwrap();
    let future = c.watch(13, &everything(), &everything(), WatchOptions::new()).unwrap();
    c.add(obj("c", "1"), 12).unwrap();
    c.delete(obj("b", "1"), 13).unwrap();
    c.update(obj("c", "2"), 14).unwrap();
    let (ev, err) = drain(&from_state);
    assert_eq!(err, None);
    let got: Vec<_> = ev.iter().map(|e| (e.event_type(), e.key(), e.resource_version())).collect();
    use EventType::*;
    assert_eq!(got, [(Added, "a", 11), (Added, "b", 11), (Added, "c", 12), (Deleted, "b", 13), (Modified, "c", 14)]);
    let (ev, _) = drain(&from_rv);
    assert_eq!(rvs(&ev), [11, 12, 13, 14]);
    let (ev, _) = drain(&future);
    assert_eq!(rvs(&ev), [14]);
    assert_eq!(from_rv.next_timeout(Duration::from_millis(5)), Ok(None));
    assert_eq!(from_rv.close_reason(), None, "a timeout is not a close");
    c.add(obj("d", "1"), 15).unwrap();
    assert_eq!(from_rv.next_timeout(HANG).unwrap().unwrap().resource_version(), 15);
}

#[test]
fn watcher_selector_transitions_follow_kubernetes() {
    let c = WatchCache::new(100).unwrap();
    let web = Selector::new().with("app", "web");
    let w = c.watch(0, &web, &everything(), WatchOptions::new()).unwrap();
    let all = c.watch(0, &everything(), &everything(), WatchOptions::new()).unwrap();
    c.add(obj("a", "1").label("app", "db"), 1).unwrap(); // not for w
    c.update(obj("a", "2").label("app", "web"), 2).unwrap(); // enters: ADDED
    c.update(obj("a", "3").label("app", "web"), 3).unwrap(); // MODIFIED
    c.update(obj("a", "4").label("app", "db"), 4).unwrap(); // leaves: DELETED with the old object
    c.delete(obj("a", "5"), 5).unwrap(); // old did not match: nothing
    c.add(obj("b", "1").label("app", "web"), 6).unwrap(); // ADDED
    c.delete(obj("b", "x"), 7).unwrap(); // DELETED
    c.delete(obj("ghost", "x"), 8).unwrap(); // unknown key: nobody
    c.update(obj("c", "1").label("app", "web"), 9).unwrap(); // unknown key update: ADDED
    c.add(obj("c", "2").label("app", "web"), 10).unwrap(); // add over existing: MODIFIED
    let (ev, _) = drain(&w);
    let got: Vec<_> = ev.iter().map(|e| (e.event_type(), e.resource_version(), e.object())).collect();
    use EventType::*;
    assert_eq!(
        got,
        [
            (Added, 2, &b"2"[..]),
            (Modified, 3, &b"3"[..]),
            (Deleted, 4, &b"3"[..]),
            (Added, 6, &b"1"[..]),
            (Deleted, 7, &b"x"[..]),
            (Added, 9, &b"1"[..]),
            (Modified, 10, &b"2"[..])
        ]
    );
    let (all_ev, _) = drain(&all);
    assert_eq!(rvs(&all_ev), [1, 2, 3, 4, 5, 6, 7, 9, 10]);
    // The same projection applies to a backlog from the window.
    let late = c.watch(1, &web, &everything(), WatchOptions::new()).unwrap();
    assert_eq!(drain(&late).0, ev, "backlog and live events are projected alike");
}

#[test]
fn field_selectors_filter_watchers() {
    let c = WatchCache::builder().index("field:spec.nodeName").build().unwrap();
    let n1 = Selector::new().with("spec.nodeName", "n1");
    let w = c.watch(0, &everything(), &n1, WatchOptions::new()).unwrap();
    c.add(obj("a", "1").field("spec.nodeName", "n1"), 1).unwrap();
    c.add(obj("b", "1").field("spec.nodeName", "n2"), 2).unwrap();
    c.add(obj("c", "1"), 3).unwrap();
    let (ev, _) = drain(&w);
    assert_eq!(rvs(&ev), [1]);
    assert_eq!(c.list(3, &everything(), &n1).unwrap().0.len(), 1);
}

#[test]
fn slow_watcher_is_closed_after_delivering_what_it_holds() {
    let c = WatchCache::new(100).unwrap();
    c.add(obj("a", "0"), 1).unwrap();
    c.add(obj("a", "1"), 2).unwrap();
    // Backlog of 2 does not count against a buffer of 3.
    let w = c.watch(0, &everything(), &everything(), WatchOptions::new().buffer(3)).unwrap();
    let backlog = c.watch(0, &everything(), &everything(), WatchOptions::new().buffer(1)).unwrap();
    assert_eq!(backlog.pending(), 1);
    for rv in 3..=10 {
        c.update(obj("a", &rv.to_string()), rv).unwrap();
    }
    assert_eq!(c.window_stats().watchers, 0, "both were dropped from the registry");
    assert_eq!(w.close_reason(), Some(CloseReason::FellBehind { buffer: 3 }));
    let (ev, err) = drain(&w);
    assert_eq!(rvs(&ev), [2, 3, 4, 5], "state at 2, then 3 live events, no gap");
    let err = err.unwrap();
    assert_eq!(err.close_reason(), Some(&CloseReason::FellBehind { buffer: 3 }));
    assert!(err.to_string().contains("fell behind"), "{err}");
    // Later reads keep failing the same way.
    assert_eq!(w.next(), Err(err.clone()));
    assert_eq!(w.try_next(), Err(err.clone()));
    assert_eq!(w.next_timeout(Duration::from_millis(1)), Err(err));
    let (ev, _) = drain(&backlog);
    assert_eq!(rvs(&ev), [2, 3]);
    // Resuming from the last rv received gets exactly the rest.
    let resumed = c.watch(5, &everything(), &everything(), WatchOptions::new()).unwrap();
    assert_eq!(rvs(&drain(&resumed).0), [6, 7, 8, 9, 10]);
}

#[test]
fn watcher_close_from_another_thread_wakes_a_blocked_next() {
    let c = WatchCache::new(10).unwrap();
    let w = c.watch(0, &everything(), &everything(), WatchOptions::new()).unwrap();
    thread::scope(|s| {
        let reader = s.spawn(|| w.next());
        thread::sleep(Duration::from_millis(20));
        w.close();
        let err = reader.join().unwrap().unwrap_err();
        assert_eq!(err.close_reason(), Some(&CloseReason::Stopped));
    });
    w.close(); // idempotent
    assert_eq!(c.window_stats().watchers, 0);
    c.add(obj("a", "1"), 1).unwrap();
    assert!(w.try_next().is_err(), "a closed watcher gets nothing new");
}

#[test]
fn user_close_discards_held_events() {
    let c = WatchCache::new(10).unwrap();
    let w = c.watch(0, &everything(), &everything(), WatchOptions::new()).unwrap();
    c.add(obj("a", "1"), 1).unwrap();
    w.close();
    assert_eq!(w.try_next().unwrap_err().close_reason(), Some(&CloseReason::Stopped));
}

#[test]
fn dropping_a_watcher_unregisters_it() {
    let c = WatchCache::new(10).unwrap();
    let ws: Vec<_> = (0..5).map(|_| c.watch(0, &everything(), &everything(), WatchOptions::new()).unwrap()).collect();
    assert_eq!(c.window_stats().watchers, 5);
    drop(ws);
    assert_eq!(c.window_stats().watchers, 0);
}

#[test]
fn watcher_iterator_ends_at_close() {
    let c = WatchCache::new(10).unwrap();
    let w = c.watch(0, &everything(), &everything(), WatchOptions::new()).unwrap();
    c.add(obj("a", "1"), 1).unwrap();
    c.add(obj("b", "1"), 2).unwrap();
    c.close();
    let got: Vec<u64> = (&w).map(|e| e.resource_version()).collect();
    assert_eq!(got, [1, 2]);
    assert_eq!(w.close_reason(), Some(CloseReason::CacheClosed));
}

#[test]
fn bookmarks_only_for_watchers_that_asked() {
    let c = WatchCache::new(10).unwrap();
    c.add(obj("a", "1"), 1).unwrap();
    let with = c.watch(1, &everything(), &everything(), WatchOptions::new().bookmarks(true)).unwrap();
    let without = c.watch(1, &everything(), &everything(), WatchOptions::new()).unwrap();
    let ahead = c.watch(50, &everything(), &everything(), WatchOptions::new().bookmarks(true)).unwrap();
    c.add(obj("b", "1"), 2).unwrap();
    c.bookmark(10).unwrap();
    assert_eq!(c.resource_version(), 10);
    let (ev, _) = drain(&with);
    let got: Vec<_> = ev.iter().map(|e| (e.event_type(), e.resource_version(), e.key())).collect();
    assert_eq!(got, [(EventType::Added, 2, "b"), (EventType::Bookmark, 10, "")]);
    assert_eq!(rvs(&drain(&without).0), [2]);
    assert!(drain(&ahead).0.is_empty(), "a bookmark before the watch's start is useless");
    // Not stored in the window; the rv advanced.
    assert_eq!(rvs(&c.events_since(1).unwrap()), [2]);
    assert!(c.events_since(10).unwrap().is_empty());
    c.wait_until_fresh(10, Duration::ZERO).unwrap();
    // A full buffer skips a bookmark instead of closing.
    let tiny = c.watch(10, &everything(), &everything(), WatchOptions::new().bookmarks(true).buffer(1)).unwrap();
    c.bookmark(11).unwrap();
    c.bookmark(12).unwrap();
    assert_eq!(tiny.close_reason(), None);
    assert_eq!(rvs(&drain(&tiny).0), [11]);
}

#[test]
fn watch_rejects_bad_options_and_expired_rv() {
    let c = WatchCache::new(10).unwrap();
    let err = c.watch(0, &everything(), &everything(), WatchOptions::new().buffer(0)).unwrap_err();
    assert!(matches!(err, WatchError::InvalidArgument(_)));
    c.replace(Vec::new(), 5).unwrap();
    assert_eq!(c.watch(3, &everything(), &everything(), WatchOptions::new()).unwrap_err(), expired(3, 5));
    assert_eq!(c.window_stats().watchers, 0);
}

#[test]
fn resize_does_not_break_a_watcher_mid_stream() {
    let clock = Arc::new(ManualClock::new());
    let c = WatchCache::builder().capacity(4).max_capacity(64).max_bytes(2_000).clock(clock.clone()).build().unwrap();
    c.replace(Vec::new(), 1).unwrap();
    let w = c.watch(1, &everything(), &everything(), WatchOptions::new().buffer(10_000)).unwrap();
    let mut seen = Vec::new();
    let mut caps = std::collections::BTreeSet::new();
    for rv in 2..2_000u64 {
        // Bursts (the window grows) separated by long pauses (it shrinks).
        if rv % 100 == 0 {
            clock.advance(Duration::from_secs(200));
        }
        c.add(obj(&format!("k{}", rv % 7), &"x".repeat((rv % 50) as usize)), rv).unwrap();
        caps.insert(c.window_stats().capacity);
        if rv % 3 == 0 {
            seen.extend(drain(&w).0.iter().map(Event::resource_version));
        }
    }
    seen.extend(drain(&w).0.iter().map(Event::resource_version));
    assert_eq!(seen, (2..2_000).collect::<Vec<_>>());
    assert!(caps.len() >= 4, "the window must actually have resized: {caps:?}");
    assert_eq!(w.close_reason(), None);
}

#[test]
#[cfg(target_pointer_width = "64")]
fn stated_overhead_matches_the_docs() {
    // The module docs quote this number; keep them in step.
    assert_eq!(edgecache::watch::event_overhead_bytes(), 144);
}

#[test]
fn errors_display_and_classify() {
    let e = WatchError::InvalidArgument("x".into());
    assert_eq!(e.to_string(), "invalid argument: x");
    let e: Box<dyn std::error::Error> = Box::new(WatchError::Closed { reason: CloseReason::Stopped });
    assert_eq!(e.to_string(), "closed: the watcher was closed by its owner");
    assert_eq!(EventType::Bookmark.to_string(), "BOOKMARK");
    assert_eq!(EventType::Modified.as_str(), "MODIFIED");
}

#[test]
fn payloads_are_shared_not_copied() {
    let c = WatchCache::new(10).unwrap();
    let body: Arc<[u8]> = Arc::from(&b"big payload"[..]);
    c.add(Object::new("a", Arc::clone(&body)), 1).unwrap();
    let ws: Vec<_> = (0..3).map(|_| c.watch(0, &everything(), &everything(), WatchOptions::new()).unwrap()).collect();
    let e1 = c.events_since(0).unwrap().remove(0);
    let from_w = ws[0].next().unwrap();
    assert!(Arc::ptr_eq(e1.item().object_arc(), &body));
    assert!(Arc::ptr_eq(from_w.item().object_arc(), &body));
    assert!(Arc::ptr_eq(c.get("a", 0).unwrap().unwrap().object_arc(), &body));
}

/// An empty continue token is no token: an Exact paged list is served as
/// without one, and the match stays NotOlderThan when unset.
#[test]
fn an_empty_continue_token_is_no_token() {
    let c = WatchCache::new(10).unwrap();
    c.add(Object::new("a", &b"1"[..]), 1).unwrap();
    c.add(Object::new("b", &b"1"[..]), 2).unwrap();
    c.update(Object::new("a", &b"2"[..]), 3).unwrap();
    let unset = ListRequest::new().limit(5).resource_version(2);
    assert_eq!(c.list_page(&unset).unwrap().resource_version, 3);
    assert_eq!(c.list_page(&unset.clone().continue_token("")).unwrap().resource_version, 3);
    let req = unset.resource_version_match(ResourceVersionMatch::Exact);
    let plain = c.list_page(&req).unwrap();
    assert_eq!(plain.resource_version, 2);
    assert_eq!(plain.items[0].object(), b"1");
    assert_eq!(c.list_page(&req.clone().continue_token("")).unwrap(), plain);
}

#[test]
fn watcher_hooks_run_on_the_next_event_or_close() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let c = WatchCache::new(10).unwrap();
    let w = c.watch(0, &everything(), &everything(), WatchOptions::default()).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    assert_eq!(
        w.on_ready(move || {
            r.fetch_add(1, Ordering::SeqCst);
        }),
        None
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0, "nothing to read yet");
    c.add(obj("a", "1"), 1).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the write ran the hook");
    let r = runs.clone();
    w.on_ready(move || {
        r.fetch_add(10, Ordering::SeqCst);
    });
    assert_eq!(runs.load(Ordering::SeqCst), 11, "an event is queued: at once");
    assert_eq!(w.try_next().unwrap().unwrap().key(), "a");
    let r = runs.clone();
    w.on_ready(move || {
        r.fetch_add(100, Ordering::SeqCst);
    });
    drop(w);
    assert_eq!(runs.load(Ordering::SeqCst), 111, "a dropped watcher runs its hooks");
}

#[test]
fn fresh_hooks_run_when_the_cache_reaches_the_version_or_closes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let c = WatchCache::new(10).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    assert_eq!(
        c.on_fresh(0, move || {
            r.fetch_add(1, Ordering::SeqCst);
        }),
        None
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let r = runs.clone();
    let id = c
        .on_fresh(2, move || {
            r.fetch_add(10, Ordering::SeqCst);
        })
        .unwrap();
    let r = runs.clone();
    let gone = c
        .on_fresh(5, move || {
            r.fetch_add(1000, Ordering::SeqCst);
        })
        .unwrap();
    let r = runs.clone();
    c.on_fresh(9, move || {
        r.fetch_add(100, Ordering::SeqCst);
    })
    .unwrap();
    c.add(obj("a", "1"), 1).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    c.bookmark(3).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 11);
    assert!(!c.cancel_fresh(id), "it ran");
    assert!(c.cancel_fresh(gone), "pending: dropped unrun");
    c.close();
    assert_eq!(runs.load(Ordering::SeqCst), 111, "close runs what is left");
}

#[test]
fn a_cancelled_watcher_hook_never_runs() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let c = WatchCache::new(10).unwrap();
    let w = c.watch(0, &everything(), &everything(), WatchOptions::default()).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let (id, _) = w
        .on_ready_cancellable(move || {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .expect("nothing to read: kept");
    assert!(w.cancel_ready(id));
    assert!(!w.cancel_ready(id), "only once");
    c.add(obj("a", "1"), 1).unwrap();
    drop(w);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}
