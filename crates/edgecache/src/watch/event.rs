//! What the watch cache stores and hands out: [`Object`] (input),
//! [`Item`] (a stored object), [`Event`] and [`EventType`].
//!
//! [`Item`] and [`Event`] are handles: cloning one bumps a reference count,
//! never copies the key, the object bytes or the label and field maps. The
//! window, the current state and every watcher's buffer share the same
//! allocations, so fanning an event out to a thousand watchers costs a
//! thousand pointer copies.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A map of label or field names to values, as Kubernetes keeps them
/// (`metadata.labels`, or field paths such as `spec.nodeName`).
pub type StrMap = BTreeMap<String, String>;

/// The kind of a watch event, as in Kubernetes' `watch.EventType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// The object appeared (or, for a watcher with selectors, started to
    /// match them).
    Added,
    /// The object changed.
    Modified,
    /// The object was removed (or, for a watcher with selectors, stopped
    /// matching them).
    Deleted,
    /// No object: the stream has reached this resourceVersion.
    Bookmark,
}

impl EventType {
    /// The Kubernetes spelling: `"ADDED"`, `"MODIFIED"`, `"DELETED"`,
    /// `"BOOKMARK"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An object as a writer hands it to [`WatchCache::add`](super::WatchCache::add),
/// [`update`](super::WatchCache::update), [`delete`](super::WatchCache::delete)
/// or [`replace`](super::WatchCache::replace).
///
/// The cache takes ownership. Pass the object bytes as an `Arc<[u8]>` to
/// share a buffer you already hold; a `Vec<u8>` or `&[u8]` is copied once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The object's key, e.g. `"namespace/name"`. Must not be empty.
    pub key: String,
    /// The serialised object.
    pub object: Arc<[u8]>,
    /// Its labels, matched by label selectors.
    pub labels: StrMap,
    /// Its fields, matched by field selectors.
    pub fields: StrMap,
}

impl Object {
    /// An object with no labels and no fields.
    pub fn new(key: impl Into<String>, object: impl Into<Arc<[u8]>>) -> Self {
        Object { key: key.into(), object: object.into(), labels: StrMap::new(), fields: StrMap::new() }
    }

    /// Adds (or replaces) one label.
    #[must_use]
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(name.into(), value.into());
        self
    }

    /// Adds (or replaces) one field.
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Replaces all labels.
    #[must_use]
    pub fn with_labels(mut self, labels: StrMap) -> Self {
        self.labels = labels;
        self
    }

    /// Replaces all fields.
    #[must_use]
    pub fn with_fields(mut self, fields: StrMap) -> Self {
        self.fields = fields;
        self
    }
}

/// The shared, immutable body of an [`Item`].
struct ItemRec {
    /// Shared with the current state's map key and with every other item of
    /// the same key created while the key stayed in the state.
    key: Arc<str>,
    object: Arc<[u8]>,
    /// The resourceVersion of the write that produced this item (for items
    /// from [`WatchCache::replace`](super::WatchCache::replace), the list's).
    resource_version: u64,
    /// Shared with the previous item of the same key when they are equal.
    labels: Arc<StrMap>,
    /// Shared with the previous item of the same key when they are equal.
    fields: Arc<StrMap>,
}

/// One stored object: key, bytes, the resourceVersion that wrote it, labels
/// and fields. A cheap handle (one reference count); immutable.
#[derive(Clone)]
pub struct Item {
    rec: Arc<ItemRec>,
}

/// The one empty map every label-less or field-less item shares.
fn empty_map() -> Arc<StrMap> {
    static EMPTY: OnceLock<Arc<StrMap>> = OnceLock::new();
    Arc::clone(EMPTY.get_or_init(|| Arc::new(StrMap::new())))
}

/// Wraps `map` in an `Arc`, reusing `prev` (or the shared empty map) when
/// the contents are equal, so unchanged labels cost nothing per event.
fn share_map(map: StrMap, prev: Option<&Arc<StrMap>>) -> Arc<StrMap> {
    if map.is_empty() {
        return empty_map();
    }
    match prev {
        Some(p) if **p == map => Arc::clone(p),
        _ => Arc::new(map),
    }
}

impl Item {
    /// Builds an item from `obj`, reusing the key and maps of `prev` (the
    /// item the key had) where they are equal.
    pub(crate) fn build(obj: Object, rv: u64, prev: Option<&Item>) -> Item {
        let key = match prev {
            Some(p) if *p.rec.key == *obj.key => Arc::clone(&p.rec.key),
            _ => Arc::from(obj.key),
        };
        Item {
            rec: Arc::new(ItemRec {
                key,
                object: obj.object,
                resource_version: rv,
                labels: share_map(obj.labels, prev.map(|p| &p.rec.labels)),
                fields: share_map(obj.fields, prev.map(|p| &p.rec.fields)),
            }),
        }
    }

    /// The object-less item a bookmark carries.
    pub(crate) fn bookmark(rv: u64) -> Item {
        Item {
            rec: Arc::new(ItemRec {
                key: Arc::from(""),
                object: Arc::from(&[][..]),
                resource_version: rv,
                labels: empty_map(),
                fields: empty_map(),
            }),
        }
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.rec.key
    }

    /// The key as a shared string (no copy).
    pub fn key_arc(&self) -> &Arc<str> {
        &self.rec.key
    }

    /// The serialised object.
    pub fn object(&self) -> &[u8] {
        &self.rec.object
    }

    /// The serialised object as a shared buffer (no copy).
    pub fn object_arc(&self) -> &Arc<[u8]> {
        &self.rec.object
    }

    /// The resourceVersion of the write that stored this item.
    pub fn resource_version(&self) -> u64 {
        self.rec.resource_version
    }

    /// The labels.
    pub fn labels(&self) -> &StrMap {
        &self.rec.labels
    }

    /// The fields.
    pub fn fields(&self) -> &StrMap {
        &self.rec.fields
    }

    /// True when this item shares its field map with `other` (so it names
    /// the same fields).
    pub(crate) fn same_fields(&self, other: &Item) -> bool {
        Arc::ptr_eq(&self.rec.fields, &other.rec.fields)
    }

    /// The bytes the window counts for this item: key plus object.
    pub(crate) fn counted_bytes(&self) -> usize {
        self.rec.key.len() + self.rec.object.len()
    }
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.rec, &other.rec)
            || (self.rec.resource_version == other.rec.resource_version
                && self.rec.key == other.rec.key
                && self.rec.object == other.rec.object
                && self.rec.labels == other.rec.labels
                && self.rec.fields == other.rec.fields)
    }
}

impl Eq for Item {}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Item")
            .field("key", &self.key())
            .field("resource_version", &self.resource_version())
            .field("object_len", &self.object().len())
            .field("labels", self.labels())
            .field("fields", self.fields())
            .finish()
    }
}

/// One watch event: its type, its resourceVersion, the object and (for
/// writes to a key already in the state) the previous object.
///
/// A cheap handle: cloning bumps one or two reference counts. Bookmarks have
/// an empty key, empty object and no previous object.
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    pub(crate) kind: EventType,
    pub(crate) rv: u64,
    pub(crate) object: Item,
    pub(crate) prev: Option<Item>,
    /// True only on the BOOKMARK that ends a watch's initial events.
    pub(crate) initial_end: bool,
}

impl Event {
    /// An event of `kind` at `rv` (not the end of initial events).
    pub(crate) fn new(kind: EventType, rv: u64, object: Item, prev: Option<Item>) -> Event {
        Event { kind, rv, object, prev, initial_end: false }
    }

    pub(crate) fn bookmark(rv: u64) -> Event {
        Event::new(EventType::Bookmark, rv, Item::bookmark(rv), None)
    }

    /// The BOOKMARK at `rv` that closes a streaming list's initial events.
    pub(crate) fn end_of_initial_events(rv: u64) -> Event {
        Event { initial_end: true, ..Event::bookmark(rv) }
    }

    /// True only on the BOOKMARK that ends the initial events of a watch
    /// started with [`WatchOptions::send_initial_events`](super::WatchOptions::send_initial_events):
    /// everything before it is the state at its resourceVersion, everything
    /// after it a change. Kubernetes marks it with the annotation
    /// `k8s.io/initial-events-end: "true"`.
    pub fn initial_events_end(&self) -> bool {
        self.initial_end
    }

    /// The event's type.
    pub fn event_type(&self) -> EventType {
        self.kind
    }

    /// The event's resourceVersion. For the ADDED events that stand for the
    /// current state (a request at resourceVersion 0) this is the cache's
    /// resourceVersion, not the item's.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The object's key (empty for a bookmark).
    pub fn key(&self) -> &str {
        self.object.key()
    }

    /// The object bytes (empty for a bookmark). For a DELETED event this is
    /// the object the writer passed to `delete`, except for watchers that
    /// receive a MODIFIED as DELETED because the object stopped matching
    /// their selectors: they get the previous object.
    pub fn object(&self) -> &[u8] {
        self.object.object()
    }

    /// The previous object of the key, if the key was in the current state
    /// when the event was written.
    pub fn prev_object(&self) -> Option<&[u8]> {
        self.prev.as_ref().map(Item::object)
    }

    /// The object's labels.
    pub fn labels(&self) -> &StrMap {
        self.object.labels()
    }

    /// The object's fields.
    pub fn fields(&self) -> &StrMap {
        self.object.fields()
    }

    /// The object as an [`Item`] (shared, no copy).
    pub fn item(&self) -> &Item {
        &self.object
    }

    /// The previous object as an [`Item`], with its labels and fields.
    pub fn prev_item(&self) -> Option<&Item> {
        self.prev.as_ref()
    }

    /// The bytes the window counts for this event:
    /// `key.len() + object.len() + prev_object.len()`.
    pub fn counted_bytes(&self) -> usize {
        self.object.counted_bytes() + self.prev.as_ref().map_or(0, |p| p.object().len())
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("type", &self.kind)
            .field("resource_version", &self.rv)
            .field("key", &self.key())
            .field("object_len", &self.object().len())
            .field("prev_object_len", &self.prev_object().map(<[u8]>::len))
            .field("initial_events_end", &self.initial_end)
            .finish()
    }
}
