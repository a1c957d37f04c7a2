//! Stress test: two writers, a hundred watchers (fast, slow and stalled
//! ones), concurrent `events_since` readers and a memory monitor.
//!
//! Checked, with no timing assumptions:
//! - every watcher's stream is exactly the prefix of the events it should
//!   get (no gap, no duplicate, right types and order); a watcher whose
//!   stream is short was closed with `FellBehind`; watchers whose buffer
//!   cannot fill get everything, then `CacheClosed`; stalled watchers
//!   (which read nothing until the writers finish) must fall behind;
//! - every `events_since` answer is a contiguous run of the write log;
//! - the window never holds more than `max_bytes` counted bytes or
//!   `max_capacity` events, so its heap stays under
//!   `max_bytes + max_capacity × event_overhead_bytes()`.
//!
//! Runs in about a second in release and a few in debug (fewer events).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use edgecache::watch::{
    CloseReason, EventType, Object, Selector, WatchCache, WatchError, WatchOptions, event_overhead_bytes,
};

const EVENTS: u64 = if cfg!(debug_assertions) { 4_000 } else { 20_000 };
const WATCHERS: usize = 100;
const MAX_BYTES: usize = 64 * 1024;
const MAX_CAPACITY: usize = 1024;
const HANG: Duration = Duration::from_secs(60);
const INITIAL: usize = 20;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    kind: EventType,
    key: String,
    rv: u64,
}

fn app_of(key: &str) -> String {
    // Labels are fixed per key, so selector transitions do not occur here
    // (tests/watch.rs covers them); the projection is a plain filter.
    let n: usize = key.bytes().map(usize::from).sum();
    format!("a{}", n % 4)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Buffer large enough to hold every event: must see everything.
    Fast,
    /// Small buffer, pauses while reading: may fall behind.
    Slow,
    /// Small buffer, reads only after the writers finish: must fall behind.
    Stalled,
}

struct Spec {
    kind: Kind,
    app: Option<String>,
    from_state: bool,
}

fn spec(i: usize) -> Spec {
    let kind = match i % 10 {
        0..=2 => Kind::Slow,
        3 => Kind::Stalled,
        _ => Kind::Fast,
    };
    Spec { kind, app: (i % 5 != 0).then(|| format!("a{}", i % 4)), from_state: i % 2 == 0 }
}

#[test]
fn writers_and_a_hundred_watchers() {
    let cache = Arc::new(
        WatchCache::builder()
            .capacity(64)
            .max_capacity(MAX_CAPACITY)
            .max_bytes(MAX_BYTES)
            .index("label:app")
            .build()
            .unwrap(),
    );
    let initial: Vec<Object> = (0..INITIAL)
        .map(|i| {
            let key = format!("init-{i:02}");
            Object::new(key.clone(), vec![b'i'; 32]).label("app", app_of(&key))
        })
        .collect();
    cache.replace(initial.clone(), 1).unwrap();

    // The write log, in rv order: the rv counter and the log share a lock
    // held across each write, so the log order is the cache's order.
    let log: Arc<Mutex<(u64, Vec<Rec>)>> = Arc::new(Mutex::new((1, Vec::new())));
    let writers_done = Arc::new(AtomicBool::new(false));
    let release_stalled = Arc::new(Barrier::new(WATCHERS / 10 + 1));

    let mut watchers = Vec::new();
    for i in 0..WATCHERS {
        let s = spec(i);
        let labels = s.app.as_ref().map_or_else(Selector::everything, |a| Selector::new().with("app", a.clone()));
        let buffer = match s.kind {
            Kind::Fast => EVENTS as usize + 1,
            Kind::Slow | Kind::Stalled => 8,
        };
        let w = cache
            .watch(u64::from(!s.from_state), &labels, &Selector::everything(), WatchOptions::new().buffer(buffer))
            .unwrap();
        let barrier = Arc::clone(&release_stalled);
        let (stalled, slow) = (s.kind == Kind::Stalled, s.kind == Kind::Slow);
        watchers.push((
            s,
            thread::spawn(move || {
                if stalled {
                    barrier.wait();
                }
                let mut got = Vec::new();
                for n in 0..(EVENTS as usize + INITIAL + 10) {
                    match w.next_timeout(HANG) {
                        Ok(Some(ev)) => {
                            got.push(Rec { kind: ev.event_type(), key: ev.key().to_owned(), rv: ev.resource_version() })
                        }
                        Ok(None) => panic!("watcher {i} hung"),
                        Err(WatchError::Closed { reason }) => return (got, reason),
                        Err(e) => panic!("watcher {i}: {e}"),
                    }
                    if slow && n % 8 == 0 {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
                panic!("watcher {i} got more events than were written");
            }),
        ));
    }

    let writers: Vec<_> = (0..2)
        .map(|wid| {
            let (cache, log) = (Arc::clone(&cache), Arc::clone(&log));
            thread::spawn(move || {
                let mut live: BTreeMap<String, bool> = BTreeMap::new();
                let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ wid;
                let mut worst = (0usize, 0usize);
                for _ in 0..EVENTS / 2 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("w{wid}-k{:02}", x % 50);
                    let present = live.get(&key).copied().unwrap_or(false);
                    let kind = match (present, x % 4) {
                        (false, _) => EventType::Added,
                        (true, 0) => EventType::Deleted,
                        (true, _) => EventType::Modified,
                    };
                    let o = Object::new(key.clone(), vec![b'x'; 10 + (x % 400) as usize]).label("app", app_of(&key));
                    let mut g = log.lock().unwrap();
                    let rv = g.0 + 1 + x % 3;
                    let r = match kind {
                        EventType::Added => cache.add(o, rv),
                        EventType::Modified => cache.update(o, rv),
                        _ => cache.delete(o, rv),
                    };
                    r.unwrap();
                    g.0 = rv;
                    g.1.push(Rec { kind, key: key.clone(), rv });
                    drop(g);
                    live.insert(key, kind != EventType::Deleted);
                    let s = cache.window_stats();
                    worst = (worst.0.max(s.bytes), worst.1.max(s.events));
                }
                worst
            })
        })
        .collect();

    // Readers of the window, and a memory monitor, while writers run.
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (cache, done) = (Arc::clone(&cache), Arc::clone(&writers_done));
            thread::spawn(move || {
                let mut answers = Vec::new();
                let mut expired = 0;
                for _ in 0..100_000 {
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                    let s = cache.window_stats();
                    assert!(s.bytes <= MAX_BYTES && s.events <= MAX_CAPACITY, "{s:?}");
                    assert!(
                        s.bytes + s.events * event_overhead_bytes()
                            <= MAX_BYTES + MAX_CAPACITY * event_overhead_bytes()
                    );
                    let q = s.resource_version.saturating_sub(40).max(1);
                    match cache.events_since(q) {
                        Ok(evs) => answers.push((q, evs.iter().map(|e| e.resource_version()).collect::<Vec<_>>())),
                        Err(WatchError::ResourceExpired { .. }) => expired += 1,
                        Err(e) => panic!("{e}"),
                    }
                    thread::yield_now();
                }
                (answers, expired)
            })
        })
        .collect();

    for w in writers {
        let (bytes, events) = w.join().unwrap();
        assert!(bytes <= MAX_BYTES && events <= MAX_CAPACITY);
    }
    writers_done.store(true, Ordering::SeqCst);
    let log = Arc::try_unwrap(log).unwrap().into_inner().unwrap().1;
    assert_eq!(log.len() as u64, EVENTS);

    let all_rvs: Vec<u64> = log.iter().map(|r| r.rv).collect();
    let mut answered = 0;
    for r in readers {
        let (answers, _expired) = r.join().unwrap();
        for (q, got) in answers {
            // A contiguous run of the log, starting right after q.
            let start = all_rvs.partition_point(|&rv| rv <= q);
            assert!(start + got.len() <= all_rvs.len(), "events_since({q}): unknown events");
            assert!(
                got[..] == all_rvs[start..start + got.len()],
                "events_since({q}) is not a contiguous run of the log"
            );
            answered += 1;
        }
    }

    let s = cache.window_stats();
    assert!(s.bytes <= MAX_BYTES && s.events <= MAX_CAPACITY, "{s:?}");
    // The counted bytes are exactly those of the events in the window.
    let window = cache.events_since(s.oldest_accepted).unwrap();
    assert_eq!(window.len(), s.events);
    assert_eq!(window.iter().map(|e| e.counted_bytes()).sum::<usize>(), s.bytes);

    cache.close();
    release_stalled.wait();

    let mut full = 0;
    let mut behind = 0;
    for (i, (s, h)) in watchers.into_iter().enumerate() {
        let (got, reason) = h.join().unwrap();
        let matches = |key: &str| s.app.as_ref().is_none_or(|a| *a == app_of(key));
        let mut want: Vec<Rec> = Vec::new();
        if s.from_state {
            want.extend(initial.iter().filter(|o| matches(&o.key)).map(|o| Rec {
                kind: EventType::Added,
                key: o.key.clone(),
                rv: 1,
            }));
        }
        want.extend(log.iter().filter(|r| matches(&r.key)).cloned());
        assert!(got.len() <= want.len(), "watcher {i}: more events than written");
        if let Some(at) = got.iter().zip(&want).position(|(g, w)| g != w) {
            panic!(
                "watcher {i} ({:?}): a gap, a duplicate or a wrong event at #{at}: got {:?}, want {:?}",
                s.kind, got[at], want[at]
            );
        }
        match reason {
            CloseReason::CacheClosed => {
                assert_eq!(got.len(), want.len(), "watcher {i} closed normally but missed events");
                full += 1;
            }
            CloseReason::FellBehind { buffer: 8 } => {
                assert_ne!(s.kind, Kind::Fast, "watcher {i} could not fill its buffer");
                assert!(got.len() < want.len());
                behind += 1;
            }
            other => panic!("watcher {i}: unexpected close {other:?}"),
        }
        if s.kind == Kind::Fast {
            assert_eq!(reason, CloseReason::CacheClosed);
        }
        if s.kind == Kind::Stalled {
            assert_eq!(reason, CloseReason::FellBehind { buffer: 8 }, "watcher {i} read nothing yet kept up");
        }
    }
    assert!(full >= WATCHERS * 6 / 10);
    assert!(behind >= WATCHERS / 10);
    assert!(answered > 0, "the readers never got an answer");
    eprintln!(
        "watch stress: {EVENTS} events, {WATCHERS} watchers: {full} complete, {behind} fell behind; \
         {answered} events_since answers checked; window {s:?}"
    );
}
