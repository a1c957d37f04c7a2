//! Cache rules: eviction order, exact byte counts, TTL, limits.

use std::sync::Arc;
use std::time::Duration;

use edgecache::{Cache, CacheStats};

fn v(s: &str) -> Arc<[u8]> {
    Arc::from(s.as_bytes())
}

fn keys(c: &Cache, all: &[&str]) -> Vec<String> {
    all.iter().filter(|k| c.contains(k.as_bytes())).map(|k| k.to_string()).collect()
}

#[test]
fn evicts_least_recently_used_first() {
    // Each entry costs 1 + 3 = 4 bytes; room for three.
    let c = Cache::new(12);
    assert_eq!(c.shards(), 1);
    for k in ["a", "b", "c"] {
        assert!(c.set(k.as_bytes(), v("xxx"), None));
    }
    // Touch a: b is now the oldest.
    assert!(c.get(b"a").is_some());
    c.set(b"d", v("xxx"), None);
    assert_eq!(keys(&c, &["a", "b", "c", "d"]), ["a", "c", "d"]);
    // c is oldest now; a replace of d makes d newest without evicting.
    c.set(b"d", v("yyy"), None);
    assert_eq!(keys(&c, &["a", "b", "c", "d"]), ["a", "c", "d"]);
    c.set(b"e", v("xxx"), None);
    assert_eq!(keys(&c, &["a", "b", "c", "d", "e"]), ["a", "d", "e"]);
    assert_eq!(c.stats().evictions, 2);
    c.check_invariants();
}

#[test]
fn a_large_insert_evicts_as_many_as_it_needs() {
    let c = Cache::new(20);
    for k in ["a", "b", "c", "d"] {
        c.set(k.as_bytes(), v("xxxx"), None); // 5 bytes each: full
    }
    // 16 bytes: room for it means at most 4 bytes of others, so all four go.
    c.set(b"big", v("0123456789012"), None);
    assert_eq!(keys(&c, &["a", "b", "c", "d", "big"]), ["big"]);
    assert_eq!(c.stats().bytes, 16);
    assert_eq!(c.stats().evictions, 4);
}

#[test]
fn bytes_are_exact_after_replace_and_remove() {
    let c = Cache::new(1000);
    c.set(b"key", v("12345"), None);
    assert_eq!(c.stats().bytes, 8);
    // Replace with a longer and then a shorter value: never double counted.
    c.set(b"key", v("1234567890"), None);
    assert_eq!(c.stats().bytes, 13);
    assert_eq!(c.stats().items, 1);
    c.set(b"key", v("1"), None);
    assert_eq!(c.stats().bytes, 4);
    c.set(b"other", v("abc"), None);
    assert_eq!(c.stats().bytes, 12);
    assert!(c.remove(b"key"));
    assert!(!c.remove(b"key"));
    assert_eq!(c.stats().bytes, 8);
    assert_eq!(c.stats().items, 1);
    assert_eq!(c.len(), 1);
    c.check_invariants();
}

#[test]
fn a_replace_in_a_full_cache_evicts_nothing_when_it_fits() {
    let c = Cache::new(8);
    c.set(b"a", v("xxx"), None);
    c.set(b"b", v("xxx"), None);
    c.set(b"a", v("yyy"), None);
    assert_eq!(keys(&c, &["a", "b"]), ["a", "b"]);
    assert_eq!(c.stats().evictions, 0);
}

#[test]
fn a_value_larger_than_the_budget_is_not_kept_and_drops_the_old_one() {
    let c = Cache::new(10);
    assert!(c.set(b"k", v("small"), None));
    assert!(c.set(b"j", v("x"), None));
    assert!(!c.set(b"k", v("far too large for it"), None));
    assert_eq!(c.get(b"k"), None, "a stale value must not survive a failed replace");
    assert_eq!(c.get(b"j").as_deref(), Some(&b"x"[..]));
    assert_eq!(c.stats().bytes, 2);
    // Exactly the budget fits.
    assert!(c.set(b"k", v("123456789"), None));
    assert_eq!(c.stats().bytes, 10);
}

#[test]
fn zero_budget_keeps_nothing() {
    let c = Cache::new(0);
    assert!(!c.set(b"k", v("v"), None));
    assert!(!c.set(b"", v(""), None));
    assert_eq!(c.get(b"k"), None);
    assert_eq!(c.stats(), CacheStats { gets: 1, ..CacheStats::default() });
}

#[test]
fn a_negative_budget_is_an_invalid_argument() {
    for budget in [-1, i64::MIN] {
        assert!(matches!(Cache::try_new(budget), Err(edgecache::Error::InvalidArgument(_))));
        assert!(std::panic::catch_unwind(|| Cache::new(budget)).is_err());
    }
}

#[test]
fn a_zero_ttl_is_an_invalid_argument_and_stores_nothing() {
    let c = Cache::new(100);
    c.set(b"k", v("old"), None);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.set(b"k", v("new"), Some(Duration::ZERO))));
    assert!(r.is_err());
    assert_eq!(c.get(b"k").as_deref(), Some(&b"old"[..]), "the stored entry is untouched");
    c.check_invariants();
}

#[test]
fn empty_keys_and_values_are_entries_too() {
    let c = Cache::new(100);
    assert!(c.set(b"", v("abc"), None));
    assert!(c.set(b"k", v(""), None));
    assert_eq!(c.get(b"").as_deref(), Some(&b"abc"[..]));
    assert_eq!(c.get(b"k").as_deref(), Some(&b""[..]));
    assert_eq!(c.stats().bytes, 4);
}

#[test]
fn ttl_expires_entries() {
    let c = Cache::new(100);
    c.set(b"gone", v("1"), Some(Duration::from_nanos(1)));
    c.set(b"kept", v("2"), Some(Duration::from_secs(3600)));
    c.set(b"forever", v("3"), None);
    assert!(!c.contains(b"gone"));
    assert_eq!(c.get(b"gone"), None);
    assert_eq!(c.get(b"kept").as_deref(), Some(&b"2"[..]));
    assert_eq!(c.get(b"forever").as_deref(), Some(&b"3"[..]));
    // The expired entry was dropped by the lookup and counted as an eviction.
    let st = c.stats();
    assert_eq!((st.items, st.bytes, st.evictions), (2, 13, 1));
    // A huge TTL does not overflow.
    c.set(b"long", v("4"), Some(Duration::MAX));
    assert!(c.contains(b"long"));
    c.check_invariants();
}

#[test]
fn ttl_runs_out_with_time() {
    let c = Cache::new(100);
    c.set(b"k", v("1"), Some(Duration::from_millis(30)));
    assert!(c.contains(b"k"));
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(c.get(b"k"), None);
}

#[test]
fn stats_count_gets_and_hits() {
    let c = Cache::new(100);
    c.set(b"a", v("1"), None);
    c.get(b"a");
    c.get(b"a");
    c.get(b"b");
    let st = c.stats();
    assert_eq!((st.gets, st.hits, st.items, st.bytes), (3, 2, 1, 2));
}

#[test]
fn a_value_handed_out_outlives_its_eviction() {
    let c = Cache::new(4);
    c.set(b"a", v("xyz"), None);
    let held = c.get(b"a").unwrap();
    c.set(b"b", v("xyz"), None);
    assert!(!c.contains(b"a"));
    assert_eq!(&*held, b"xyz");
}

#[test]
fn clear_drops_everything_but_keeps_counters() {
    let c = Cache::with_shards(1 << 20, 8);
    for i in 0..100u32 {
        c.set(&i.to_be_bytes(), v("value"), None);
        c.get(&i.to_be_bytes());
    }
    c.clear();
    let st = c.stats();
    assert_eq!((st.items, st.bytes, st.gets, st.hits), (0, 0, 100, 100));
    assert!(c.is_empty());
    c.check_invariants();
}

#[test]
fn sharded_caches_hold_the_budget_across_shards() {
    let c = Cache::with_shards(1000, 16);
    assert_eq!(c.shards(), 16);
    for i in 0..10_000u32 {
        c.set(&i.to_be_bytes(), vec![0u8; (i % 37) as usize], None);
        assert!(c.stats().bytes <= 1000);
    }
    c.check_invariants();
    // The newest entry is always kept.
    assert!(c.contains(&9_999u32.to_be_bytes()));
}

#[test]
fn shard_counts_are_powers_of_two() {
    assert_eq!(Cache::with_shards(1 << 20, 0).shards(), 1);
    assert_eq!(Cache::with_shards(1 << 20, 5).shards(), 8);
    assert_eq!(Cache::with_shards(1 << 20, 1 << 20).shards(), 1024);
    assert!(Cache::new(1 << 30).shards().is_power_of_two());
}

#[test]
fn get_with_lends_the_value_and_counts_like_get() {
    let c = Cache::with_shards(1 << 10, 4);
    c.set(b"k", v("value"), None);
    assert_eq!(c.get_with(b"k", |b| b.to_vec()), Some(b"value".to_vec()));
    let mut called = false;
    assert_eq!(
        c.get_with(b"missing", |_| {
            called = true;
        }),
        None
    );
    assert!(!called, "the closure runs only on a hit");
    let st = c.stats();
    assert_eq!((st.gets, st.hits), (2, 1));
    c.check_invariants();
}

#[test]
fn get_with_makes_the_entry_most_recently_used() {
    // One shard: exact LRU. Room for three 2-byte entries.
    let c = Cache::with_shards(6, 1);
    for k in ["a", "b", "c"] {
        c.set(k.as_bytes(), v("1"), None);
    }
    assert_eq!(c.get_with(b"a", |b| b.len()), Some(1));
    c.set(b"d", v("1"), None);
    assert_eq!(keys(&c, &["a", "b", "c", "d"]), ["a", "c", "d"]);
    // The same with several shards, where a hit runs under the read lock
    // and moves the entry afterwards.
    let c = Cache::with_shards(1 << 10, 8);
    c.set(b"x", v("1"), None);
    c.set(b"y", v("1"), None);
    assert_eq!(c.get_with(b"x", <[u8]>::to_vec), Some(b"1".to_vec()));
    c.check_invariants();
}

#[test]
fn get_with_never_lends_an_expired_value() {
    let c = Cache::new(100);
    c.set(b"gone", v("1"), Some(Duration::from_nanos(1)));
    assert_eq!(c.get_with(b"gone", |_| unreachable!("an expired entry was lent")), None);
    let st = c.stats();
    assert_eq!((st.gets, st.hits, st.items, st.evictions), (1, 0, 0, 1));
    c.check_invariants();
}

#[test]
fn a_panic_in_get_with_releases_the_shard() {
    for shards in [1, 8] {
        let c = Cache::with_shards(1 << 10, shards);
        c.set(b"k", v("1"), None);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.get_with(b"k", |_| panic!("in the closure"));
        }));
        assert!(r.is_err());
        // The same shard is usable for writes and reads again.
        c.set(b"k", v("2"), None);
        assert_eq!(c.get(b"k").as_deref(), Some(&b"2"[..]));
        let st = c.stats();
        assert_eq!((st.gets, st.hits), (2, 2), "{shards} shards");
        c.check_invariants();
    }
}

#[test]
fn keys_that_differ_in_one_byte_are_different_keys() {
    // Short keys are compared word-wise; check every length around the
    // word sizes with keys that differ only at one position.
    let c = Cache::new(1 << 20);
    for len in 0..=40usize {
        for pos in 0..len {
            let a = vec![7u8; len];
            let mut b = a.clone();
            b[pos] = 8;
            c.set(&a, v("a"), None);
            c.set(&b, v("b"), None);
            assert_eq!(c.get(&a).as_deref(), Some(&b"a"[..]), "len {len}, differing at {pos}");
            assert_eq!(c.get(&b).as_deref(), Some(&b"b"[..]), "len {len}, differing at {pos}");
            assert!(c.remove(&b));
            assert_eq!(c.get(&b), None);
        }
        // A key one byte longer than a held key, with it as a prefix, is
        // not held (yet: the next length stores it).
        assert_eq!(c.get(&vec![7u8; len + 1]), None, "len {}", len + 1);
    }
    c.check_invariants();
}

#[test]
fn lookups_from_many_threads_are_counted_exactly() {
    // More threads alive at once than the counters have per-thread slots,
    // in two waves (so the second reuses the slots the first gave back):
    // every lookup must be counted once.
    const THREADS: usize = 48;
    const GETS: u64 = 2_000;
    let c = Arc::new(Cache::with_shards(1 << 16, 4));
    for i in 0u32..100 {
        c.set(&i.to_be_bytes(), v("x"), None);
    }
    for wave in 0..2 {
        let start = Arc::new(std::sync::Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (c, start) = (Arc::clone(&c), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    for i in 0..GETS {
                        // Keys 0..200: half of them held.
                        let k = ((i * 7 + t as u64) % 200) as u32;
                        if i % 2 == 0 {
                            c.get(&k.to_be_bytes());
                        } else {
                            c.get_with(&k.to_be_bytes(), |b| b.len());
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("a worker panicked");
        }
        let mut hits = 0;
        for t in 0..THREADS as u64 {
            hits += (0..GETS).filter(|i| (i * 7 + t) % 200 < 100).count() as u64;
        }
        let st = c.stats();
        let rounds = wave + 1;
        assert_eq!(st.gets, rounds * THREADS as u64 * GETS, "wave {wave}");
        assert_eq!(st.hits, rounds * hits, "wave {wave}");
    }
}
