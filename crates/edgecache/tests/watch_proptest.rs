//! Property test: the WatchCache against a simple model (every event since
//! the last relist in a vector, the current state in a map).
//!
//! The model does not simulate window sizing; it bounds it. The window is a
//! suffix of the model's events holding at least
//! `min(events, capacity, longest suffix within max_bytes)` of them and at
//! most `min(events, max_capacity, longest suffix within max_bytes)`. From
//! that the model says when `events_since(rv)` must succeed, when it must
//! fail (the rv left the window), and, whenever it succeeds, exactly what
//! it must return.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use edgecache::watch::{
    CloseReason, Event, EventType, ManualClock, Object, Selector, StrMap, WatchCache, WatchError, WatchOptions, Watcher,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Write `kind` (0 add, 1 update, 2 delete) to key `key` with an object
    /// of `len` bytes and label `app` = `app` (none for 3), `gap` rvs ahead.
    Write { kind: u8, key: u8, len: u8, app: u8, gap: u8 },
    /// A write whose rv does not move forward.
    StaleWrite { back: u8 },
    /// Relist with `n` items, `gap` rvs ahead (0 = same rv).
    Replace { n: u8, gap: u8 },
    /// Progress notification `gap` rvs ahead.
    Bookmark { gap: u8 },
    /// Move the sizing clock forward.
    Advance { secs: u8 },
    /// Query `events_since` at a point picked by `pick`.
    Since { pick: u16 },
    /// List with label selector app = `app` (3: everything).
    List { app: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..3, 0u8..6, 0u8..24, 0u8..4, 1u8..4)
            .prop_map(|(kind, key, len, app, gap)| Op::Write { kind, key, len, app, gap }),
        1 => (0u8..3).prop_map(|back| Op::StaleWrite { back }),
        1 => (0u8..5, 0u8..3).prop_map(|(n, gap)| Op::Replace { n, gap }),
        1 => (0u8..3).prop_map(|gap| Op::Bookmark { gap }),
        2 => (0u8..120).prop_map(|secs| Op::Advance { secs }),
        6 => any::<u16>().prop_map(|pick| Op::Since { pick }),
        2 => (0u8..4).prop_map(|app| Op::List { app }),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct MEvent {
    kind: EventType,
    rv: u64,
    key: String,
    obj: Vec<u8>,
    labels: StrMap,
    prev: Option<(Vec<u8>, StrMap)>,
}

impl MEvent {
    fn cost(&self) -> usize {
        self.key.len() + self.obj.len() + self.prev.as_ref().map_or(0, |p| p.0.len())
    }
}

#[derive(Default)]
struct Model {
    /// Every event since the last relist (or since creation).
    events: Vec<MEvent>,
    /// key -> (object, labels, rv)
    state: BTreeMap<String, (Vec<u8>, StrMap, u64)>,
    rv: u64,
    list_rv: Option<u64>,
}

struct Config {
    cap: usize,
    max_cap: usize,
    max_bytes: Option<usize>,
}

impl Model {
    /// The longest suffix of `events` whose costs fit the byte bound.
    fn fit(&self, max_bytes: Option<usize>) -> usize {
        let Some(max) = max_bytes else { return self.events.len() };
        let mut sum = 0;
        let mut n = 0;
        for e in self.events.iter().rev() {
            sum += e.cost();
            if sum > max {
                break;
            }
            n += 1;
        }
        n
    }

    fn after(&self, q: u64) -> Vec<&MEvent> {
        self.events.iter().filter(|e| e.rv > q).collect()
    }

    /// `Some(true)`: must succeed, `Some(false)`: must expire, `None`: the
    /// window's size decides.
    fn verdict(&self, q: u64, cfg: &Config) -> Option<bool> {
        let len = self.events.len();
        let fit = self.fit(cfg.max_bytes);
        let at_least = len.min(cfg.cap).min(fit);
        let at_most = len.min(cfg.max_cap).min(fit);
        if at_least == len {
            // Nothing can have left: the window is exactly `events`.
            let oldest_accepted = match (self.list_rv, self.events.first()) {
                (Some(l), _) => l,
                (None, Some(e)) => e.rv - 1,
                (None, None) => self.rv,
            };
            return Some(q >= oldest_accepted);
        }
        if self.list_rv.is_some_and(|l| q < l) {
            return Some(false);
        }
        let j = self.after(q).len();
        if j > at_most {
            return Some(false);
        }
        if j < at_least {
            return Some(true);
        }
        None
    }
}

fn labels(app: u8) -> StrMap {
    let mut m = StrMap::new();
    if app < 3 {
        m.insert("app".into(), format!("a{app}"));
    }
    m
}

fn sel(app: u8) -> Selector {
    if app < 3 { Selector::new().with("app", format!("a{app}")) } else { Selector::everything() }
}

fn to_m(e: &Event) -> MEvent {
    MEvent {
        kind: e.event_type(),
        rv: e.resource_version(),
        key: e.key().to_owned(),
        obj: e.object().to_vec(),
        labels: e.labels().clone(),
        prev: e.prev_item().map(|p| (p.object().to_vec(), p.labels().clone())),
    }
}

/// Kubernetes' cacheWatcher projection, restated for the model.
fn project(e: &MEvent, s: &Selector) -> Option<MEvent> {
    let cur = e.kind != EventType::Deleted && s.matches(&e.labels);
    let old = e.prev.as_ref().is_some_and(|p| s.matches(&p.1));
    let mut out = e.clone();
    match (cur, old) {
        (false, false) => return None,
        (true, false) => {
            out.kind = EventType::Added;
            out.prev = None;
        }
        (true, true) => out.kind = EventType::Modified,
        (false, true) if e.kind == EventType::Deleted => {}
        (false, true) => {
            let (obj, l) = e.prev.clone()?;
            out = MEvent { kind: EventType::Deleted, rv: e.rv, key: e.key.clone(), obj, labels: l, prev: None };
        }
    }
    Some(out)
}

/// A watcher opened by the test and the events the model expects it to
/// have delivered so far.
struct Watch {
    w: Watcher,
    sel: Selector,
    expected: Vec<MEvent>,
    got: Vec<MEvent>,
}

fn open_watch(c: &WatchCache, m: &Model, app: u8) -> Watch {
    let s = sel(app);
    let w = c.watch(0, &s, &Selector::everything(), WatchOptions::new().buffer(100_000)).unwrap();
    let expected = m
        .state
        .iter()
        .filter(|(_, (_, l, _))| s.matches(l))
        .map(|(k, (o, l, _))| MEvent {
            kind: EventType::Added,
            rv: m.rv,
            key: k.clone(),
            obj: o.clone(),
            labels: l.clone(),
            prev: None,
        })
        .collect();
    Watch { w, sel: s, expected, got: Vec::new() }
}

fn run(cfg: Config, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = Arc::new(ManualClock::new());
    let build = |indexed: bool| {
        let mut b = WatchCache::builder().capacity(cfg.cap).max_capacity(cfg.max_cap).clock(clock.clone());
        if let Some(mb) = cfg.max_bytes {
            b = b.max_bytes(mb);
        }
        if indexed {
            b = b.index("label:app");
        }
        b.build().unwrap()
    };
    let c = build(true);
    let scan = build(false);
    let mut m = Model::default();
    // Start at rv 100, so `events_since(oldest)` never means "the state"
    // (rv 0) below; a fresh cache's rv 0 is covered by tests/watch.rs.
    c.bookmark(100).unwrap();
    scan.bookmark(100).unwrap();
    m.rv = 100;
    let mut watches: Vec<Watch> = (0..4).map(|app| open_watch(&c, &m, app)).collect();

    for op in ops {
        match op {
            Op::Write { kind, key, len, app, gap } => {
                let key = format!("k{key}");
                let body = vec![b'a' + (m.rv % 26) as u8; len as usize];
                let o = Object::new(key.clone(), body.clone()).with_labels(labels(app));
                let rv = m.rv + u64::from(gap);
                let kind = [EventType::Added, EventType::Modified, EventType::Deleted][kind as usize];
                for cache in [&c, &scan] {
                    let r = match kind {
                        EventType::Added => cache.add(o.clone(), rv),
                        EventType::Modified => cache.update(o.clone(), rv),
                        _ => cache.delete(o.clone(), rv),
                    };
                    prop_assert_eq!(r, Ok(()));
                }
                let prev = m.state.get(&key).map(|(o, l, _)| (o.clone(), l.clone()));
                if kind == EventType::Deleted {
                    m.state.remove(&key);
                } else {
                    m.state.insert(key.clone(), (body.clone(), labels(app), rv));
                }
                let ev = MEvent { kind, rv, key, obj: body, labels: labels(app), prev };
                for w in &mut watches {
                    if let Some(p) = project(&ev, &w.sel) {
                        w.expected.push(p);
                    }
                }
                m.events.push(ev);
                m.rv = rv;
            }
            Op::StaleWrite { back } => {
                let rv = m.rv.saturating_sub(u64::from(back));
                let r = c.add(Object::new("k0", &b"x"[..]), rv);
                prop_assert!(matches!(r, Err(WatchError::InvalidArgument(_))), "{:?}", r);
            }
            Op::Replace { n, gap } => {
                let rv = m.rv + u64::from(gap);
                let items: Vec<Object> = (0..n)
                    .map(|i| Object::new(format!("k{i}"), vec![b'r'; i as usize]).with_labels(labels(i % 4)))
                    .collect();
                prop_assert_eq!(c.replace(items.clone(), rv), Ok(()));
                prop_assert_eq!(scan.replace(items.clone(), rv), Ok(()));
                m.state = items.iter().map(|o| (o.key.clone(), (o.object.to_vec(), o.labels.clone(), rv))).collect();
                m.events.clear();
                m.list_rv = Some(rv);
                m.rv = rv;
                // Every watcher ends with Relisted after what it held.
                for w in &mut watches {
                    loop {
                        match w.w.try_next() {
                            Ok(Some(e)) => w.got.push(to_m(&e)),
                            Ok(None) => prop_assert!(false, "a relisted watcher must be closed"),
                            Err(e) => {
                                prop_assert_eq!(
                                    e.close_reason(),
                                    Some(&CloseReason::Relisted { resource_version: rv })
                                );
                                break;
                            }
                        }
                    }
                    prop_assert_eq!(&w.got, &w.expected);
                }
                watches = (0..4).map(|app| open_watch(&c, &m, app)).collect();
            }
            Op::Bookmark { gap } => {
                let rv = m.rv + u64::from(gap);
                prop_assert_eq!(c.bookmark(rv), Ok(()));
                prop_assert_eq!(scan.bookmark(rv), Ok(()));
                m.rv = rv;
            }
            Op::Advance { secs } => clock.advance(Duration::from_secs(u64::from(secs))),
            Op::Since { pick } => {
                // Mostly near the interesting boundaries.
                let lo = m.list_rv.unwrap_or(0).min(m.events.first().map_or(m.rv, |e| e.rv));
                let span = m.rv + 3 - lo.saturating_sub(2);
                let q = lo.saturating_sub(2) + u64::from(pick) % span;
                let stats = c.window_stats();
                let got = c.events_since(q);
                let verdict = if q == 0 { Some(true) } else { m.verdict(q, &cfg) };
                match verdict {
                    Some(true) => prop_assert!(got.is_ok(), "q={} must succeed: {:?} {:?}", q, got, stats),
                    Some(false) => prop_assert!(got.is_err(), "q={} must expire: {:?}", q, stats),
                    None => {}
                }
                match got {
                    Ok(evs) => {
                        let want: Vec<MEvent> = if q == 0 {
                            m.state
                                .iter()
                                .map(|(k, (o, l, _))| MEvent {
                                    kind: EventType::Added,
                                    rv: m.rv,
                                    key: k.clone(),
                                    obj: o.clone(),
                                    labels: l.clone(),
                                    prev: None,
                                })
                                .collect()
                        } else {
                            m.after(q).into_iter().cloned().collect()
                        };
                        prop_assert_eq!(evs.iter().map(to_m).collect::<Vec<_>>(), want);
                    }
                    Err(e) => {
                        prop_assert_eq!(e, WatchError::ResourceExpired { requested: q, oldest: stats.oldest_accepted });
                        prop_assert!(q < stats.oldest_accepted);
                    }
                }
            }
            Op::List { app } => {
                let s = sel(app);
                let (a, rv_a) = c.list(0, &s, &Selector::everything()).unwrap();
                let (b, rv_b) = scan.list(0, &s, &Selector::everything()).unwrap();
                prop_assert_eq!(rv_a, m.rv);
                prop_assert_eq!(rv_b, m.rv);
                prop_assert_eq!(&a, &b);
                let want: Vec<(String, Vec<u8>, u64)> = m
                    .state
                    .iter()
                    .filter(|(_, (_, l, _))| s.matches(l))
                    .map(|(k, (o, _, rv))| (k.clone(), o.clone(), *rv))
                    .collect();
                let got: Vec<(String, Vec<u8>, u64)> =
                    a.iter().map(|i| (i.key().to_owned(), i.object().to_vec(), i.resource_version())).collect();
                prop_assert_eq!(got, want);
            }
        }

        // Invariants after every operation.
        let s = c.window_stats();
        prop_assert!(s.events <= s.capacity && s.capacity <= cfg.max_cap && s.capacity >= cfg.cap, "{:?}", s);
        if let Some(mb) = cfg.max_bytes {
            prop_assert!(s.bytes <= mb, "{:?}", s);
        }
        let window = c.events_since(s.oldest_accepted).unwrap();
        prop_assert_eq!(window.len(), s.events);
        prop_assert_eq!(window.iter().map(Event::counted_bytes).sum::<usize>(), s.bytes);
        // The window is a suffix of the model's events.
        let all = m.events.len();
        prop_assert!(s.events <= all);
        let suffix: Vec<MEvent> = m.events[all - s.events..].to_vec();
        prop_assert_eq!(window.iter().map(to_m).collect::<Vec<_>>(), suffix);
        for w in &mut watches {
            while let Ok(Some(e)) = w.w.try_next() {
                w.got.push(to_m(&e));
            }
            prop_assert_eq!(w.w.close_reason(), None);
            prop_assert_eq!(&w.got, &w.expected);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(debug_assertions) { 256 } else { 1024 }, ..ProptestConfig::default() })]

    #[test]
    fn watch_cache_agrees_with_model(
        cap in 1usize..6,
        extra in 0usize..4,
        max_bytes in prop_oneof![Just(None), (20usize..200).prop_map(Some)],
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let cfg = Config { cap, max_cap: cap << extra, max_bytes };
        run(cfg, ops)?;
    }
}
