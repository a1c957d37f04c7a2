//! Cache against a reference model: random operation sequences, with the
//! structure's invariants walked after every step.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use edgecache::Cache;
use proptest::prelude::*;

/// The simplest byte-bounded LRU: a recency queue (front = newest) and a map.
struct Model {
    budget: u64,
    order: VecDeque<Vec<u8>>,
    map: HashMap<Vec<u8>, Vec<u8>>,
}

impl Model {
    fn bytes(&self) -> u64 {
        self.map.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum()
    }
    fn touch(&mut self, k: &[u8]) {
        self.order.retain(|x| x != k);
        self.order.push_front(k.to_vec());
    }
    fn remove(&mut self, k: &[u8]) -> bool {
        self.order.retain(|x| x != k);
        self.map.remove(k).is_some()
    }
    fn get(&mut self, k: &[u8]) -> Option<Vec<u8>> {
        let v = self.map.get(k).cloned()?;
        self.touch(k);
        Some(v)
    }
    fn set(&mut self, k: &[u8], v: &[u8]) {
        self.remove(k);
        let cost = (k.len() + v.len()) as u64;
        if self.budget == 0 || cost > self.budget {
            return;
        }
        while self.bytes() + cost > self.budget {
            let old = self.order.pop_back().expect("over budget with nothing held");
            self.map.remove(&old);
        }
        self.map.insert(k.to_vec(), v.to_vec());
        self.touch(k);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, usize),
    Get(u8),
    Remove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    // Few keys, so sequences revisit them; values up to 40 bytes against
    // budgets of 0..120, so eviction, replacement and "too large" all occur.
    prop_oneof![
        4 => (0u8..12, 0usize..40).prop_map(|(k, n)| Op::Set(k, n)),
        4 => (0u8..12).prop_map(Op::Get),
        1 => (0u8..12).prop_map(Op::Remove),
    ]
}

fn key(k: u8) -> Vec<u8> {
    // Keys of different lengths: 1 to 3 bytes.
    vec![b'k'; 1 + (k as usize % 3)].into_iter().chain([k]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// One shard is exact LRU: every lookup agrees with the model.
    #[test]
    fn one_shard_matches_the_model(budget in 0i64..120, ops in proptest::collection::vec(op(), 1..200)) {
        let c = Cache::with_shards(budget, 1);
        let mut m = Model { budget: budget.max(0) as u64, order: VecDeque::new(), map: HashMap::new() };
        for (step, o) in ops.iter().enumerate() {
            match *o {
                Op::Set(k, n) => {
                    let v = vec![k; n];
                    c.set(&key(k), Arc::<[u8]>::from(v.as_slice()), None);
                    m.set(&key(k), &v);
                }
                Op::Get(k) => {
                    let got = c.get(&key(k)).map(|v| v.to_vec());
                    prop_assert_eq!(got, m.get(&key(k)), "step {}: {:?}", step, o);
                }
                Op::Remove(k) => prop_assert_eq!(c.remove(&key(k)), m.remove(&key(k))),
            }
            c.check_invariants();
            let st = c.stats();
            prop_assert_eq!(st.bytes, m.bytes(), "step {}: counted bytes", step);
            prop_assert_eq!(st.items as usize, m.map.len());
            prop_assert!(st.bytes <= budget.max(0) as u64);
        }
    }

    /// Many shards: eviction order may differ across shards, but the budget
    /// holds, counters match what is resident, and a lookup returns either
    /// nothing or the latest value set for that key.
    #[test]
    fn many_shards_stay_within_budget_and_never_serve_stale(
        budget in 0i64..400,
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        let c = Cache::with_shards(budget, 8);
        let mut latest: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for o in &ops {
            match *o {
                Op::Set(k, n) => {
                    let v = vec![k.wrapping_add(n as u8); n];
                    c.set(&key(k), Arc::<[u8]>::from(v.as_slice()), None);
                    latest.insert(key(k), v);
                }
                Op::Get(k) => {
                    if let Some(v) = c.get(&key(k)) {
                        prop_assert_eq!(Some(&v.to_vec()), latest.get(&key(k)));
                    }
                }
                Op::Remove(k) => {
                    c.remove(&key(k));
                    latest.remove(&key(k));
                    prop_assert!(c.get(&key(k)).is_none());
                }
            }
            c.check_invariants();
        }
    }
}
