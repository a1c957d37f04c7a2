//! The current state (one [`Item`] per key) and its declared indexes, as
//! persistent maps.
//!
//! Both the items (an `imbl::OrdMap`, a B-tree ordered by key) and each
//! index (value → ordered key set) are persistent: cloning a [`Store`] is a
//! handful of reference-count bumps, and a clone is a frozen snapshot that
//! later writes do not touch (a write copies only the tree path it changes,
//! and only while a snapshot shares it). Lists therefore take a snapshot in
//! O(1) and walk it in key order, a page costing O(log n + scanned).
//!
//! An index is declared up front as `"label:<name>"` or `"field:<name>"`
//! and maps each value of that label or field to the keys holding it. A
//! list whose selectors hold an equality on an indexed name starts from the
//! smallest such key set instead of walking every item; the remaining
//! requirements are checked on those candidates. Both ways give the same
//! answer, in key order.

use std::ops::Bound;
use std::sync::Arc;

use foldhash::fast::RandomState;
use imbl::{GenericHashMap, OrdMap, OrdSet};

use super::error::WatchError;
use super::event::{Item, Object, StrMap};
use super::selector::Filter;

/// Whether an index reads labels or fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Label,
    Field,
}

type KeySet = OrdSet<Arc<str>>;
type ByValue = GenericHashMap<Arc<str>, KeySet, RandomState, imbl::shared_ptr::DefaultSharedPtr>;

/// One declared index.
#[derive(Clone)]
struct Index {
    source: Source,
    name: Arc<str>,
    /// Value → keys whose item has that value.
    /// Invariant: exactly the items in the store holding `name` appear,
    /// each under its value; no empty set is kept.
    by_value: ByValue,
}

impl Index {
    fn value<'a>(&self, item: &'a Item) -> Option<&'a String> {
        self.map(item).get(&*self.name)
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
            match self.by_value.get_mut(v.as_str()) {
                Some(set) => {
                    set.insert(Arc::clone(item.key_arc()));
                }
                None => {
                    self.by_value.insert(Arc::from(v.as_str()), OrdSet::unit(Arc::clone(item.key_arc())));
                }
            }
        }
    }
}

/// A full page and the key of its last item.
fn last_key(page: Vec<Item>) -> (Vec<Item>, Option<Arc<str>>) {
    let last = page.last().map(|it| Arc::clone(it.key_arc()));
    (page, last)
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

/// The current state: one item per key, plus the indexes. Cloning it is
/// O(number of indexes) and gives an independent snapshot.
#[derive(Clone)]
pub(crate) struct Store {
    /// Invariant: each item is stored under its own key.
    items: OrdMap<Arc<str>, Item>,
    /// Kept in step with `items` by every mutation.
    indexes: Vec<Index>,
}

/// Where a page of a walk starts.
pub(crate) type Start<'a> = Option<&'a str>;

impl Store {
    /// An empty store with the given (parsed) indexes.
    pub(crate) fn new(indexes: Vec<(bool, String)>) -> Self {
        Store {
            items: OrdMap::new(),
            indexes: indexes
                .into_iter()
                .map(|(is_label, name)| Index {
                    source: if is_label { Source::Label } else { Source::Field },
                    name: Arc::from(name),
                    by_value: ByValue::default(),
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

    /// True when `name` is the name of a declared field index.
    pub(crate) fn has_field_index(&self, name: &str) -> bool {
        self.indexes.iter().any(|ix| ix.source == Source::Field && &*ix.name == name)
    }

    /// Applies a write of `obj` at `rv` (a deletion when `delete`): returns
    /// the new item, built sharing what it can with the previous one, and
    /// the previous one. Replacing or deleting an existing key walks the
    /// tree once.
    pub(crate) fn write(&mut self, obj: Object, rv: u64, delete: bool) -> (Item, Option<Item>) {
        if delete {
            let prev = self.remove(&obj.key);
            return (Item::build(obj, rv, prev.as_ref()), prev);
        }
        if let Some(slot) = self.items.get_mut(obj.key.as_str()) {
            let prev = slot.clone();
            let item = Item::build(obj, rv, Some(&prev));
            *slot = item.clone();
            for ix in &mut self.indexes {
                ix.remove(&prev);
                ix.insert(&item);
            }
            return (item, Some(prev));
        }
        let item = Item::build(obj, rv, None);
        self.insert(item.clone());
        (item, None)
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
        self.items = OrdMap::new();
        for ix in &mut self.indexes {
            ix.by_value = ByValue::default();
        }
        for item in items {
            self.insert(item);
        }
    }

    /// The items matching `filter`, in key order.
    pub(crate) fn select(&self, filter: &Filter) -> Vec<Item> {
        self.page(filter, None, 0).0
    }

    /// Up to `limit` items (0: no limit) matching `filter`, in key order,
    /// starting at key `start` (inclusive; `None`: the first key). The
    /// second value is set when the walk stopped at the limit with keys
    /// left to look at (some of which may not match: a last page may be
    /// empty): the key of the page's last item; `None` when the walk is
    /// done.
    pub(crate) fn page(&self, filter: &Filter, start: Start<'_>, limit: usize) -> (Vec<Item>, Option<Arc<str>>) {
        let lower = start.map_or(Bound::Unbounded, Bound::Included);
        let mut out = Vec::new();
        let want = |it: &Item| filter.matches(it.labels(), it.fields());
        match self.candidates(filter) {
            Some(keys) => {
                let mut walk = keys.range::<_, str>((lower, Bound::Unbounded));
                for k in walk.by_ref() {
                    if limit != 0 && out.len() == limit {
                        return last_key(out);
                    }
                    if let Some(it) = self.items.get(&**k).filter(|it| want(it)) {
                        out.push(it.clone());
                    }
                }
            }
            None => {
                let everything = filter.is_everything();
                for (_, it) in self.items.range::<_, str>((lower, Bound::Unbounded)) {
                    if limit != 0 && out.len() == limit {
                        return last_key(out);
                    }
                    if everything || want(it) {
                        out.push(it.clone());
                    }
                }
            }
        }
        (out, None)
    }

    /// The smallest index key set among the indexed equality requirements,
    /// if any requirement is indexed. An indexed requirement whose value
    /// nobody holds yields the empty set.
    fn candidates(&self, filter: &Filter) -> Option<&KeySet> {
        static EMPTY: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
        let mut best: Option<&KeySet> = None;
        let reqs = filter
            .labels
            .equalities()
            .map(|p| (Source::Label, p))
            .chain(filter.fields.equalities().map(|p| (Source::Field, p)));
        for (source, (name, value)) in reqs {
            let Some(ix) = self.indexes.iter().find(|ix| ix.source == source && &*ix.name == name) else {
                continue;
            };
            let set = match ix.by_value.get(value) {
                Some(set) => set,
                None => EMPTY.get_or_init(OrdSet::new),
            };
            if best.is_none_or(|b| set.len() < b.len()) {
                best = Some(set);
            }
        }
        best
    }
}
