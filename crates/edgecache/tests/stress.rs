//! Stress: many threads, random keys, loads, removes and forgets, on one
//! group and one flight. Bounded iterations; checks that nothing deadlocks
//! (every thread returns), the budget holds throughout, and the counters add
//! up afterwards.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use edgecache::flight::Flight;
use edgecache::{Cache, CacheType, Error, GetterError, Group, GroupOptions, Value};

const THREADS: usize = 8;
const OPS: usize = if cfg!(debug_assertions) { 20_000 } else { 200_000 };

/// xorshift: cheap, deterministic per seed.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[test]
fn group_under_load_keeps_its_budget_and_counts() {
    const BUDGET: i64 = 4096;
    let loads = Arc::new(AtomicUsize::new(0));
    let getter = {
        let loads = loads.clone();
        move |key: &[u8]| -> Result<Value, GetterError> {
            let n = loads.fetch_add(1, Ordering::Relaxed);
            if n % 97 == 0 {
                return Err(Arc::new(std::io::Error::other("flaky upstream")));
            }
            if n % 211 == 0 {
                panic!("flaky getter");
            }
            // Values of 0..200 bytes, derived from the key.
            let len = key.iter().map(|&b| b as usize).sum::<usize>() % 200;
            Ok(Value::from(vec![key[0]; len]))
        }
    };
    let g = Group::with_options("stress-group", BUDGET, getter, GroupOptions::default().shards(8)).unwrap();
    let start = Arc::new(Barrier::new(THREADS + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    // A watcher thread samples the budget while the others run.
    let sampler = {
        let (g, stop) = (g.clone(), stop.clone());
        thread::spawn(move || {
            let mut samples = 0u64;
            while !stop.load(Ordering::Relaxed) && samples < 10_000_000 {
                let total = g.cache_stats(CacheType::Main).bytes + g.cache_stats(CacheType::Hot).bytes;
                assert!(total <= BUDGET as u64, "over budget: {total}");
                samples += 1;
                thread::yield_now();
            }
            samples
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (g, start, errors) = (g.clone(), start.clone(), errors.clone());
            thread::spawn(move || {
                let mut next = rng(0x9E37_79B9_7F4A_7C15 ^ t as u64);
                start.wait();
                for _ in 0..OPS {
                    let r = next();
                    let key = format!("k{}", r % 300);
                    match r % 100 {
                        0..=2 => {
                            g.remove(key.as_bytes());
                        }
                        _ => match g.get(key.as_bytes()) {
                            Ok(v) => assert!(v.iter().all(|&b| b == b'k')),
                            Err(Error::Getter(_) | Error::LoaderPanicked(_)) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("unexpected error {e:?}"),
                        },
                    }
                }
            })
        })
        .collect();
    start.wait();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(sampler.join().unwrap() > 0);
    g.check_invariants();
    let st = g.stats();
    let removes_max = (THREADS * OPS) as u64;
    // Every get is a hit on the first lookup or a load (leader or waiter).
    assert!(st.gets <= st.cache_hits + st.loads, "{st:?}");
    assert!(st.gets >= st.loads, "{st:?}");
    assert!(st.gets <= removes_max);
    // Every deduplicated load ends in exactly one getter outcome.
    assert_eq!(st.loads_deduped, st.local_loads + st.local_load_errs, "{st:?}");
    assert_eq!(st.local_loads + st.local_load_errs, loads.load(Ordering::Relaxed) as u64);
    assert!(errors.load(Ordering::Relaxed) > 0, "the flaky getter never failed: the test lost its teeth");
    let main = g.cache_stats(CacheType::Main);
    assert!(main.gets >= main.hits);
    g.close();
}

#[test]
fn cache_under_load_keeps_its_budget_and_counts() {
    const BUDGET: i64 = 8192;
    let c = Arc::new(Cache::with_shards(BUDGET, 16));
    let start = Arc::new(Barrier::new(THREADS));
    let hits = Arc::new(AtomicU64::new(0));
    let gets = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (c, start, hits, gets) = (c.clone(), start.clone(), hits.clone(), gets.clone());
            thread::spawn(move || {
                let mut next = rng(0xD1B5_4A32_D192_ED03 ^ t as u64);
                start.wait();
                for _ in 0..OPS {
                    let r = next();
                    let k = (r % 500).to_be_bytes();
                    match r % 10 {
                        0..=5 => {
                            gets.fetch_add(1, Ordering::Relaxed);
                            if let Some(v) = c.get(&k) {
                                hits.fetch_add(1, Ordering::Relaxed);
                                assert!(v.iter().all(|&b| b == k[7]), "a value under the wrong key");
                            }
                        }
                        6..=8 => {
                            let len = (r >> 32) as usize % 300;
                            let ttl = (r % 7 == 0).then(|| std::time::Duration::from_micros(r % 500));
                            c.set(&k, vec![k[7]; len], ttl);
                        }
                        _ => {
                            c.remove(&k);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    c.check_invariants();
    let st = c.stats();
    assert_eq!(st.gets, gets.load(Ordering::Relaxed));
    assert_eq!(st.hits, hits.load(Ordering::Relaxed));
    assert!(st.bytes <= BUDGET as u64);
    assert!(st.evictions > 0);
}

/// Mostly reads, as a cache under an edge agent sees: the shard locks stay
/// reader-biased most of the time, so lent values are read on the fast
/// path while rare writers replace, shrink, grow and remove them (and so
/// revoke the bias). A reader must never see bytes of another value, of a
/// freed one (the ASan run of this suite), or a half-written entry.
#[test]
fn read_mostly_cache_lends_whole_values_while_writers_come_by() {
    const KEYS: u64 = 64;
    let c = Arc::new(Cache::with_shards(1 << 20, 16));
    for k in 0..KEYS {
        c.set(&k.to_be_bytes(), vec![k as u8; 1024], None);
    }
    let start = Arc::new(Barrier::new(THREADS));
    let writes = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (c, start, writes) = (c.clone(), start.clone(), writes.clone());
            thread::spawn(move || {
                let mut next = rng(0x9E37_79B9_7F4A_7C15 ^ t as u64);
                let mut seen = 0u64;
                start.wait();
                for _ in 0..OPS {
                    let r = next();
                    let k = r % KEYS;
                    let key = k.to_be_bytes();
                    match r % 200 {
                        0 => {
                            // Alternate shrinking (replaced in place, the
                            // old value freed under the write lock) and
                            // growing (a full insert) values.
                            let len = if r & 0x100 == 0 { 512 } else { 1024 };
                            c.set(&key, vec![k as u8; len], None);
                            writes.fetch_add(1, Ordering::Relaxed);
                        }
                        1 => {
                            c.remove(&key);
                            writes.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            let whole =
                                c.get_with(&key, |v| matches!(v.len(), 512 | 1024) && v.iter().all(|&b| b == k as u8));
                            if let Some(ok) = whole {
                                assert!(ok, "key {k}: a lent value was torn or belonged to another key");
                                seen += 1;
                            }
                        }
                    }
                }
                seen
            })
        })
        .collect();
    let seen: u64 = workers.into_iter().map(|w| w.join().expect("a worker panicked")).sum();
    c.check_invariants();
    assert!(writes.load(Ordering::Relaxed) > 0, "no writer came by: the test lost its teeth");
    assert!(seen > (THREADS * OPS) as u64 / 2, "too few hits ({seen}) to have read under the writers");
}

#[test]
fn flight_with_forgets_never_hangs_and_never_overlaps_loaders() {
    let f: Flight<u64, u64, ()> = Flight::new();
    let active: Arc<Vec<AtomicUsize>> = Arc::new((0..16).map(|_| AtomicUsize::new(0)).collect());
    let overlaps = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (f, active, overlaps, start) = (f.clone(), active.clone(), overlaps.clone(), start.clone());
            thread::spawn(move || {
                let mut next = rng(0xA076_1D64_78BD_642F ^ t as u64);
                start.wait();
                for _ in 0..OPS / 10 {
                    let r = next();
                    let k = r % 16;
                    if r % 50 == 0 {
                        f.forget(&k);
                        continue;
                    }
                    let out = f.run(k, || {
                        // Overlap is allowed only after a forget; count it.
                        if active[k as usize].fetch_add(1, Ordering::SeqCst) > 0 {
                            overlaps.fetch_add(1, Ordering::Relaxed);
                        }
                        thread::yield_now();
                        active[k as usize].fetch_sub(1, Ordering::SeqCst);
                        if r % 13 == 0 { Err(()) } else { Ok(k) }
                    });
                    match out {
                        Ok((v, _)) => assert_eq!(v, k),
                        Err(edgecache::FlightError::Failed(())) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    assert_eq!(f.in_flight(), 0, "a key stayed in flight");
    // Forgets are 2% of operations; overlaps can only follow them.
    assert!(overlaps.load(Ordering::Relaxed) <= THREADS * OPS / 10 / 50 * THREADS);
}
