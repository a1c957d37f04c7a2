//! [`Selector`]: equality matching on labels or fields.

use super::event::StrMap;

/// An equality selector: a set of `name = value` pairs that must all hold.
///
/// The same type serves as a label selector (matched against an object's
/// labels) and as a field selector (matched against its fields). The empty
/// selector matches everything. Two pairs with the same name and different
/// values match nothing.
///
/// ```
/// use edgecache::watch::Selector;
/// let s = Selector::new().with("app", "web").with("tier", "front");
/// let everything = Selector::everything();
/// assert!(everything.is_empty());
/// let from_pairs: Selector = [("app", "web")].into_iter().collect();
/// assert_eq!(from_pairs.len(), 1);
/// # assert_eq!(s.len(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    /// The pairs, in insertion order; duplicates kept (they cost nothing and
    /// a conflicting duplicate must make the selector match nothing).
    pairs: Vec<(String, String)>,
}

impl Selector {
    /// The empty selector.
    pub fn new() -> Self {
        Selector::default()
    }

    /// The empty selector, which matches everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Adds the requirement `name = value`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.pairs.push((name.into(), value.into()));
        self
    }

    /// True when the selector has no requirement and matches everything.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The number of requirements.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// The requirements as `(name, value)` pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when every requirement holds in `map`.
    pub fn matches(&self, map: &StrMap) -> bool {
        self.pairs.iter().all(|(k, v)| map.get(k.as_str()).is_some_and(|x| x == v))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Selector {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Selector { pairs: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

impl From<&StrMap> for Selector {
    fn from(map: &StrMap) -> Self {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// A label selector and a field selector together: what a list or a watcher
/// filters by.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    pub(crate) labels: Selector,
    pub(crate) fields: Selector,
}

impl Filter {
    pub(crate) fn new(labels: &Selector, fields: &Selector) -> Self {
        Filter { labels: labels.clone(), fields: fields.clone() }
    }

    pub(crate) fn matches(&self, labels: &StrMap, fields: &StrMap) -> bool {
        self.labels.matches(labels) && self.fields.matches(fields)
    }
}
