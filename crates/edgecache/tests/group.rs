//! Group rules: registry, loads, statistics, hot cache, peers, errors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use edgecache::{CacheType, Error, GetterError, Group, GroupOptions, Peer, PeerPicker, Stats, Value, get_group};

/// A group name no other test uses.
fn name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{tag}-{}", N.fetch_add(1, Ordering::Relaxed))
}

fn upper_getter(calls: Arc<AtomicUsize>) -> impl Fn(&[u8]) -> Result<Value, GetterError> + Send + Sync + 'static {
    move |key: &[u8]| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(Value::from(key.to_ascii_uppercase()))
    }
}

/// Waits (at most 10 s) until a load is running in `g`.
fn wait_for_a_load(g: &Group) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while g.stats().loads_deduped == 0 {
        assert!(Instant::now() < deadline, "no load started");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A getter that blocks until the returned guard is dropped, then answers
/// `value`.
fn gated_getter(value: &'static [u8]) -> (Arc<Mutex<()>>, impl edgecache::Getter) {
    let gate = Arc::new(Mutex::new(()));
    let g2 = gate.clone();
    (gate, move |_: &[u8]| -> Result<Value, GetterError> {
        drop(g2.lock().unwrap());
        Ok(Value::from(value))
    })
}

#[derive(Debug)]
struct UpstreamDown(u16);
impl std::fmt::Display for UpstreamDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "upstream answered {}", self.0)
    }
}
impl std::error::Error for UpstreamDown {}

#[test]
fn registry_finds_groups_and_refuses_duplicates() {
    let n = name("registry");
    let g = Group::new(&n, 1 << 10, upper_getter(Arc::default())).unwrap();
    assert_eq!(g.name(), n);
    assert_eq!(get_group(&n).map(|g| g.name().to_owned()), Some(n.clone()));
    let dup = Group::new(&n, 1 << 10, upper_getter(Arc::default()));
    assert!(matches!(dup, Err(Error::DuplicateGroup(ref d)) if *d == n), "{dup:?}");
    // The original is untouched.
    assert_eq!(&*g.get(b"x").unwrap(), b"X");
    g.close();
    assert!(get_group(&n).is_none());
    assert!(matches!(g.get(b"x"), Err(Error::Closed)));
    // The name is free again.
    let again = Group::new(&n, 1 << 10, upper_getter(Arc::default())).unwrap();
    again.close();
    g.close(); // idempotent, and does not unregister the newer group's name twice
    assert!(get_group("never-registered").is_none());
}

#[test]
fn hits_and_loads_are_counted_like_groupcache() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("stats"), 1 << 10, upper_getter(calls.clone())).unwrap();
    assert_eq!(&*g.get(b"a").unwrap(), b"A");
    assert_eq!(&*g.get(b"a").unwrap(), b"A");
    assert_eq!(&*g.get(b"b").unwrap(), b"B");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        g.stats(),
        Stats { gets: 3, cache_hits: 1, loads: 2, loads_deduped: 2, local_loads: 2, ..Stats::default() }
    );
    let main = g.cache_stats(CacheType::Main);
    assert_eq!((main.items, main.bytes), (2, 4));
    assert_eq!(g.cache_stats(CacheType::Hot).items, 0);
    g.close();
}

#[test]
fn get_cached_answers_hits_only_and_counts_them_like_get() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("cached"), 1 << 10, upper_getter(calls.clone())).unwrap();
    assert!(g.get_cached(b"a").is_none(), "a miss does not load");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(g.stats(), Stats::default(), "a miss counts nothing");
    assert_eq!(&*g.get(b"a").unwrap(), b"A");
    assert_eq!(&*g.get_cached(b"a").unwrap(), b"A");
    assert_eq!(
        g.stats(),
        Stats { gets: 2, cache_hits: 1, loads: 1, loads_deduped: 1, local_loads: 1, ..Stats::default() }
    );
    g.close();
    assert!(g.get_cached(b"a").is_none(), "a closed group answers nothing");
}

#[test]
fn thousand_threads_one_key_one_getter_call() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let getter = {
        let (calls, gate) = (calls.clone(), gate.clone());
        move |_: &[u8]| -> Result<Value, GetterError> {
            calls.fetch_add(1, Ordering::SeqCst);
            drop(gate.lock().unwrap());
            Ok(Value::from(&b"list of pods"[..]))
        }
    };
    let g = Group::new(&name("stampede"), 1 << 20, getter).unwrap();
    let start = Arc::new(Barrier::new(1000));
    let hs: Vec<_> = (0..1000)
        .map(|_| {
            let (g, start) = (g.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                g.get(b"/api/v1/pods").map(|v| v.len())
            })
        })
        .collect();
    // Release the load only once every thread has missed the cache
    // (`loads` counts misses; `gets` is counted before the cache is
    // checked, so waiting on it let a late thread hit the loaded value).
    let deadline = Instant::now() + Duration::from_secs(10);
    while g.stats().loads < 1000 {
        assert!(Instant::now() < deadline, "threads never arrived");
        thread::sleep(Duration::from_millis(1));
    }
    drop(held);
    for h in hs {
        assert_eq!(h.join().unwrap().unwrap(), 12);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let st = g.stats();
    assert_eq!((st.gets, st.loads_deduped, st.local_loads), (1000, 1, 1));
    assert_eq!(st.loads, 1000, "all missed the cache while the load was held");
    g.close();
}

#[test]
fn a_getter_error_reaches_the_caller_intact_and_is_not_cached() {
    let calls = Arc::new(AtomicUsize::new(0));
    let getter = {
        let calls = calls.clone();
        move |_: &[u8]| -> Result<Value, GetterError> {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Arc::new(UpstreamDown(503)))
        }
    };
    let g = Group::new(&name("errors"), 1 << 10, getter).unwrap();
    for _ in 0..2 {
        match g.get(b"k") {
            Err(Error::Getter(e)) => {
                let inner = e.downcast_ref::<UpstreamDown>().expect("the getter's own type");
                assert_eq!(inner.0, 503);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "errors are not cached");
    assert_eq!(g.stats().local_load_errs, 2);
    assert_eq!(g.cache_stats(CacheType::Main).items, 0);
    g.close();
}

#[test]
fn a_panicking_getter_becomes_an_error_and_frees_the_key() {
    let calls = Arc::new(AtomicUsize::new(0));
    let getter = {
        let calls = calls.clone();
        move |key: &[u8]| -> Result<Value, GetterError> {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("getter bug");
            }
            Ok(Value::from(key))
        }
    };
    let g = Group::new(&name("panic"), 1 << 10, getter).unwrap();
    assert!(matches!(g.get(b"k"), Err(Error::LoaderPanicked(m)) if m == "getter bug"));
    assert_eq!(&*g.get(b"k").unwrap(), b"k");
    assert_eq!(g.stats().local_load_errs, 1);
    g.check_invariants();
    g.close();
}

#[test]
fn a_waiter_can_time_out() {
    let (gate, getter) = gated_getter(b"v");
    let held = gate.lock().unwrap();
    let g = Group::new(&name("timeout"), 1 << 10, getter).unwrap();
    let leader = {
        let g = g.clone();
        thread::spawn(move || g.get(b"k"))
    };
    wait_for_a_load(&g);
    assert!(matches!(g.get_timeout(b"k", Duration::from_millis(10)), Err(Error::Timeout)));
    drop(held);
    assert_eq!(&*leader.join().unwrap().unwrap(), b"v");
    g.close();
}

#[test]
fn remove_drops_the_entry_and_the_next_get_loads_again() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("remove"), 1 << 10, upper_getter(calls.clone())).unwrap();
    g.get(b"a").unwrap();
    assert!(g.remove(b"a"));
    assert!(!g.remove(b"a"));
    assert_eq!(g.cache_stats(CacheType::Main).bytes, 0);
    g.get(b"a").unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    g.close();
}

#[test]
fn a_load_in_flight_during_remove_does_not_store_its_value() {
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let version = Arc::new(AtomicUsize::new(1));
    let getter = {
        let (gate, version) = (gate.clone(), version.clone());
        move |_: &[u8]| -> Result<Value, GetterError> {
            let v = version.load(Ordering::SeqCst);
            drop(gate.lock().unwrap());
            Ok(Value::from(v.to_string().into_bytes()))
        }
    };
    let g = Group::new(&name("stale"), 1 << 10, getter).unwrap();
    let old = {
        let g = g.clone();
        thread::spawn(move || g.get(b"k"))
    };
    wait_for_a_load(&g);
    version.store(2, Ordering::SeqCst);
    g.remove(b"k");
    drop(held);
    assert_eq!(&*old.join().unwrap().unwrap(), b"1");
    assert_eq!(g.cache_stats(CacheType::Main).items, 0, "the stale load was stored");
    assert_eq!(&*g.get(b"k").unwrap(), b"2");
    g.close();
}

#[test]
fn ttl_applies_to_loaded_entries() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::with_options(
        &name("ttl"),
        1 << 10,
        upper_getter(calls.clone()),
        GroupOptions::default().ttl(Some(Duration::from_nanos(1))),
    )
    .unwrap();
    g.get(b"a").unwrap();
    g.get(b"a").unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "an expired entry must be reloaded");
    g.close();
}

#[test]
fn zero_budget_still_dedups_but_caches_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("nocache"), 0, upper_getter(calls.clone())).unwrap();
    assert_eq!(g.cache_bytes(), 0);
    g.get(b"a").unwrap();
    g.get(b"a").unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(g.cache_stats(CacheType::Main).items, 0);
    g.close();
}

#[test]
fn a_value_larger_than_the_budget_is_returned_not_kept() {
    let g =
        Group::new(&name("huge"), 16, |_: &[u8]| -> Result<Value, GetterError> { Ok(Value::from(vec![7u8; 1000])) })
            .unwrap();
    assert_eq!(g.get(b"k").unwrap().len(), 1000);
    assert_eq!(g.cache_stats(CacheType::Main).bytes, 0);
    g.close();
}

/// Owns every key that starts with "peer/"; answers or fails on demand.
struct FakePeers {
    peer: Arc<FakePeer>,
}
struct FakePeer {
    calls: AtomicUsize,
    fail: std::sync::atomic::AtomicBool,
}
impl Peer for FakePeer {
    fn get(&self, group: &str, key: &[u8]) -> Result<Value, GetterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(Arc::new(UpstreamDown(502)));
        }
        Ok(Value::from(format!("{group}:{}", String::from_utf8_lossy(key)).into_bytes()))
    }
}
impl PeerPicker for FakePeers {
    fn pick_peer(&self, key: &[u8]) -> Option<Arc<dyn Peer>> {
        key.starts_with(b"peer/").then(|| self.peer.clone() as Arc<dyn Peer>)
    }
}

fn peered(tag: &str, budget: i64, hot_sample: u32) -> (Group, Arc<FakePeer>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::with_options(
        &name(tag),
        budget,
        upper_getter(calls.clone()),
        GroupOptions::default().hot_sample(hot_sample).shards(1),
    )
    .unwrap();
    let peer = Arc::new(FakePeer { calls: AtomicUsize::new(0), fail: false.into() });
    g.register_peers(Arc::new(FakePeers { peer: peer.clone() })).unwrap();
    assert!(matches!(g.register_peers(Arc::new(FakePeers { peer: peer.clone() })), Err(Error::PeersAlreadyRegistered)));
    (g, peer, calls)
}

#[test]
fn peer_keys_load_from_the_peer_and_fill_hot() {
    let (g, peer, calls) = peered("peers", 1 << 10, 1);
    let v = g.get(b"peer/x").unwrap();
    assert!(v.starts_with(g.name().as_bytes()));
    assert_eq!(peer.calls.load(Ordering::SeqCst), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(g.cache_stats(CacheType::Hot).items, 1);
    assert_eq!(g.cache_stats(CacheType::Main).items, 0);
    // A hit from hot: no second peer call.
    g.get(b"peer/x").unwrap();
    assert_eq!(peer.calls.load(Ordering::SeqCst), 1);
    let st = g.stats();
    assert_eq!((st.peer_loads, st.cache_hits, st.local_loads), (1, 1, 0));
    g.close();
}

#[test]
fn hot_fill_is_sampled() {
    let (g, peer, _) = peered("sample", 1 << 20, 10);
    for i in 0..2000 {
        g.get(format!("peer/{i}").as_bytes()).unwrap();
    }
    assert_eq!(peer.calls.load(Ordering::SeqCst), 2000);
    let hot = g.cache_stats(CacheType::Hot).items;
    // One in ten on average; far outside 100..=300 means the sampling is off.
    assert!((100..=300).contains(&hot), "hot items {hot}");
    let (never, _, _) = peered("never", 1 << 20, 0);
    never.get(b"peer/a").unwrap();
    assert_eq!(never.cache_stats(CacheType::Hot).items, 0);
    g.close();
    never.close();
}

#[test]
fn a_failing_peer_falls_back_to_the_getter() {
    let (g, peer, calls) = peered("fallback", 1 << 10, 1);
    peer.fail.store(true, Ordering::SeqCst);
    assert_eq!(&*g.get(b"peer/y").unwrap(), b"PEER/Y");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let st = g.stats();
    assert_eq!((st.peer_errors, st.peer_loads, st.local_loads), (1, 0, 1));
    assert_eq!(g.cache_stats(CacheType::Main).items, 1);
    g.close();
}

#[test]
fn hot_is_evicted_first_while_it_exceeds_an_eighth_of_main() {
    // Main keys "mNN" load "MNN": 6 bytes each. Budget 100 bytes.
    let (g, _, calls) = peered("rule", 100, 1);
    let key = |p: &str, i: usize| format!("{p}{i:02}");
    for i in 0..8 {
        g.get(key("m", i).as_bytes()).unwrap();
    }
    let main_before = g.cache_stats(CacheType::Main);
    assert_eq!((main_before.items, main_before.bytes), (8, 48));
    // One hot entry: "peer/0" + "<name>:peer/0" — more than main/8 = 6 bytes.
    g.get(b"peer/0").unwrap();
    let hot = g.cache_stats(CacheType::Hot);
    assert_eq!(hot.items, 1);
    assert!(hot.bytes > 48 / 8);
    // Fill up with main entries: the hot entry must go before any main one.
    let mut i = 8;
    while g.cache_stats(CacheType::Hot).items == 1 {
        g.get(key("m", i).as_bytes()).unwrap();
        i += 1;
        assert!(i < 100);
    }
    assert_eq!(g.cache_stats(CacheType::Main).evictions, 0, "main evicted while hot was over main/8");
    assert_eq!(g.cache_stats(CacheType::Hot).evictions, 1);
    // With hot empty, main evicts its oldest: m00.
    while g.cache_stats(CacheType::Main).evictions == 0 {
        g.get(key("m", i).as_bytes()).unwrap();
        i += 1;
        assert!(i < 100);
    }
    let before = calls.load(Ordering::SeqCst);
    g.get(key("m", 1).as_bytes()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), before, "m01 should still be cached");
    g.get(key("m", 0).as_bytes()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), before + 1, "m00 should have been evicted first");
    assert!(g.cache_stats(CacheType::Main).bytes + g.cache_stats(CacheType::Hot).bytes <= 100);
    g.check_invariants();
    g.close();
}

#[test]
fn serve_peer_counts_server_requests() {
    let g = Group::new(&name("server"), 1 << 10, upper_getter(Arc::default())).unwrap();
    assert_eq!(&*g.serve_peer(b"q").unwrap(), b"Q");
    assert_eq!(g.stats().server_requests, 1);
    assert_eq!(g.stats().gets, 1);
    g.close();
}

#[test]
fn a_polling_waiter_can_stop_and_the_load_goes_on() {
    let (gate, getter) = gated_getter(b"v");
    let held = gate.lock().unwrap();
    let g = Group::new(&name("polling"), 1 << 10, getter).unwrap();
    let leader = {
        let g = g.clone();
        thread::spawn(move || g.get(b"k"))
    };
    wait_for_a_load(&g);
    // The poll is called between slices; the third call stops the wait.
    let mut polls = 0;
    let r = g.get_polling(b"k", Duration::from_millis(1), || {
        polls += 1;
        if polls == 3 { Err("interrupted") } else { Ok(()) }
    });
    assert_eq!(r.unwrap_err(), "interrupted");
    assert_eq!(polls, 3);
    drop(held);
    assert_eq!(&*leader.join().unwrap().unwrap(), b"v");
    // Now cached: a polling get returns at once without polling.
    let r = g.get_polling(b"k", Duration::from_millis(1), || -> Result<(), ()> { panic!("no wait, no poll") });
    assert_eq!(&*r.unwrap().unwrap(), b"v");
    g.close();
}

#[test]
fn a_custom_wait_that_returns_early_still_gets_the_value() {
    let (gate, getter) = gated_getter(b"v");
    let held = gate.lock().unwrap();
    let g = Group::new(&name("waiting"), 1 << 10, getter).unwrap();
    let leader = {
        let g = g.clone();
        thread::spawn(move || g.get(b"k"))
    };
    wait_for_a_load(&g);
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let g = g.clone();
        thread::spawn(move || {
            // Returns at once, before the load is done: the call must block
            // until it is, then hand over the value.
            g.get_waiting(b"k", |w| -> Result<(), ()> {
                assert!(!w.is_done());
                tx.send(()).unwrap();
                Ok(())
            })
        })
    };
    rx.recv_timeout(Duration::from_secs(10)).expect("the second caller never waited");
    drop(held);
    assert_eq!(&*leader.join().unwrap().unwrap(), b"v");
    assert_eq!(&*waiter.join().unwrap().unwrap().unwrap(), b"v");
    assert_eq!(g.stats().loads_deduped, 1);
    g.close();
}

#[test]
fn tickets_hit_lead_and_wait_with_a_hook() {
    use edgecache::GroupTicket;
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("ticket"), 1 << 10, upper_getter(calls.clone())).unwrap();
    let GroupTicket::Leader(leader) = g.begin(b"k").unwrap() else { panic!("the first miss leads") };
    assert_eq!(leader.key(), b"k");
    let GroupTicket::Waiter(w) = g.begin(b"k").unwrap() else { panic!("the second waits") };
    assert!(w.try_result().is_none());
    let (tx, rx) = std::sync::mpsc::channel();
    w.on_ready(move || tx.send(()).unwrap());
    assert!(rx.try_recv().is_err(), "the hook waits for the load");
    // The binding ran its getter itself.
    assert_eq!(&*leader.complete(Ok(Arc::from(&b"mine"[..]))).unwrap(), b"mine");
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(&*w.try_result().unwrap().unwrap(), b"mine");
    let GroupTicket::Hit(v) = g.begin(b"k").unwrap() else { panic!("now cached") };
    assert_eq!(&*v, b"mine");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the group's getter never ran");
    assert_eq!(
        g.stats(),
        Stats { gets: 3, cache_hits: 1, loads: 2, loads_deduped: 1, local_loads: 1, ..Stats::default() }
    );
    g.close();
    assert!(matches!(g.begin(b"k"), Err(Error::Closed)));
}

#[test]
fn an_abandoned_leader_hands_the_load_to_a_waiter() {
    use edgecache::GroupTicket;
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("abandon"), 1 << 10, upper_getter(calls.clone())).unwrap();
    let GroupTicket::Leader(leader) = g.begin(b"k").unwrap() else { panic!() };
    let g2 = g.clone();
    let waiter = std::thread::spawn(move || g2.get(b"k"));
    let end = Instant::now() + Duration::from_secs(30);
    while g.stats().loads < 2 {
        assert!(Instant::now() < end, "the waiter never joined");
        std::thread::yield_now();
    }
    drop(leader); // leaves for its own reasons
    let v = waiter.join().unwrap().unwrap();
    assert_eq!(&*v, b"K", "the waiter took over and loaded");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A leader that leaves through `run` does the same.
    g.remove(b"k");
    let GroupTicket::Leader(leader) = g.begin(b"k").unwrap() else { panic!() };
    let r: Result<Result<_, Error>, &str> = leader.run(|_| Err("interrupted"));
    assert_eq!(r.unwrap_err(), "interrupted");
    assert_eq!(&*g.get(b"k").unwrap(), b"K");
    g.close();
}

#[test]
fn a_getter_asking_for_its_own_key_gets_recursive_load_at_once() {
    // The getter finds its group by name: capturing a handle would make a
    // reference cycle (the group owns its getter), a leak under ASan.
    let gname = name("recursive");
    let n = gname.clone();
    let g = Group::new(&gname, 1 << 10, move |key: &[u8]| {
        let Some(g) = get_group(&n) else { return Err(Arc::new(Error::Closed) as edgecache::GetterError) };
        if key == b"self" {
            return match g.get(b"self") {
                Err(Error::RecursiveLoad) => Ok(Arc::from(&b"saw RecursiveLoad"[..])),
                other => Ok(Arc::from(format!("unexpected {other:?}").as_bytes())),
            };
        }
        // A chain: a -> b -> a.
        if key == b"a" {
            return g.get(b"b").map_err(|e| Arc::new(e) as edgecache::GetterError);
        }
        match g.get(b"a") {
            Err(e) => Err(Arc::new(e) as edgecache::GetterError),
            Ok(v) => Ok(v),
        }
    })
    .unwrap();
    assert_eq!(&*g.get(b"self").unwrap(), b"saw RecursiveLoad");
    let err = g.get(b"a").unwrap_err();
    assert!(err.to_string().contains("recursive load"), "{err}");
    // Nothing is stuck: both keys load again.
    assert!(g.get(b"self").is_ok());
    g.close();
}

#[test]
fn contract_budgets_and_ttls() {
    let f = |_: &[u8]| -> Result<edgecache::Value, edgecache::GetterError> { Ok(Arc::from(&b"v"[..])) };
    assert!(matches!(Group::new(&name("neg"), -1, f), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        Group::with_options(&name("ttl0"), 10, f, GroupOptions::default().ttl(Some(Duration::ZERO))),
        Err(Error::InvalidArgument(_))
    ));
    let g = Group::new(&name("zero"), 0, f).unwrap();
    assert_eq!(&*g.get(b"k").unwrap(), b"v");
    assert_eq!(g.cache_stats(CacheType::Main).items, 0, "budget 0 keeps nothing");
    g.close();
}

#[test]
fn get_timeout_with_a_huge_timeout_does_not_panic() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("huge-timeout"), 1 << 10, upper_getter(calls)).unwrap();
    assert_eq!(&*g.get_timeout(b"a", Duration::MAX).unwrap(), b"A");
    g.close();
}

/// A peer whose fetch panics.
struct PanickingPeers;
impl Peer for PanickingPeers {
    fn get(&self, _group: &str, _key: &[u8]) -> Result<Value, GetterError> {
        panic!("a hostile peer")
    }
}
impl PeerPicker for PanickingPeers {
    fn pick_peer(&self, _key: &[u8]) -> Option<Arc<dyn Peer>> {
        Some(Arc::new(PanickingPeers))
    }
}

#[test]
fn a_panicking_peer_becomes_loader_panicked_not_an_unwind() {
    let calls = Arc::new(AtomicUsize::new(0));
    let g = Group::new(&name("panic-peer"), 1 << 10, upper_getter(calls)).unwrap();
    g.register_peers(Arc::new(PanickingPeers)).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.get(b"k")));
    match r {
        Ok(Err(Error::LoaderPanicked(m))) => assert!(m.contains("hostile"), "{m}"),
        other => panic!("expected LoaderPanicked, got {other:?}"),
    }
    assert_eq!(g.stats().local_load_errs, 1);
    g.close();
}
