//! Stress test of the watch protocol: streaming lists and periodic
//! bookmarks while a writer runs flat out.
//!
//! A writer applies a fixed random sequence of adds, updates and deletes
//! (keys with label `app` = `a` or `b`, changing between writes) while
//! other threads open streaming-list watchers (`send_initial_events`) at
//! random moments, half selecting everything and half `app=a`, all with
//! bookmarks every millisecond, reading as they go. Checked against a
//! model of the writes, with no timing assumptions:
//! - each watcher's initial events are exactly the model's state at the
//!   resourceVersion S of its end-of-initial-events bookmark (filtered,
//!   in key order), and the events after it are exactly the writes after
//!   S as the watcher's selector sees them (ADDED on entering the
//!   selection, DELETED on leaving it), in order, none missing;
//! - bookmarks never go back, and no event follows a bookmark at or above
//!   its own resourceVersion.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use edgecache::watch::{EventType, Object, Selector, WatchCache, WatchOptions};

const WRITES: u64 = if cfg!(debug_assertions) { 3_000 } else { 20_000 };
const WATCHERS: usize = 16;
const KEYS: u64 = 64;

#[derive(Clone, Debug)]
struct Write {
    kind: EventType,
    key: String,
    app: &'static str,
    rv: u64,
}

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn plan() -> Vec<Write> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut live = BTreeMap::new();
    (1..=WRITES)
        .map(|rv| {
            let k = rng.next() % KEYS;
            let key = format!("ns/obj-{k:03}");
            let app = if rng.next() % 2 == 0 { "a" } else { "b" };
            let kind = match (live.contains_key(&k), rng.next() % 4) {
                (false, _) => EventType::Added,
                (true, 0) => EventType::Deleted,
                (true, _) => EventType::Modified,
            };
            if kind == EventType::Deleted {
                live.remove(&k);
            } else {
                live.insert(k, ());
            }
            Write { kind, key, app, rv }
        })
        .collect()
}

/// The state after the writes up to and including `rv`: key -> (app, rv).
fn state_at(plan: &[Write], rv: u64) -> BTreeMap<String, (&'static str, u64)> {
    let mut s = BTreeMap::new();
    for w in plan.iter().take_while(|w| w.rv <= rv) {
        if w.kind == EventType::Deleted {
            s.remove(&w.key);
        } else {
            s.insert(w.key.clone(), (w.app, w.rv));
        }
    }
    s
}

/// What a watcher selecting `app` (None: everything) receives for the
/// writes after `from`: (type, key, rv).
fn projected(plan: &[Write], from: u64, app: Option<&str>) -> Vec<(EventType, String, u64)> {
    let mut s = state_at(plan, from);
    let mut out = Vec::new();
    let sel = |a: &str| app.is_none_or(|x| x == a);
    for w in plan.iter().filter(|w| w.rv > from) {
        let old = s.get(&w.key).is_some_and(|(a, _)| sel(a));
        let cur = w.kind != EventType::Deleted && sel(w.app);
        let t = match (cur, old) {
            (true, false) => Some(EventType::Added),
            (true, true) => Some(EventType::Modified),
            (false, true) => Some(EventType::Deleted),
            (false, false) => None,
        };
        if let Some(t) = t {
            out.push((t, w.key.clone(), w.rv));
        }
        if w.kind == EventType::Deleted {
            s.remove(&w.key);
        } else {
            s.insert(w.key.clone(), (w.app, w.rv));
        }
    }
    out
}

#[test]
fn streaming_lists_and_bookmarks_under_a_writer() {
    let plan = Arc::new(plan());
    let cache = Arc::new(
        WatchCache::builder()
            .capacity(1024)
            .max_capacity(4096)
            .bookmark_interval(Duration::from_millis(1))
            .build()
            .unwrap(),
    );
    let start = Arc::new(Barrier::new(WATCHERS + 1));
    let readers: Vec<_> = (0..WATCHERS)
        .map(|i| {
            let (cache, plan, start) = (cache.clone(), plan.clone(), start.clone());
            thread::spawn(move || {
                let app = (i % 2 == 1).then_some("a");
                start.wait();
                // Open at a spread of moments during the writes.
                thread::sleep(Duration::from_micros(300 * i as u64));
                let labels = app.map_or_else(Selector::everything, |a| Selector::new().with("app", a));
                let opts = WatchOptions::new().send_initial_events(true).bookmarks(true).buffer(1 << 20);
                let w = cache.watch(0, &labels, &Selector::everything(), opts).unwrap();
                let last = plan.last().unwrap().rv;
                let mut initial = Vec::new();
                let mut end = None;
                let mut after = Vec::new();
                let mut floor = 0;
                // Bounded: every write at most once plus bookmarks; a
                // bookmark at the last rv with nothing queued ends it.
                for _ in 0..(WRITES as usize * 4 + 100_000) {
                    let Some(ev) = w.next_timeout(Duration::from_secs(30)).unwrap() else {
                        panic!("watcher {i} stalled");
                    };
                    let rv = ev.resource_version();
                    match (end, ev.event_type()) {
                        (None, EventType::Bookmark) => {
                            assert!(ev.initial_events_end(), "watcher {i}: a bookmark inside the initial events");
                            end = Some(rv);
                            floor = rv;
                        }
                        (None, _) => initial.push((ev.key().to_owned(), ev.item().resource_version())),
                        (Some(_), EventType::Bookmark) => {
                            assert!(!ev.initial_events_end());
                            assert!(rv >= floor, "watcher {i}: bookmark {rv} after {floor}");
                            floor = rv;
                            if rv == last && w.pending() == 0 {
                                break;
                            }
                        }
                        (Some(_), t) => {
                            assert!(rv > floor, "watcher {i}: event {rv} after bookmark or event {floor}");
                            floor = rv;
                            after.push((t, ev.key().to_owned(), rv));
                        }
                    }
                }
                let s = end.expect("an end-of-initial-events bookmark");
                let want: Vec<(String, u64)> = state_at(&plan, s)
                    .into_iter()
                    .filter(|(_, (a, _))| app.is_none_or(|x| x == *a))
                    .map(|(k, (_, rv))| (k, rv))
                    .collect();
                assert_eq!(initial, want, "watcher {i}: initial events are not the state at {s}");
                assert_eq!(after, projected(&plan, s, app), "watcher {i}: changes after {s}");
                s
            })
        })
        .collect();
    start.wait();
    for w in plan.iter() {
        let o = Object::new(w.key.clone(), format!("{}@{}", w.key, w.rv).into_bytes()).label("app", w.app);
        match w.kind {
            EventType::Added => cache.add(o, w.rv).unwrap(),
            EventType::Modified => cache.update(o, w.rv).unwrap(),
            _ => cache.delete(o, w.rv).unwrap(),
        }
    }
    for r in readers {
        r.join().unwrap();
    }
}
