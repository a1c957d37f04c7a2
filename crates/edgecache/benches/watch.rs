//! WatchCache benchmarks, in one criterion run:
//! - `watch/append/{0,10,1000}`: one write (an update with its previous
//!   object) fanned out to 0, 10 or 1,000 watchers with no selector;
//! - `watch/append/1000-bookmarks`: the same with 1,000 watchers that asked
//!   for bookmarks (periodic ones every second), next to `append/1000`;
//! - `watch/snapshot/{10000,100000}`: the first page (limit 1) of a listing
//!   at the current resourceVersion right after a write, so every call
//!   takes a new snapshot of a state of that many objects (should be flat);
//! - `watch/page500/100000`: a continue page of 500 objects from a snapshot
//!   of 100,000 (token decode, range walk, token encode);
//! - before criterion starts, the heap bytes per object of the current
//!   state's map: the persistent B-tree (`imbl::OrdMap`) next to the hash
//!   map the state used before (`hashbrown::HashMap`), same handles;
//! - `watch/events_since_10/{1000,10000,100000}`: `events_since` returning
//!   the newest 10 events from a full window of that size (binary search,
//!   so it should stay near-flat);
//! - before criterion starts, a line with the bookkeeping bytes per
//!   buffered event, from the type sizes and measured with a counting
//!   allocator.
//!
//! Run: `cargo bench --bench watch -- --warm-up-time 1 --measurement-time 2`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use edgecache::watch::{Item, ListRequest, Object, Selector, WatchCache, WatchOptions, Watcher, event_overhead_bytes};

/// Counts live heap bytes, to measure the real cost of a buffered event.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only adds
// bookkeeping on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const KEYS: usize = 10_000;

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("default/pod-{i:05}")).collect()
}

fn payload() -> Arc<[u8]> {
    Arc::from(vec![b'x'; 256])
}

/// A cache whose state holds every key once, at rv `KEYS`.
fn seeded(capacity: usize, keys: &[String], body: &Arc<[u8]>) -> WatchCache {
    let c = WatchCache::builder().capacity(capacity).max_capacity(capacity).build().unwrap();
    c.replace(keys.iter().map(|k| Object::new(k.clone(), Arc::clone(body))), KEYS as u64).unwrap();
    c
}

fn print_overhead() {
    let keys = keys();
    let body = payload();
    let n = 100_000;
    let base = LIVE.load(Ordering::SeqCst);
    let c = seeded(n, &keys, &body);
    let seeded_bytes = LIVE.load(Ordering::SeqCst);
    let mut rv = KEYS as u64;
    for i in 0..n {
        rv += 1;
        c.update(Object::new(keys[i % KEYS].clone(), Arc::clone(&body)), rv).unwrap();
    }
    let filled = LIVE.load(Ordering::SeqCst);
    // The object bytes are one shared allocation, so the growth from the
    // seeded state to a full window is the window's bookkeeping (the ring,
    // including its growth slack, and one item per event), give or take
    // the 10,000 seeded items the updates replaced in the state.
    let measured = (filled - seeded_bytes) as f64 / n as f64;
    let stats = c.window_stats();
    println!(
        "watch: bookkeeping per buffered event: {} bytes by type sizes (ring slot, item, and the \
         reference-count headers of item, key and object); {measured:.1} bytes measured over a full \
         window of {n} events with a shared payload (a real event adds its own object header, 16 bytes); \
         counted bytes per event here (key + object + prev object): {}; state of {KEYS} items: {} bytes",
        event_overhead_bytes(),
        stats.bytes / stats.events.max(1),
        seeded_bytes - base,
    );
}

fn bench_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("watch/append");
    g.throughput(Throughput::Elements(1));
    let keys = keys();
    let body = payload();
    for (name, watchers, bookmarks) in
        [("0", 0usize, false), ("10", 10, false), ("1000", 1_000, false), ("1000-bookmarks", 1_000, true)]
    {
        let cache = seeded(1024, &keys, &body);
        let opts = WatchOptions::new().buffer(1024).bookmarks(bookmarks).bookmark_interval(Duration::from_secs(1));
        let ws: Vec<Watcher> = (0..watchers)
            .map(|_| cache.watch(0, &Selector::everything(), &Selector::everything(), opts.clone()).unwrap())
            .collect();
        for w in &ws {
            while let Ok(Some(_)) = w.try_next() {}
        }
        let mut rv = cache.resource_version();
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::from_parameter(name), &watchers, |b, _| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    // Batches the watchers' buffers can hold; they are
                    // drained outside the timed part (that is the readers'
                    // cost, not the writer's).
                    let batch = left.min(512);
                    let objs: Vec<Object> = (0..batch)
                        .map(|j| Object::new(keys[(i + j as usize) % KEYS].clone(), Arc::clone(&body)))
                        .collect();
                    i += batch as usize;
                    let t = Instant::now();
                    for o in objs {
                        rv += 1;
                        cache.update(o, rv).unwrap();
                    }
                    timed += t.elapsed();
                    for w in &ws {
                        while let Ok(Some(ev)) = w.try_next() {
                            black_box(ev);
                        }
                    }
                    left -= batch;
                }
                timed
            });
        });
        assert!(ws.iter().all(|w| w.close_reason().is_none()), "no watcher may fall behind in the bench");
    }
    g.finish();
}

fn bench_events_since(c: &mut Criterion) {
    let mut g = c.benchmark_group("watch/events_since_10");
    let keys = keys();
    let body = payload();
    for window in [1_000usize, 10_000, 100_000] {
        let cache = seeded(window, &keys, &body);
        let mut rv = cache.resource_version();
        for i in 0..window + 10 {
            rv += 1;
            cache.update(Object::new(keys[i % KEYS].clone(), Arc::clone(&body)), rv).unwrap();
        }
        assert_eq!(cache.window_stats().events, window);
        let from = rv - 10;
        assert_eq!(cache.events_since(from).unwrap().len(), 10);
        g.bench_with_input(BenchmarkId::from_parameter(window), &from, |b, &from| {
            b.iter(|| black_box(cache.events_since(black_box(from)).unwrap()));
        });
    }
    g.finish();
}

/// A cache whose state holds `n` objects of 256 bytes (a shared payload).
fn big_state(n: usize, body: &Arc<[u8]>) -> (WatchCache, Vec<String>) {
    let keys: Vec<String> = (0..n).map(|i| format!("default/pod-{i:06}")).collect();
    let c = WatchCache::builder().capacity(1024).build().unwrap();
    c.replace(keys.iter().map(|k| Object::new(k.clone(), Arc::clone(body))), 1).unwrap();
    (c, keys)
}

fn bench_snapshot(c: &mut Criterion) {
    let mut g = c.benchmark_group("watch/snapshot");
    let body = payload();
    for n in [10_000usize, 100_000] {
        let (cache, keys) = big_state(n, &body);
        let mut rv = cache.resource_version();
        let mut i = 0;
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    // A write first (not timed), so the listing cannot reuse
                    // a kept snapshot: it takes a new one.
                    rv += 1;
                    i += 1;
                    cache.update(Object::new(keys[i % n].clone(), Arc::clone(&body)), rv).unwrap();
                    let req = ListRequest::new().limit(1).resource_version(rv);
                    let t = Instant::now();
                    let page = cache.list_page(&req).unwrap();
                    timed += t.elapsed();
                    assert_eq!(page.items.len(), 1);
                    black_box(page);
                }
                timed
            });
        });
    }
    g.finish();
}

fn bench_page(c: &mut Criterion) {
    let mut g = c.benchmark_group("watch/page500");
    g.throughput(Throughput::Elements(500));
    let body = payload();
    let n = 100_000;
    let (cache, _keys) = big_state(n, &body);
    let first = cache.list_page(&ListRequest::new().limit(500).resource_version(1)).unwrap();
    let token = first.continue_token.clone().unwrap();
    g.bench_with_input(BenchmarkId::from_parameter(n), &token, |b, token| {
        b.iter(|| {
            let p = cache.list_page(&ListRequest::new().limit(500).continue_token(token.as_str())).unwrap();
            assert_eq!(p.items.len(), 500);
            black_box(p)
        });
    });
    g.finish();
}

/// Heap bytes per object of the state's map, persistent B-tree next to the
/// hash map it replaced, over the same item handles (so only the maps'
/// own nodes are counted).
fn print_state_memory() {
    let body = payload();
    for n in [10_000usize, 100_000] {
        let (cache, _) = big_state(n, &body);
        let (items, _) = cache.list(0, &Selector::everything(), &Selector::everything()).unwrap();
        let base = LIVE.load(Ordering::SeqCst);
        let hashed: hashbrown::HashMap<Arc<str>, Item, foldhash::fast::RandomState> =
            items.iter().map(|it| (Arc::clone(it.key_arc()), it.clone())).collect();
        let hash_bytes = LIVE.load(Ordering::SeqCst) - base;
        let base = LIVE.load(Ordering::SeqCst);
        let ordered: imbl::OrdMap<Arc<str>, Item> =
            items.iter().map(|it| (Arc::clone(it.key_arc()), it.clone())).collect();
        let tree_bytes = LIVE.load(Ordering::SeqCst) - base;
        println!(
            "watch: state map of {n} objects: persistent B-tree {:.1} bytes/object, hash map {:.1} bytes/object \
             (ratio {:.2}); both hold the same 16-byte key handle and 8-byte item handle per object",
            tree_bytes as f64 / n as f64,
            hash_bytes as f64 / n as f64,
            tree_bytes as f64 / hash_bytes as f64,
        );
        drop((hashed, ordered));
    }
}

fn main() {
    print_overhead();
    print_state_memory();
    let mut c = Criterion::default().configure_from_args();
    bench_append(&mut c);
    bench_snapshot(&mut c);
    bench_page(&mut c);
    bench_events_since(&mut c);
    c.final_summary();
}
