//! The stampede demo: 1,000 threads ask a cold group for the same key at
//! once; the slow "upstream" is called once. Then a mixed workload shows the
//! cache's hit/miss counters.
//!
//! `cargo run --release --example stampede` (or `make demo`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use edgecache::{CacheType, GetterError, Group, Value};

fn main() {
    let upstream_calls = Arc::new(AtomicUsize::new(0));
    let getter = {
        let calls = upstream_calls.clone();
        move |key: &[u8]| -> Result<Value, GetterError> {
            calls.fetch_add(1, Ordering::SeqCst);
            // A faraway kube-apiserver: 50 ms per request.
            thread::sleep(Duration::from_millis(50));
            Ok(Value::from(format!("{{\"kind\":\"List\",\"path\":{:?}}}", String::from_utf8_lossy(key)).into_bytes()))
        }
    };
    let group = Group::new("demo-pods", 64 << 20, getter).expect("a fresh name");

    // 1. The stampede.
    const CLIENTS: usize = 1000;
    let start = Arc::new(Barrier::new(CLIENTS));
    let t0 = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (g, start) = (group.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let t = Instant::now();
                let v = g.get(b"/api/v1/namespaces/default/pods").expect("load");
                (v.len(), t.elapsed())
            })
        })
        .collect();
    let mut lat: Vec<Duration> = clients.into_iter().map(|h| h.join().expect("client").1).collect();
    lat.sort();
    let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)];
    println!("stampede: {CLIENTS} concurrent clients asked for one key");
    println!(
        "  upstream requests: {}   (dedup ratio {CLIENTS}:{})",
        upstream_calls.load(Ordering::SeqCst),
        upstream_calls.load(Ordering::SeqCst)
    );
    println!("  latency p50 {:?}  p99 {:?}  max {:?}  wall {:?}", pct(50), pct(99), pct(100), t0.elapsed());
    let st = group.stats();
    println!(
        "  gets {}  loads {}  loads_deduped {}  cache_hits {}",
        st.gets, st.loads, st.loads_deduped, st.cache_hits
    );

    // 2. A mixed workload over 200 paths, popular ones asked for more often.
    let before = upstream_calls.load(Ordering::SeqCst);
    let (gets0, hits0) = (group.stats().gets, group.stats().cache_hits);
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let g = group.clone();
            thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ t;
                for _ in 0..5_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Squaring a uniform number skews towards small paths.
                    let u = (x % 1000) as f64 / 1000.0;
                    let path = format!("/api/v1/namespaces/ns{}/pods", (u * u * 200.0) as u32);
                    g.get(path.as_bytes()).expect("load");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let st = group.stats();
    let main = group.cache_stats(CacheType::Main);
    println!("mixed workload: 20,000 gets over 200 paths from 4 threads");
    println!("  upstream requests: {}", upstream_calls.load(Ordering::SeqCst) - before);
    let (gets, hits) = (st.gets - gets0, st.cache_hits - hits0);
    println!("  group: gets {gets}  cache_hits {hits}  hit ratio {:.1}%", 100.0 * hits as f64 / gets as f64);
    println!(
        "  main cache: items {}  bytes {}  gets {}  hits {}  evictions {}",
        main.items, main.bytes, main.gets, main.hits, main.evictions
    );
    group.close();
}
