//! Benchmarks of edgecache's [`Cache`], [`Flight`] and [`Group`], run in one
//! process next to the caches a Rust user would otherwise reach for:
//! `quick_cache` 0.7, `moka` 0.12 (sync), and `parking_lot::Mutex` around
//! `hashlink::LruCache` and around `lru::LruCache`.
//!
//! What runs, in order:
//!
//! 1. **Hit ratio** on the OLTP trace from the ARC paper (Megiddo & Modha,
//!    "ARC: A Self-Tuning, Low Overhead Replacement Cache", USENIX FAST '03)
//!    at 250, 1000 and 2000 pages. A plain replay, not a timing; printed as a
//!    table. Skipped with a note when the trace or `zstd` is missing.
//! 2. **Criterion groups**, every peer with the same key type (`Box<[u8]>`,
//!    looked up as `&[u8]`) and value type (`Arc<[u8]>`):
//!    - `get_hit/{1,2}t`: 32,768 keys, all resident, lookups drawn from a
//!      scrambled zipf distribution (s = 1.0), every lookup a hit; besides
//!      `Cache::get`, edgecache's lending `Cache::get_with` (no `Arc` clone)
//!      and `Group::get`;
//!    - `mixed_75r25w/{1,2}t`: the same stream, every fourth operation a
//!      `set` of the key instead of a `get`;
//!    - `flight`: an uncontended `Flight::run` next to a `Mutex<HashMap>`
//!      insert + remove.
//!
//!    With two threads each thread walks its own half of the pre-generated
//!    key stream and the reported time is wall time divided by the operations
//!    of both threads (time per operation across threads, the inverse of
//!    throughput), not the latency one thread sees.
//! 3. **Summary**: every variant timed once more with `Instant` over a fixed
//!    number of operations (best of three round-robin runs), printed as
//!    `ns/op` with the ratio `edgecache ns/op ÷ variant ns/op` (above 1:
//!    edgecache takes longer than that variant).
//!
//! Run with `cargo bench --bench cache`. A positional filter (as criterion
//! takes) also narrows the hit-ratio table (`hit_ratio`) and the summary (by
//! substring of `workload/variant`, the criterion id).
//! `EDGECACHE_BENCH_SUMMARY_RUNS=n` sets how many round-robin summary runs
//! each variant gets (best counts; default 3), and
//! `EDGECACHE_BENCH_SUMMARY_ONLY=1` skips the criterion groups, for
//! comparing ratios on a busy machine. `EDGECACHE_BENCH_SUMMARY_OPS=n` sets
//! the operations per summary run, so a profiler can be pointed at one
//! variant without criterion's timing loop:
//!
//! ```text
//! EDGECACHE_BENCH_SUMMARY_OPS=200000 valgrind --tool=callgrind \
//!     target/release/deps/cache-<hash> get_hit/1t/edgecache_cache
//! ```
//!
//! (without `--bench`, criterion runs each benchmark once as a test).

use std::collections::HashMap;
use std::hint::black_box;
use std::io::Read;
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use edgecache::{Cache, Flight, Group};

/// Number of distinct keys.
const KEYS: usize = 1 << 15;
/// Length of the pre-generated stream of key indices; a power of two.
const STREAM: usize = 1 << 20;
/// Bytes per value in the timed workloads.
const VALUE_LEN: usize = 16;
/// Zipf exponent.
const ZIPF_S: f64 = 1.0;
/// Byte budget of the timed caches: far above `KEYS * (8 + VALUE_LEN)`, so
/// nothing is ever evicted.
const BUDGET: u64 = 64 << 20;
/// Operations per run in the summary pass.
const SUMMARY_OPS: u64 = 1 << 20;
/// Runs per variant in the summary pass (round-robin); the fastest counts.
const SUMMARY_RUNS: usize = 3;
/// Page capacities of the hit-ratio table.
const CAPACITIES: [usize; 3] = [250, 1000, 2000];
/// LRU hit ratios on OLTP from the ARC paper, in percent.
const PAPER_LRU: [f64; 3] = [16.5, 32.8, 42.5];
/// Where the OLTP trace sits when the repository is cloned next to `shared/`.
const TRACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/traces/OLTP.lis.zst");

type Key = Box<[u8]>;
type Val = Arc<[u8]>;

// ---------------------------------------------------------------------------
// The contenders behind one small interface.

/// A thread-safe map from byte keys to shared byte values. Implemented for
/// each cache so one monomorphised loop drives all of them.
trait Contender: Sync {
    /// Looks `key` up; a hit returns a clone of the value's `Arc`.
    fn get(&self, key: &[u8]) -> Option<Val>;
    /// Stores `key → value` (the cache copies the key).
    fn set(&self, key: &[u8], value: &Val);
    /// One timed lookup whose result the optimiser must assume is used.
    #[inline]
    fn probe(&self, key: &[u8]) {
        black_box(self.get(key));
    }
}

struct Edge(Cache);

impl Contender for Edge {
    fn get(&self, key: &[u8]) -> Option<Val> {
        self.0.get(key)
    }
    fn set(&self, key: &[u8], value: &Val) {
        self.0.set(key, Arc::clone(value), None);
    }
}

/// edgecache's lending lookup, `Cache::get_with`: the value's bytes are
/// handed to a closure under the shard lock instead of cloning the `Arc`.
struct EdgeLend<'a>(&'a Cache);

impl Contender for EdgeLend<'_> {
    fn get(&self, key: &[u8]) -> Option<Val> {
        self.0.get(key)
    }
    fn set(&self, key: &[u8], value: &Val) {
        self.0.set(key, Arc::clone(value), None);
    }
    #[inline]
    fn probe(&self, key: &[u8]) {
        black_box(self.0.get_with(key, |v| black_box(v.as_ptr())));
    }
}

struct EdgeGroup(Group);

impl Contender for EdgeGroup {
    fn get(&self, key: &[u8]) -> Option<Val> {
        self.0.get(key).ok()
    }
    fn set(&self, _key: &[u8], _value: &Val) {
        unreachable!("a Group is filled by its getter");
    }
}

/// Weighs an entry as edgecache does: key bytes plus value bytes.
#[derive(Clone, Copy)]
struct ByteWeighter;

impl quick_cache::Weighter<Key, Val> for ByteWeighter {
    fn weight(&self, key: &Key, val: &Val) -> u64 {
        (key.len() + val.len()) as u64
    }
}

struct Quick<W>(quick_cache::sync::Cache<Key, Val, W>);

impl<W: quick_cache::Weighter<Key, Val> + Clone + Sync + Send> Contender for Quick<W> {
    fn get(&self, key: &[u8]) -> Option<Val> {
        self.0.get(key)
    }
    fn set(&self, key: &[u8], value: &Val) {
        self.0.insert(key.into(), Arc::clone(value));
    }
}

struct Moka(moka::sync::Cache<Key, Val>);

impl Contender for Moka {
    fn get(&self, key: &[u8]) -> Option<Val> {
        self.0.get(key)
    }
    fn set(&self, key: &[u8], value: &Val) {
        self.0.insert(key.into(), Arc::clone(value));
    }
}

struct Hashlink(parking_lot::Mutex<hashlink::LruCache<Key, Val>>);

impl Contender for Hashlink {
    fn get(&self, key: &[u8]) -> Option<Val> {
        self.0.lock().get(key).cloned()
    }
    fn set(&self, key: &[u8], value: &Val) {
        self.0.lock().insert(key.into(), Arc::clone(value));
    }
}

struct LruCrate(parking_lot::Mutex<lru::LruCache<Key, Val>>);

impl Contender for LruCrate {
    fn get(&self, key: &[u8]) -> Option<Val> {
        self.0.lock().get(key).cloned()
    }
    fn set(&self, key: &[u8], value: &Val) {
        self.0.lock().put(key.into(), Arc::clone(value));
    }
}

fn items(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN)
}

/// The five caches of the timed workloads, each able to hold every key.
struct Contenders {
    edge: Edge,
    quick: Quick<ByteWeighter>,
    moka: Moka,
    hashlink: Hashlink,
    lru: LruCrate,
}

impl Contenders {
    fn new(w: &Workload) -> Self {
        let moka = moka::sync::Cache::builder()
            .max_capacity(BUDGET)
            .weigher(|k: &Key, v: &Val| u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX))
            .build();
        let c = Contenders {
            edge: Edge(Cache::new(BUDGET as i64)),
            quick: Quick(quick_cache::sync::Cache::with_weighter(KEYS, BUDGET, ByteWeighter)),
            moka: Moka(moka),
            hashlink: Hashlink(parking_lot::Mutex::new(hashlink::LruCache::new(2 * KEYS))),
            lru: LruCrate(parking_lot::Mutex::new(lru::LruCache::new(items(2 * KEYS)))),
        };
        c.edge.fill(w);
        c.quick.fill(w);
        c.moka.fill(w);
        c.moka.0.run_pending_tasks();
        c.hashlink.fill(w);
        c.lru.fill(w);
        c
    }
}

/// Inserts every key and checks that every key is then a hit.
trait Fill: Contender {
    fn fill(&self, w: &Workload) {
        for (k, v) in w.keys.iter().zip(&w.values) {
            self.set(k, v);
        }
        let resident = w.keys.iter().filter(|k| self.get(&k[..]).is_some()).count();
        assert_eq!(resident, KEYS, "every key must be resident before timing hits");
    }
}

impl<C: Contender> Fill for C {}

// ---------------------------------------------------------------------------
// The workload.

/// splitmix64: a small, fast, well-mixed generator; the benchmarks need
/// reproducible streams, not cryptographic quality.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Draws ranks 0..n with probability proportional to 1 / (rank + 1)^s, by
/// binary search in the cumulative weights.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let cdf = (1..=n)
            .map(|rank| {
                acc += 1.0 / (rank as f64).powf(s);
                acc
            })
            .collect();
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut SplitMix) -> usize {
        let total = self.cdf.last().copied().unwrap_or(0.0);
        let u = rng.next_f64() * total;
        self.cdf.partition_point(|&c| c <= u).min(self.cdf.len() - 1)
    }
}

/// Keys, their values, and the pre-generated stream of key indices.
struct Workload {
    /// Key `i` is `i` as an 8-byte big-endian integer, stored inline so that
    /// reading it costs the harness no pointer chase.
    keys: Vec<[u8; 8]>,
    values: Vec<Val>,
    /// Indices into `keys`, zipf-distributed; the hottest ranks are scattered
    /// over the key space (as Caffeine's scrambled zipfian does).
    stream: Vec<u32>,
}

impl Workload {
    fn new() -> Self {
        let mut rng = SplitMix(0x5eed_cafe_f00d_0001);
        let keys = (0..KEYS as u64).map(u64::to_be_bytes).collect();
        let values = (0..KEYS).map(|i| Val::from(vec![i as u8; VALUE_LEN])).collect();
        // Rank → key index: a Fisher–Yates shuffle.
        let mut perm: Vec<u32> = (0..KEYS as u32).collect();
        for i in (1..KEYS).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            perm.swap(i, j);
        }
        let zipf = Zipf::new(KEYS, ZIPF_S);
        let stream = (0..STREAM).map(|_| perm[zipf.sample(&mut rng)]).collect();
        Workload { keys, values, stream }
    }
}

/// Which operations a workload runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// Only lookups.
    Read,
    /// Three lookups, then one `set` of the next key in the stream.
    ReadWrite,
}

/// Runs `n` operations of `mix` on `c`, starting at position `start` of the
/// stream (wrapping around).
#[inline(never)]
fn run_ops<C: Contender>(c: &C, w: &Workload, start: usize, n: u64, mix: Mix) {
    for i in 0..n {
        let idx = w.stream[start.wrapping_add(i as usize) & (STREAM - 1)] as usize;
        let key: &[u8] = &w.keys[idx];
        if mix == Mix::ReadWrite && i & 3 == 3 {
            c.set(key, &w.values[idx]);
        } else {
            c.probe(black_box(key));
        }
    }
}

/// Times `ops` operations split over `threads` threads. Thread `t` walks its
/// own slice of the stream, beginning `cursor` positions into it. Returns
/// the span from the first thread's start to the last thread's end.
fn timed<C: Contender>(c: &C, w: &Workload, threads: usize, ops: u64, mix: Mix, cursor: usize) -> Duration {
    if threads == 1 {
        let t0 = Instant::now();
        run_ops(c, w, cursor, ops, mix);
        return t0.elapsed();
    }
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                // Thread 0 takes the remainder.
                let n = ops / threads as u64 + if t == 0 { ops % threads as u64 } else { 0 };
                let start = t * (STREAM / threads) + cursor;
                s.spawn(move || {
                    barrier.wait();
                    let t0 = Instant::now();
                    run_ops(c, w, start, n, mix);
                    (t0, Instant::now())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("benchmark thread panicked")).collect()
    });
    let first = spans.iter().map(|s| s.0).min().expect("at least one thread");
    let last = spans.iter().map(|s| s.1).max().expect("at least one thread");
    last - first
}

// ---------------------------------------------------------------------------
// Criterion groups.

fn bench_one<C: Contender>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    c: &C,
    w: &Workload,
    threads: usize,
    mix: Mix,
) {
    let mut cursor = 0usize;
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let d = timed(c, w, threads, iters, mix, cursor);
            cursor = cursor.wrapping_add(iters as usize / threads);
            d
        });
    });
}

fn bench_workloads(cr: &mut Criterion, w: &Workload, cs: &Contenders, group: &EdgeGroup) {
    for (label, mix) in [("get_hit", Mix::Read), ("mixed_75r25w", Mix::ReadWrite)] {
        for threads in [1, 2] {
            let mut g = cr.benchmark_group(format!("{label}/{threads}t"));
            bench_one(&mut g, "edgecache_cache", &cs.edge, w, threads, mix);
            if mix == Mix::Read {
                bench_one(&mut g, "edgecache_get_with", &EdgeLend(&cs.edge.0), w, threads, mix);
                bench_one(&mut g, "edgecache_group", group, w, threads, mix);
            }
            bench_one(&mut g, "quick_cache", &cs.quick, w, threads, mix);
            bench_one(&mut g, "moka", &cs.moka, w, threads, mix);
            bench_one(&mut g, "mutex_hashlink", &cs.hashlink, w, threads, mix);
            bench_one(&mut g, "mutex_lru", &cs.lru, w, threads, mix);
            g.finish();
        }
    }
}

type Baseline = std::sync::Mutex<HashMap<u64, Arc<u64>>>;

/// One uncontended flight: a key nobody else uses, a loader that returns at
/// once.
fn flight_once(f: &Flight<u64, u64, ()>, key: u64) {
    let r = f.run(black_box(key), || Ok(black_box(1)));
    black_box(r.ok());
}

/// What a flight does at the least, by hand: allocate a shared record,
/// publish it in a locked map, take it out again.
fn baseline_once(m: &Baseline, key: u64) {
    let rec = Arc::new(black_box(1));
    m.lock().unwrap_or_else(|p| p.into_inner()).insert(black_box(key), Arc::clone(&rec));
    black_box(m.lock().unwrap_or_else(|p| p.into_inner()).remove(&key));
}

fn bench_flight(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("flight");
    let f = Flight::<u64, u64, ()>::new();
    g.bench_function("edgecache_run", |b| b.iter(|| flight_once(&f, 7)));
    let m = Baseline::default();
    g.bench_function("mutex_hashmap_insert_remove", |b| b.iter(|| baseline_once(&m, 7)));
    g.finish();
}

// ---------------------------------------------------------------------------
// Summary pass.

struct Row {
    section: String,
    name: &'static str,
    ns: f64,
}

/// One variant of the summary: its section, its name, and a run of `ops`
/// operations returning the elapsed time.
type Variant<'a> = (String, &'static str, Box<dyn Fn() -> Duration + 'a>);

/// Times every variant `runs` times, round-robin (so a burst of load from
/// elsewhere on the machine hits all variants alike), keeping each one's
/// fastest run.
fn summary<'a>(
    w: &'a Workload,
    cs: &'a Contenders,
    group: &'a EdgeGroup,
    ops: u64,
    runs: usize,
    filter: &Filter,
) -> Vec<Row> {
    let mut variants: Vec<Variant<'a>> = Vec::new();
    for (label, mix) in [("get_hit", Mix::Read), ("mixed_75r25w", Mix::ReadWrite)] {
        for threads in [1, 2] {
            let section = format!("{label}/{threads}t");
            let mut add = |name: &'static str, f: Box<dyn Fn() -> Duration + 'a>| {
                variants.push((section.clone(), name, f));
            };
            add("edgecache_cache", Box::new(move || timed(&cs.edge, w, threads, ops, mix, 0)));
            if mix == Mix::Read {
                add("edgecache_get_with", Box::new(move || timed(&EdgeLend(&cs.edge.0), w, threads, ops, mix, 0)));
                add("edgecache_group", Box::new(move || timed(group, w, threads, ops, mix, 0)));
            }
            add("quick_cache", Box::new(move || timed(&cs.quick, w, threads, ops, mix, 0)));
            add("moka", Box::new(move || timed(&cs.moka, w, threads, ops, mix, 0)));
            add("mutex_hashlink", Box::new(move || timed(&cs.hashlink, w, threads, ops, mix, 0)));
            add("mutex_lru", Box::new(move || timed(&cs.lru, w, threads, ops, mix, 0)));
        }
    }
    {
        let f = Flight::<u64, u64, ()>::new();
        let m = Baseline::default();
        variants.push((
            "flight".to_owned(),
            "edgecache_run",
            Box::new(move || {
                let t0 = Instant::now();
                for _ in 0..ops {
                    flight_once(&f, 7);
                }
                t0.elapsed()
            }),
        ));
        variants.push((
            "flight".to_owned(),
            "mutex_hashmap_insert_remove",
            Box::new(move || {
                let t0 = Instant::now();
                for _ in 0..ops {
                    baseline_once(&m, 7);
                }
                t0.elapsed()
            }),
        ));
    }
    variants.retain(|(section, name, _)| filter.matches(&format!("{section}/{name}")));
    let mut best = vec![f64::INFINITY; variants.len()];
    for _ in 0..runs {
        for (b, (_, _, run)) in best.iter_mut().zip(&variants) {
            *b = b.min(run().as_nanos() as f64 / ops as f64);
        }
    }
    variants.into_iter().zip(best).map(|((section, name, _), ns)| Row { section, name, ns }).collect()
}

fn print_summary(rows: &[Row], ops: u64, runs: usize) {
    println!();
    println!("== summary: ns per operation (best of {runs} round-robin runs of {ops} ops; with 2 threads,");
    println!("   wall time / ops of both threads). ratio = edgecache ns/op / this row's ns/op:");
    println!("   above 1 means edgecache takes longer than this row (is slower), below 1 faster.");
    println!("{:<16} {:<30} {:>9} {:>8}", "workload", "variant", "ns/op", "ratio");
    for r in rows {
        let reference = rows
            .iter()
            .find(|e| e.section == r.section && matches!(e.name, "edgecache_cache" | "edgecache_run"))
            .map_or(f64::NAN, |e| e.ns);
        // The reference is missing when a filter left it out.
        let ratio = if reference.is_nan() { "-".to_owned() } else { format!("{:.2}", reference / r.ns) };
        println!("{:<16} {:<30} {:>9.1} {:>8}", r.section, r.name, r.ns, ratio);
    }
}

// ---------------------------------------------------------------------------
// Hit ratio on OLTP.

/// Pages of the OLTP trace in request order, or why they could not be read.
fn load_trace() -> Result<Vec<u64>, String> {
    let path = Path::new(TRACE);
    if !path.exists() {
        return Err(format!("{} not found", path.display()));
    }
    let mut child = Command::new("zstd")
        .arg("-dc")
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run zstd: {e}"))?;
    let mut text = String::new();
    child
        .stdout
        .take()
        .ok_or("zstd has no stdout")?
        .read_to_string(&mut text)
        .map_err(|e| format!("reading zstd output: {e}"))?;
    let status = child.wait().map_err(|e| format!("waiting for zstd: {e}"))?;
    if !status.success() {
        return Err(format!("zstd failed: {status}"));
    }
    let mut pages = Vec::with_capacity(1 << 20);
    for (n, line) in text.lines().enumerate() {
        let mut f = line.split_ascii_whitespace().map(str::parse::<u64>);
        match (f.next(), f.next()) {
            (Some(Ok(start)), Some(Ok(count))) => pages.extend(start..start + count),
            _ if line.trim().is_empty() => {}
            _ => return Err(format!("line {}: cannot parse {line:?}", n + 1)),
        }
    }
    Ok(pages)
}

/// Replays `pages` through `c` (a miss inserts the page); the hit ratio in
/// percent. `after_insert` runs after every insert (moka's maintenance).
fn replay<C: Contender>(c: &C, pages: &[u64], after_insert: impl Fn()) -> f64 {
    let empty: Val = Arc::from(&[][..]);
    let mut hits = 0u64;
    for &p in pages {
        let key = p.to_be_bytes();
        if c.get(&key).is_some() {
            hits += 1;
        } else {
            c.set(&key, &empty);
            after_insert();
        }
    }
    100.0 * hits as f64 / pages.len().max(1) as f64
}

fn quick_pages(cap: usize, shards: Option<usize>) -> Quick<quick_cache::UnitWeighter> {
    let mut opts = quick_cache::OptionsBuilder::new();
    opts.estimated_items_capacity(cap).weight_capacity(cap as u64);
    if let Some(s) = shards {
        opts.shards(s);
    }
    let opts = opts.build().expect("valid quick_cache options");
    Quick(quick_cache::sync::Cache::with_options(
        opts,
        quick_cache::UnitWeighter,
        quick_cache::DefaultHashBuilder::default(),
        quick_cache::sync::DefaultLifecycle::default(),
    ))
}

fn moka_pages(cap: usize, policy: moka::policy::EvictionPolicy) -> Moka {
    Moka(moka::sync::Cache::builder().max_capacity(cap as u64).eviction_policy(policy).build())
}

fn hit_ratio_table(filter: &Filter) {
    if !filter.matches("hit_ratio") {
        return;
    }
    let pages = match load_trace() {
        Ok(p) => p,
        Err(why) => {
            println!("hit_ratio: skipped ({why})");
            return;
        }
    };
    type Run = fn(usize, &[u64]) -> f64;
    let variants: [(&str, Run); 7] = [
        ("edgecache Cache, 1 shard", |cap, p| replay(&Edge(Cache::with_shards(cap as i64 * 8, 1)), p, || {})),
        ("edgecache Cache, default shards", |cap, p| replay(&Edge(Cache::new(cap as i64 * 8)), p, || {})),
        ("quick_cache, default shards", |cap, p| replay(&quick_pages(cap, None), p, || {})),
        ("quick_cache, 1 shard", |cap, p| replay(&quick_pages(cap, Some(1)), p, || {})),
        ("moka, TinyLFU (default)", |cap, p| {
            let m = moka_pages(cap, moka::policy::EvictionPolicy::tiny_lfu());
            replay(&m, p, || m.0.run_pending_tasks())
        }),
        ("moka, LRU policy", |cap, p| {
            let m = moka_pages(cap, moka::policy::EvictionPolicy::lru());
            replay(&m, p, || m.0.run_pending_tasks())
        }),
        ("Mutex<lru::LruCache>", |cap, p| {
            replay(&LruCrate(parking_lot::Mutex::new(lru::LruCache::new(items(cap)))), p, || {})
        }),
    ];
    println!();
    println!("== hit ratio (%) replaying OLTP ({} page references); trace from Megiddo & Modha,", pages.len());
    println!("   \"ARC: A Self-Tuning, Low Overhead Replacement Cache\", USENIX FAST '03");
    let shards: Vec<String> = CAPACITIES.iter().map(|&c| Cache::new(c as i64 * 8).shards().to_string()).collect();
    println!("   (edgecache default shards at 250/1000/2000 pages: {})", shards.join("/"));
    println!("{:<34} {:>8} {:>8} {:>8}", "cache", "250", "1000", "2000");
    let t0 = Instant::now();
    for (name, run) in variants {
        let r: Vec<f64> = CAPACITIES.iter().map(|&cap| run(cap, &pages)).collect();
        println!("{name:<34} {:>8.2} {:>8.2} {:>8.2}", r[0], r[1], r[2]);
    }
    println!("{:<34} {:>8.1} {:>8.1} {:>8.1}", "LRU, ARC paper (reference)", PAPER_LRU[0], PAPER_LRU[1], PAPER_LRU[2]);
    println!("   (replays took {:.1} s)", t0.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------
// Driver.

/// The positional filter criterion was given, applied to our own passes as
/// a substring match.
struct Filter(Option<String>);

impl Filter {
    fn from_args() -> Self {
        // Options of criterion's command line that take a value.
        const WITH_VALUE: [&str; 16] = [
            "--color",
            "--save-baseline",
            "--baseline",
            "--baseline-lenient",
            "--format",
            "--profile-time",
            "--load-baseline",
            "--sample-size",
            "--warm-up-time",
            "--measurement-time",
            "--nresamples",
            "--noise-threshold",
            "--confidence-level",
            "--significance-level",
            "--plotting-backend",
            "--output-format",
        ];
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut skip_next = false;
        for a in &args {
            if skip_next {
                skip_next = false;
            } else if WITH_VALUE.contains(&a.as_str()) || a == "-c" || a == "-s" {
                skip_next = true;
            } else if !a.starts_with('-') {
                return Filter(Some(a.clone()));
            }
        }
        Filter(None)
    }

    fn matches(&self, name: &str) -> bool {
        self.0.as_deref().is_none_or(|f| name.contains(f))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    // As criterion decides: without `--bench` (cargo test --benches) or with
    // `--test`, every benchmark runs once as a smoke test.
    let benchmarking = has("--bench") && !has("--test") && !has("--list") && !has("--profile-time");
    let filter = Filter::from_args();

    let mut cr = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();

    if benchmarking {
        hit_ratio_table(&filter);
    }

    let w = Workload::new();
    let cs = Contenders::new(&w);
    let group = EdgeGroup(
        // The same values as `Workload::values`: key `i`'s low byte, repeated.
        Group::new("edgecache-bench-get-hit", BUDGET as i64, |key: &[u8]| {
            Ok(Val::from(vec![key.last().copied().unwrap_or(0); VALUE_LEN]))
        })
        .expect("the benchmark group name is free"),
    );
    group.fill_by_lookup(&w);

    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    // On a busy machine: skip criterion and take the best of more summary
    // runs instead.
    if env("EDGECACHE_BENCH_SUMMARY_ONLY").is_none_or(|v| v == 0) {
        bench_workloads(&mut cr, &w, &cs, &group);
        bench_flight(&mut cr);
        cr.final_summary();
    }

    let (ops, runs) = if benchmarking { (SUMMARY_OPS, SUMMARY_RUNS) } else { (1 << 10, 1) };
    let ops = env("EDGECACHE_BENCH_SUMMARY_OPS").unwrap_or(ops);
    let runs = env("EDGECACHE_BENCH_SUMMARY_RUNS").map_or(runs, |r| usize::try_from(r).unwrap_or(runs).max(1));
    if !has("--list") {
        let rows = summary(&w, &cs, &group, ops, runs, &filter);
        if benchmarking && !rows.is_empty() {
            print_summary(&rows, ops, runs);
        }
    }
    group.0.close();
}

impl EdgeGroup {
    /// Loads every key through the getter, then checks each is a cache hit.
    fn fill_by_lookup(&self, w: &Workload) {
        for k in &w.keys {
            self.0.get(k).expect("the getter never fails");
        }
        let before = self.0.stats().local_loads;
        for k in &w.keys {
            self.0.get(k).expect("the getter never fails");
        }
        assert_eq!(self.0.stats().local_loads, before, "every key must be a hit before timing hits");
    }
}
