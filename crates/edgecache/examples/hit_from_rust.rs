//! Cache hits from Rust: `edgecache::Cache::get` (and dropping the value),
//! single-threaded, in ns/op — the Rust side of `bench/c/bench.sh`.
//!
//! The workload is an exact copy of `bench/c/bench_cache.c` (same keys,
//! values, index streams and checksum; the checksums printed by both must
//! agree), so the ratio of the two numbers is the cost of going through the
//! C ABI (`edgecache_cache_get` + `edgecache_bytes_free`).
//!
//! ```sh
//! cargo run --release -p edgecache --example hit_from_rust
//! ```
//!
//! (It lives in the core crate: an example of `edgecache-capi` cannot name
//! the core crate, whose library is also called `edgecache`.)

use std::hint::black_box;
use std::time::Instant;

use edgecache::Cache;

const N_KEYS: u32 = 32768;
const STREAM_LEN: usize = 1 << 20;
const ZIPF_S: f64 = 0.99;

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn uniform() -> Vec<u32> {
    let mut rng = SplitMix64(42);
    (0..STREAM_LEN).map(|_| (rng.next() % u64::from(N_KEYS)) as u32).collect()
}

fn zipf() -> Vec<u32> {
    let mut cdf = Vec::with_capacity(N_KEYS as usize);
    let mut sum = 0.0f64;
    for k in 0..N_KEYS {
        sum += 1.0 / f64::from(k + 1).powf(ZIPF_S);
        cdf.push(sum);
    }
    for c in &mut cdf {
        *c /= sum;
    }
    let mut rng = SplitMix64(42);
    (0..STREAM_LEN)
        .map(|_| {
            let u = (rng.next() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0); // [0, 1)
            // The first k with cdf[k] >= u, as the C program's binary search.
            cdf.partition_point(|&c| c < u).min(N_KEYS as usize - 1) as u32
        })
        .collect()
}

/// Gets per round and rounds: 2^22 and 7 unless `EDGECACHE_BENCH_OPS` /
/// `EDGECACHE_BENCH_ROUNDS` say otherwise (as the C program).
struct Plan {
    ops_per_round: usize,
    rounds: usize,
}

impl Plan {
    fn from_env() -> Plan {
        let var = |name: &str, default: usize| {
            std::env::var(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("bad {name}: {v}")))
        };
        let plan =
            Plan { ops_per_round: var("EDGECACHE_BENCH_OPS", 1 << 22), rounds: var("EDGECACHE_BENCH_ROUNDS", 7) };
        assert!(plan.ops_per_round > 0 && plan.rounds > 0, "bad EDGECACHE_BENCH_OPS / EDGECACHE_BENCH_ROUNDS");
        plan
    }
}

/// `inline(never)`: callgrind counts this function (`--toggle-collect='*run_round*'`).
#[inline(never)]
fn run_round(cache: &Cache, keys: &[[u8; 8]], idx: &[u32], ops: usize) -> u64 {
    let mut checksum = 0u64;
    for op in 0..ops {
        let key = &keys[idx[op & (STREAM_LEN - 1)] as usize];
        let v = cache.get(black_box(key)).expect("every get hits");
        checksum += u64::from(v[0]) + v.len() as u64;
        drop(black_box(v));
    }
    checksum
}

fn bench(plan: &Plan, cache: &Cache, keys: &[[u8; 8]], name: &str, idx: &[u32]) {
    let ops = plan.ops_per_round;
    let checksum = run_round(cache, keys, idx, ops); // warm-up
    let mut ns: Vec<f64> = (0..plan.rounds)
        .map(|_| {
            let t0 = Instant::now();
            let sum = run_round(cache, keys, idx, ops);
            assert_eq!(sum, checksum, "checksum changed between rounds");
            t0.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    println!(
        "rust {name}: {:.1} ns/op (median of {} rounds x {ops} gets; {N_KEYS} keys; checksum {checksum})",
        ns[plan.rounds / 2],
        plan.rounds
    );
}

fn main() {
    let plan = Plan::from_env();
    let cache = Cache::new(64 << 20);
    let keys: Vec<[u8; 8]> = (0..N_KEYS).map(|i| u64::from(i).to_le_bytes()).collect();
    for (i, key) in keys.iter().enumerate() {
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&(i as u64).to_le_bytes());
        value[8..].copy_from_slice(&(!(i as u64)).to_le_bytes());
        assert!(cache.set(key, &value[..], None), "every entry fits");
    }
    bench(&plan, &cache, &keys, "uniform", &uniform());
    bench(&plan, &cache, &keys, "zipf", &zipf());
}
