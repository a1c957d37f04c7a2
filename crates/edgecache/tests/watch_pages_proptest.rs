//! Property test: paginated lists against a model.
//!
//! Random writes, deletes, relists and bookmarks are interleaved with up to
//! three listings in progress, each fetching one page at a time. Whatever
//! happens between its pages, a listing that completes must have returned
//! exactly the model's state at the resourceVersion of its first page
//! (filtered by its selector), in key order, with no page larger than its
//! limit. A page may only fail with ResourceExpired, and only when the
//! listing's resourceVersion has left the window (a relist, or events
//! evicted from the small window), as the window's own statistics say.

use std::collections::BTreeMap;

use edgecache::watch::{Item, ListRequest, Object, ResourceVersionMatch, Selector, WatchCache, WatchError};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// 0 add, 1 update, 2 delete key `key` with label app = `app` (3: none).
    Write {
        kind: u8,
        key: u8,
        app: u8,
        gap: u8,
    },
    /// Relist with `n` keys.
    Replace {
        n: u8,
        gap: u8,
    },
    Bookmark {
        gap: u8,
    },
    /// Start a listing: `limit` (0: none), selector app = `app` (3: all),
    /// at `how` (0: rv 0, 1: NotOlderThan the current rv, 2: Exact at a
    /// past rv picked by `back`).
    Start {
        limit: u8,
        app: u8,
        how: u8,
        back: u8,
    },
    /// Fetch the next page of listing `which` (mod the number in progress).
    Next {
        which: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..3, 0u8..12, 0u8..4, 1u8..3).prop_map(|(kind, key, app, gap)| Op::Write { kind, key, app, gap }),
        // A relist moves the resourceVersion forward: one rv names one state,
        // so a relist at the same rv with other contents cannot happen.
        1 => (0u8..8, 1u8..3).prop_map(|(n, gap)| Op::Replace { n, gap }),
        1 => (0u8..2).prop_map(|gap| Op::Bookmark { gap }),
        3 => (0u8..5, 0u8..4, 0u8..3, any::<u8>()).prop_map(|(limit, app, how, back)| Op::Start { limit, app, how, back }),
        6 => any::<u8>().prop_map(|which| Op::Next { which }),
    ]
}

type State = BTreeMap<String, (u64, Option<u8>)>;

struct Model {
    rv: u64,
    state: State,
    /// (rv, state at rv) after every change of rv, oldest first.
    history: Vec<(u64, State)>,
}

impl Model {
    fn at(&self, rv: u64) -> State {
        self.history.iter().rev().find(|(r, _)| *r <= rv).map(|(_, s)| s.clone()).unwrap_or_default()
    }

    fn record(&mut self) {
        self.history.push((self.rv, self.state.clone()));
    }
}

struct Listing {
    limit: usize,
    app: Option<u8>,
    rv: u64,
    token: Option<String>,
    got: Vec<Item>,
}

fn selector(app: Option<u8>) -> Selector {
    app.map_or_else(Selector::everything, |a| Selector::new().with("app", format!("a{a}")))
}

fn obj(key: &str, app: Option<u8>, rv: u64) -> Object {
    let o = Object::new(key, format!("{key}@{rv}").into_bytes());
    match app {
        Some(a) => o.label("app", format!("a{a}")),
        None => o,
    }
}

/// Checks a finished listing against the model.
fn check_done(m: &Model, l: &Listing) {
    let want: Vec<(String, u64)> = m
        .at(l.rv)
        .into_iter()
        .filter(|(_, (_, app))| l.app.is_none() || *app == l.app)
        .map(|(k, (rv, _))| (k, rv))
        .collect();
    let got: Vec<(String, u64)> = l.got.iter().map(|i| (i.key().to_owned(), i.resource_version())).collect();
    assert_eq!(got, want, "listing at rv {} with app {:?}", l.rv, l.app);
    for i in &l.got {
        assert_eq!(i.object(), format!("{}@{}", i.key(), i.resource_version()).as_bytes());
    }
}

/// Takes one page into `l`; returns false when the listing is over
/// (complete, checked, or legitimately expired).
fn page(c: &WatchCache, m: &Model, l: &mut Listing, req: ListRequest) -> bool {
    let oldest = c.window_stats().oldest_accepted;
    match c.list_page(&req) {
        Ok(p) => {
            assert_eq!(p.resource_version, l.rv, "every page comes from the first page's snapshot");
            if l.limit > 0 {
                assert!(p.items.len() <= l.limit, "page of {} over limit {}", p.items.len(), l.limit);
            }
            if let (Some(last), Some(first)) = (l.got.last(), p.items.first()) {
                assert!(last.key() < first.key(), "pages in key order");
            }
            l.got.extend(p.items);
            l.token = p.continue_token;
            if l.token.is_none() {
                check_done(m, l);
                return false;
            }
            true
        }
        Err(WatchError::ResourceExpired { requested, .. }) => {
            assert_eq!(requested, l.rv);
            assert!(l.rv < oldest, "rv {} expired while the window accepts {oldest}", l.rv);
            false
        }
        Err(e) => panic!("unexpected {e:?}"),
    }
}

fn run(cap: usize, ops: Vec<Op>) {
    let c = WatchCache::builder().capacity(cap).max_capacity(cap).build().unwrap();
    let mut m = Model { rv: 1, state: State::new(), history: Vec::new() };
    c.replace(Vec::new(), 1).unwrap();
    m.record();
    let mut open: Vec<Listing> = Vec::new();
    for op in ops {
        match op {
            Op::Write { kind, key, app, gap } => {
                let rv = m.rv + u64::from(gap);
                let key = format!("k{key:02}");
                let app = (app < 3).then_some(app);
                match kind {
                    0 => c.add(obj(&key, app, rv), rv).unwrap(),
                    1 => c.update(obj(&key, app, rv), rv).unwrap(),
                    _ => c.delete(obj(&key, app, rv), rv).unwrap(),
                }
                m.rv = rv;
                if kind == 2 {
                    m.state.remove(&key);
                } else {
                    m.state.insert(key, (rv, app));
                }
                m.record();
            }
            Op::Replace { n, gap } => {
                let rv = m.rv + u64::from(gap);
                let items: Vec<Object> = (0..n).map(|i| obj(&format!("k{:02}", i * 2), Some(i % 3), rv)).collect();
                c.replace(items, rv).unwrap();
                m.rv = rv;
                m.state = (0..n).map(|i| (format!("k{:02}", i * 2), (rv, Some(i % 3)))).collect();
                m.record();
            }
            Op::Bookmark { gap } => {
                m.rv += u64::from(gap);
                c.bookmark(m.rv).unwrap();
                m.record();
            }
            Op::Start { limit, app, how, back } => {
                if open.len() == 3 {
                    continue;
                }
                let app = (app < 3).then_some(app);
                let base = ListRequest::new().limit(usize::from(limit)).label_selector(selector(app));
                let (req, rv, limit) = match how {
                    0 => (base.resource_version(0), m.rv, 0),
                    1 => (base.resource_version(m.rv), m.rv, usize::from(limit)),
                    _ => {
                        let past = m.history[usize::from(back) % m.history.len()].0;
                        let req = base.resource_version(past).resource_version_match(ResourceVersionMatch::Exact);
                        (req, past, usize::from(limit))
                    }
                };
                let mut l = Listing { limit, app, rv, token: None, got: Vec::new() };
                if page(&c, &m, &mut l, req) {
                    open.push(l);
                }
            }
            Op::Next { which } => {
                if open.is_empty() {
                    continue;
                }
                let i = usize::from(which) % open.len();
                let l = &mut open[i];
                let req = ListRequest::new()
                    .limit(l.limit)
                    .label_selector(selector(l.app))
                    .continue_token(l.token.clone().unwrap());
                if !page(&c, &m, l, req) {
                    open.swap_remove(i);
                }
            }
        }
    }
    // Finish what is still open (nothing is written any more).
    for mut l in open {
        for _ in 0..64 {
            let req = ListRequest::new()
                .limit(l.limit)
                .label_selector(selector(l.app))
                .continue_token(l.token.clone().unwrap());
            if !page(&c, &m, &mut l, req) {
                break;
            }
        }
        assert!(l.token.is_none() || c.window_stats().oldest_accepted > l.rv, "listing never finished");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn concatenated_pages_equal_the_state_at_the_first_pages_rv(
        cap in prop_oneof![Just(3usize), Just(8), Just(64)],
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run(cap, ops);
    }
}
