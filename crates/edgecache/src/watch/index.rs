//! The current state (one [`Item`] per key) and its declared indexes.
//!
//! An index is declared up front as `"label:<name>"` or `"field:<name>"`
//! and maps each value of that label or field to the keys holding it. A
//! list whose selectors name an indexed label or field starts from the
//! smallest matching key set instead of scanning every item; the remaining
//! requirements are checked on those candidates. Selectors on undeclared
//! names are served by a scan. Both give the same answer, sorted by key.

use std::sync::Arc;

use foldhash::fast::RandomState;
use hashbrown::{HashMap, HashSet};

use super::error::WatchError;
use super::event::{Item, StrMap};
use super::selector::{Filter, Selector};

/// Whether an index reads labels or fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Label,
    Field,
}

/// One declared index.
struct Index {
    source: Source,
    name: String,
    /// Value → keys whose item has that value.
    /// Invariant: exactly the items in the store holding `name` appear,
    /// each under its value; no empty set is kept.
    by_value: HashMap<String, HashSet<Arc<str>, RandomState>, RandomState>,
}

impl Index {
    fn value<'a>(&self, item: &'a Item) -> Option<&'a String> {
        self.map(item).get(self.name.as_str())
    }

    fn map<'a>(&self, item: &'a Item) -> &'a StrMap {
        match self.source {
            Source::Label => item.labels(),
            Source::Field => item.fields(),
        }
    }

    fn remove(&mut self, item: &Item) {
        if let Some(v) = self.value(item) {
            if let Some(set) = self.by_value.get_mut(v.as_str()) {
                set.remove(item.key());
                if set.is_empty() {
                    self.by_value.remove(v.as_str());
                }
            }
        }
    }

    fn insert(&mut self, item: &Item) {
        if let Some(v) = self.value(item) {
            self.by_value.entry(v.clone()).or_default().insert(Arc::clone(item.key_arc()));
        }
    }
}

/// Parses index declarations such as `"label:app"`, `"field:spec.nodeName"`.
/// Duplicates are merged.
pub(crate) fn parse_indexes(specs: &[String]) -> Result<Vec<(bool, String)>, WatchError> {
    let mut out: Vec<(bool, String)> = Vec::new();
    for spec in specs {
        let (kind, name) = spec.split_once(':').ok_or_else(|| {
            WatchError::invalid(format!("index {spec:?}: expected \"label:<name>\" or \"field:<name>\""))
        })?;
        let is_label = match kind {
            "label" => true,
            "field" => false,
            _ => {
                return Err(WatchError::invalid(format!(
                    "index {spec:?}: kind must be \"label\" or \"field\", not {kind:?}"
                )));
            }
        };
        if name.is_empty() {
            return Err(WatchError::invalid(format!("index {spec:?}: empty name")));
        }
        if !out.iter().any(|(l, n)| *l == is_label && n == name) {
            out.push((is_label, name.to_owned()));
        }
    }
    Ok(out)
}

/// The current state: one item per key, plus the indexes.
pub(crate) struct Store {
    /// Invariant: each item is stored under its own key.
    items: HashMap<Arc<str>, Item, RandomState>,
    /// Kept in step with `items` by every mutation.
    indexes: Vec<Index>,
}

impl Store {
    /// An empty store with the given (parsed) indexes.
    pub(crate) fn new(indexes: Vec<(bool, String)>) -> Self {
        Store {
            items: HashMap::default(),
            indexes: indexes
                .into_iter()
                .map(|(is_label, name)| Index {
                    source: if is_label { Source::Label } else { Source::Field },
                    name,
                    by_value: HashMap::default(),
                })
                .collect(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Item> {
        self.items.get(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Stores `item` under its key, replacing (and returning) the old one.
    pub(crate) fn insert(&mut self, item: Item) -> Option<Item> {
        let old = self.items.insert(Arc::clone(item.key_arc()), item.clone());
        for ix in &mut self.indexes {
            if let Some(o) = &old {
                ix.remove(o);
            }
            ix.insert(&item);
        }
        old
    }

    /// Removes the item under `key`.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Item> {
        let old = self.items.remove(key)?;
        for ix in &mut self.indexes {
            ix.remove(&old);
        }
        Some(old)
    }

    /// Replaces the whole state (a relist); later items win over earlier
    /// ones with the same key.
    pub(crate) fn replace_all(&mut self, items: Vec<Item>) {
        self.items.clear();
        for ix in &mut self.indexes {
            ix.by_value.clear();
        }
        for item in items {
            self.insert(item);
        }
    }

    /// The items matching both selectors, sorted by key. Uses the index
    /// with the fewest candidates when a selector names an indexed label or
    /// field; scans otherwise.
    pub(crate) fn select(&self, filter: &Filter) -> Vec<Item> {
        let mut out = match self.candidates(&filter.labels, &filter.fields) {
            Some(keys) => keys
                .iter()
                .filter_map(|k| self.items.get(&**k))
                .filter(|it| filter.matches(it.labels(), it.fields()))
                .cloned()
                .collect::<Vec<_>>(),
            None => self.scan(filter),
        };
        out.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        out
    }

    fn scan(&self, filter: &Filter) -> Vec<Item> {
        self.items.values().filter(|it| filter.matches(it.labels(), it.fields())).cloned().collect()
    }

    /// The smallest index key set among the indexed requirements, if any
    /// requirement is indexed. An indexed requirement whose value nobody
    /// holds yields the empty set.
    fn candidates(&self, labels: &Selector, fields: &Selector) -> Option<&HashSet<Arc<str>, RandomState>> {
        static EMPTY: std::sync::OnceLock<HashSet<Arc<str>, RandomState>> = std::sync::OnceLock::new();
        let mut best: Option<&HashSet<Arc<str>, RandomState>> = None;
        let reqs = labels.pairs().map(|p| (Source::Label, p)).chain(fields.pairs().map(|p| (Source::Field, p)));
        for (source, (name, value)) in reqs {
            let Some(ix) = self.indexes.iter().find(|ix| ix.source == source && ix.name == name) else {
                continue;
            };
            let set = match ix.by_value.get(value) {
                Some(set) => set,
                None => EMPTY.get_or_init(HashSet::default),
            };
            if best.is_none_or(|b| set.len() < b.len()) {
                best = Some(set);
            }
        }
        best
    }
}
