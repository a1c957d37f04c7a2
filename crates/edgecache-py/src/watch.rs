//! `edgecache.WatchCache`, its `Watcher`, and the `Event` and `Item` it hands
//! out.

use std::sync::Arc;
use std::time::Duration;

use edgecache::watch::{
    self as core, CloseReason, DEFAULT_BOOKMARK_INTERVAL, DEFAULT_CAPACITY, DEFAULT_WATCH_BUFFER, ListRequest, Object,
    ResourceVersionMatch, Selector, StrMap, WatchError, WatchOptions,
};
use pyo3::exceptions::{PyStopAsyncIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::args::{self, SelectorKind, Wait};
use crate::{aio, errors, wait};

/// A Kubernetes-style watch cache: the newest events by resourceVersion,
/// the current state, and watchers, so a client that reconnects resumes
/// from its resourceVersion instead of listing everything again.
///
/// `capacity` is the smallest (and initial) number of events kept,
/// `max_capacity` the largest (default 102400, or `capacity` if larger);
/// `max_bytes` bounds the summed size of the events kept (key + object +
/// previous object). `indexes` declares the selectors to serve without a
/// scan, as `"label:<name>"` or `"field:<name>"`. `bookmark_interval` is
/// how often, in seconds, a watcher that asked for bookmarks gets one at the
/// cache's resourceVersion (default 60; 0: only the upstream's, from
/// `bookmark`).
/// `fields` declares the field names writers extract: a field selector on
/// any other raises `InvalidSelector` (None: learned from the writes).
///
/// Thread-safe: share one cache between threads; every wait releases the
/// GIL.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct WatchCache {
    inner: core::WatchCache,
}

/// An object as a write takes it: key, bytes, labels and fields.
fn object(
    key: &Bound<'_, PyAny>,
    obj: &Bound<'_, PyAny>,
    labels: Option<&Bound<'_, PyAny>>,
    fields: Option<&Bound<'_, PyAny>>,
) -> PyResult<Object> {
    let key = args::str_key(key)?;
    let bytes = args::value(obj, "obj")?;
    Ok(Object::new(key, bytes)
        .with_labels(args::str_map(labels, "labels")?)
        .with_fields(args::str_map(fields, "fields")?))
}

/// One item of `replace`: a tuple `(key, obj)`, `(key, obj, labels)` or
/// `(key, obj, labels, fields)`.
fn replace_item(item: &Bound<'_, PyAny>) -> PyResult<Object> {
    let bad = || {
        PyTypeError::new_err(format!(
            "items must hold (key, obj, labels, fields) tuples (labels and fields optional), found {}",
            args::type_name(item)
        ))
    };
    let t = item.cast::<PyTuple>().map_err(|_| bad())?;
    if !(2..=4).contains(&t.len()) {
        return Err(bad());
    }
    let labels = t.get_item(2).ok();
    let fields = t.get_item(3).ok();
    object(&t.get_item(0)?, &t.get_item(1)?, labels.as_ref(), fields.as_ref())
}

impl WatchCache {
    fn write(&self, py: Python<'_>, kind: core::EventType, obj: Object, rv: u64) -> PyResult<()> {
        let r = match kind {
            core::EventType::Added => self.inner.add(obj, rv),
            core::EventType::Modified => self.inner.update(obj, rv),
            _ => self.inner.delete(obj, rv),
        };
        r.map_err(|e| errors::watch(py, e))
    }

    /// Runs `call(wait)`, a core call that waits up to `wait` for freshness
    /// and fails with `TooLargeResourceVersion` when the cache has not got
    /// there, until it gets there or `timeout` passes: first without
    /// waiting while attached (the common case, already fresh), then
    /// detached in slices that respond to Ctrl-C, and once more without
    /// waiting when the time is up, so the error is the core's own (with
    /// the cache's resourceVersion at that moment). Any other error (a bad
    /// selector, an expired resourceVersion) comes at once.
    fn fresh_call<T, F>(py: Python<'_>, timeout: Option<Duration>, call: F) -> PyResult<T>
    where
        T: Send,
        F: Fn(Duration) -> Result<T, WatchError> + Send + Sync,
    {
        match call(Duration::ZERO) {
            Err(WatchError::TooLargeResourceVersion { .. }) => {}
            r => return r.map_err(|e| errors::watch(py, e)),
        }
        let out = wait::until(py, wait::deadline(timeout), |slice| match call(slice) {
            Err(WatchError::TooLargeResourceVersion { .. }) => None,
            r => Some(r),
        })?;
        out.unwrap_or_else(|| call(Duration::ZERO)).map_err(|e| errors::watch(py, e))
    }

    /// Waits, interruptibly and detached, until the cache has seen `rv`.
    fn fresh(&self, py: Python<'_>, rv: u64, timeout: Option<Duration>) -> PyResult<()> {
        let cache = &self.inner;
        Self::fresh_call(py, timeout, |slice| cache.wait_until_fresh(rv, slice))
    }
}

/// A `resource_version_match`: None, `"NotOlderThan"` or `"Exact"`.
fn rv_match(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ResourceVersionMatch>> {
    match args::opt_str(obj, "resource_version_match")?.as_deref() {
        None => Ok(None),
        Some("NotOlderThan") => Ok(Some(ResourceVersionMatch::NotOlderThan)),
        Some("Exact") => Ok(Some(ResourceVersionMatch::Exact)),
        Some(other) => Err(PyValueError::new_err(format!(
            "resource_version_match must be \"NotOlderThan\", \"Exact\" or None, not {other:?}"
        ))),
    }
}

#[pymethods]
impl WatchCache {
    #[new]
    #[pyo3(
        signature = (capacity = None, max_capacity = None, max_bytes = None, indexes = None, *, bookmark_interval = None, fields = None),
        text_signature = "(capacity=100, max_capacity=None, max_bytes=None, indexes=(), *, bookmark_interval=60.0, fields=None)"
    )]
    fn new(
        py: Python<'_>,
        capacity: Option<&Bound<'_, PyAny>>,
        max_capacity: Option<&Bound<'_, PyAny>>,
        max_bytes: Option<&Bound<'_, PyAny>>,
        indexes: Option<&Bound<'_, PyAny>>,
        bookmark_interval: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let capacity = match capacity {
            Some(c) => args::count(c, "capacity")?,
            None => DEFAULT_CAPACITY,
        };
        if capacity == 0 {
            return Err(PyValueError::new_err("capacity must be at least 1"));
        }
        let mut b = core::WatchCache::builder().capacity(capacity);
        if let Some(m) = max_capacity.filter(|m| !m.is_none()) {
            let m = args::count(m, "max_capacity")?;
            if m < capacity {
                return Err(PyValueError::new_err(format!(
                    "max_capacity ({m}) must be at least capacity ({capacity})"
                )));
            }
            b = b.max_capacity(m);
        }
        if let Some(m) = max_bytes.filter(|m| !m.is_none()) {
            let m = args::count(m, "max_bytes")?;
            if m == 0 {
                return Err(PyValueError::new_err("max_bytes must be at least 1 (or None for no bound)"));
            }
            b = b.max_bytes(m);
        }
        if let Some(ix) = indexes.filter(|i| !i.is_none()) {
            b = b.indexes(args::str_list(ix, "indexes", "label:app")?);
        }
        let every = match bookmark_interval {
            Some(s) => args::interval(s, "bookmark_interval")?,
            None => DEFAULT_BOOKMARK_INTERVAL,
        };
        b = b.bookmark_interval(every);
        if let Some(f) = fields.filter(|f| !f.is_none()) {
            b = b.fields(args::str_list(f, "fields", "spec.nodeName")?);
        }
        b.build().map(|inner| WatchCache { inner }).map_err(|e| errors::watch(py, e))
    }

    /// Records that `obj` was added under `key` at `resource_version`, which
    /// must be greater than the cache's.
    #[pyo3(signature = (key, obj, resource_version, labels = None, fields = None))]
    fn add(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        obj: &Bound<'_, PyAny>,
        resource_version: &Bound<'_, PyAny>,
        labels: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let rv = args::resource_version(resource_version)?;
        self.write(py, core::EventType::Added, object(key, obj, labels, fields)?, rv)
    }

    /// Records that the object under `key` was modified. As `add`.
    #[pyo3(signature = (key, obj, resource_version, labels = None, fields = None))]
    fn update(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        obj: &Bound<'_, PyAny>,
        resource_version: &Bound<'_, PyAny>,
        labels: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let rv = args::resource_version(resource_version)?;
        self.write(py, core::EventType::Modified, object(key, obj, labels, fields)?, rv)
    }

    /// Records that the object under `key` was deleted; the event carries
    /// `obj`, and the stored object as `prev_object`. As `add`.
    #[pyo3(signature = (key, obj, resource_version, labels = None, fields = None))]
    fn delete(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        obj: &Bound<'_, PyAny>,
        resource_version: &Bound<'_, PyAny>,
        labels: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let rv = args::resource_version(resource_version)?;
        self.write(py, core::EventType::Deleted, object(key, obj, labels, fields)?, rv)
    }

    /// Relists: the current state becomes `items`, tuples `(key, obj,
    /// labels, fields)` (labels and fields optional), at `resource_version`;
    /// the window empties, older resourceVersions expire, and every watcher
    /// closes (reason `"relisted"`) after delivering what it holds.
    fn replace(&self, py: Python<'_>, items: &Bound<'_, PyAny>, resource_version: &Bound<'_, PyAny>) -> PyResult<()> {
        if items.is_instance_of::<PyString>() || items.is_instance_of::<PyBytes>() {
            return Err(PyTypeError::new_err("items must be an iterable of (key, obj, labels, fields) tuples"));
        }
        let objects = items.try_iter()?.map(|i| replace_item(&i?)).collect::<PyResult<Vec<Object>>>()?;
        let rv = args::resource_version(resource_version)?;
        self.inner.replace(objects, rv).map_err(|e| errors::watch(py, e))
    }

    /// Records that the upstream reached `resource_version` without a change
    /// here (a progress notification): waiters for it wake, and watchers
    /// that asked for bookmarks get a BOOKMARK event.
    fn bookmark(&self, py: Python<'_>, resource_version: &Bound<'_, PyAny>) -> PyResult<()> {
        let rv = args::resource_version(resource_version)?;
        self.inner.bookmark(rv).map_err(|e| errors::watch(py, e))
    }

    /// The newest resourceVersion the cache has seen.
    #[getter]
    fn resource_version(&self) -> u64 {
        self.inner.resource_version()
    }

    /// The events after `resource_version`, oldest first; for 0, the current
    /// state as ADDED events. Raises `ResourceExpired` (410) when events after
    /// it have left the window.
    fn events_since(&self, py: Python<'_>, resource_version: &Bound<'_, PyAny>) -> PyResult<Vec<Event>> {
        let rv = args::resource_version(resource_version)?;
        let events = self.inner.events_since(rv).map_err(|e| errors::watch(py, e))?;
        Ok(events.into_iter().map(Event::from).collect())
    }

    /// Blocks until the cache has seen `resource_version`, at most `timeout`
    /// seconds (None: no limit), else raises `TooLargeResourceVersion` (504).
    /// Releases the GIL and responds to Ctrl-C while it waits.
    #[pyo3(signature = (resource_version, timeout = Wait::FRESH), text_signature = "($self, resource_version, timeout=3.0)")]
    fn wait_until_fresh(&self, py: Python<'_>, resource_version: &Bound<'_, PyAny>, timeout: Wait) -> PyResult<()> {
        let rv = args::resource_version(resource_version)?;
        self.fresh(py, rv, timeout.0)
    }

    /// The objects matching both selectors, sorted by key, and the cache's
    /// resourceVersion, once the cache has seen `resource_version` (waiting
    /// as `wait_until_fresh`; 0 does not wait). A selector is None, a dict
    /// of str to str (equality), or a str in Kubernetes syntax
    /// (`"app in (web,api),!canary"`; fields: `"spec.nodeName!=n1"`).
    /// Raises `InvalidSelector` for a selector that does not parse or a
    /// field the cache does not extract, `TooLargeResourceVersion` (504)
    /// when the wait runs out. Releases the GIL while it waits.
    #[pyo3(
        signature = (resource_version = None, label_selector = None, field_selector = None, timeout = Wait::FRESH),
        text_signature = "($self, resource_version=0, label_selector=None, field_selector=None, timeout=3.0)"
    )]
    fn list(
        &self,
        py: Python<'_>,
        resource_version: Option<&Bound<'_, PyAny>>,
        label_selector: Option<&Bound<'_, PyAny>>,
        field_selector: Option<&Bound<'_, PyAny>>,
        timeout: Wait,
    ) -> PyResult<(Vec<Item>, u64)> {
        let rv = resource_version.map(args::resource_version).transpose()?.unwrap_or(0);
        let labels = args::selector(label_selector, "label_selector", SelectorKind::Label)?;
        let fields = args::selector(field_selector, "field_selector", SelectorKind::Field)?;
        let cache = &self.inner;
        let (items, at) =
            Self::fresh_call(py, timeout.0, |slice| cache.list_with_timeout(rv, &labels, &fields, slice))?;
        Ok((items.into_iter().map(Item::from).collect(), at))
    }

    /// The current object under `key`, or None, once the cache has seen
    /// `resource_version` (as `list`).
    #[pyo3(
        signature = (key, resource_version = None, timeout = Wait::FRESH),
        text_signature = "($self, key, resource_version=0, timeout=3.0)"
    )]
    fn get(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        resource_version: Option<&Bound<'_, PyAny>>,
        timeout: Wait,
    ) -> PyResult<Option<Item>> {
        let key = args::str_key(key)?;
        let rv = resource_version.map(args::resource_version).transpose()?.unwrap_or(0);
        let cache = &self.inner;
        let item = Self::fresh_call(py, timeout.0, |slice| cache.get_with_timeout(&key, rv, slice))?;
        Ok(item.map(Item::from))
    }

    /// A watcher yielding the events after `resource_version` that match both
    /// selectors (as `list`): first those still in the window (for 0, the
    /// current state as ADDED events), then live ones.
    ///
    /// `send_initial_events` makes it a streaming list: the matching
    /// current state as ADDED events, then one BOOKMARK whose
    /// `initial_events_end` is True, all at the cache's resourceVersion,
    /// then the changes after it. A non-zero `resource_version` then means
    /// "not older than": the call first waits until the cache has seen it,
    /// at most `timeout` seconds (None: no limit), else raises
    /// `TooLargeResourceVersion` (504); it releases the GIL and responds to
    /// Ctrl-C while it waits. `timeout` has no other use.
    ///
    /// `bookmarks` asks for BOOKMARK events: one after each `bookmark()`
    /// and one every `bookmark_interval` seconds (None: the cache's; 0:
    /// none but the upstream's) while the watcher is read, even when no
    /// event matched. `buffer` is how many unread live events it may hold
    /// before it is closed (reason `"fell_behind"`).
    ///
    /// Raises `ResourceExpired` (410) when events after `resource_version`
    /// have left the window (never with `send_initial_events`),
    /// `InvalidSelector` for a bad selector. The watcher may be read from
    /// any thread.
    #[pyo3(
        signature = (
            resource_version, label_selector = None, field_selector = None, *,
            send_initial_events = false, bookmarks = false, bookmark_interval = None, buffer = None,
            timeout = Wait::FRESH
        ),
        text_signature = "($self, resource_version, label_selector=None, field_selector=None, *, send_initial_events=False, bookmarks=False, bookmark_interval=None, buffer=1024, timeout=3.0)"
    )]
    #[allow(clippy::too_many_arguments, reason = "mirrors the Python signature, keyword arguments")]
    fn watch(
        &self,
        py: Python<'_>,
        resource_version: &Bound<'_, PyAny>,
        label_selector: Option<&Bound<'_, PyAny>>,
        field_selector: Option<&Bound<'_, PyAny>>,
        send_initial_events: bool,
        bookmarks: bool,
        bookmark_interval: Option<&Bound<'_, PyAny>>,
        buffer: Option<&Bound<'_, PyAny>>,
        timeout: Wait,
    ) -> PyResult<Watcher> {
        let rv = args::resource_version(resource_version)?;
        let labels: Selector = args::selector(label_selector, "label_selector", SelectorKind::Label)?;
        let fields: Selector = args::selector(field_selector, "field_selector", SelectorKind::Field)?;
        let buffer = match buffer {
            Some(b) => args::count(b, "buffer")?,
            None => DEFAULT_WATCH_BUFFER,
        };
        if buffer == 0 {
            return Err(PyValueError::new_err("buffer must be at least 1"));
        }
        let mut opts = WatchOptions::new().buffer(buffer).bookmarks(bookmarks).send_initial_events(send_initial_events);
        if let Some(every) = bookmark_interval.filter(|b| !b.is_none()) {
            opts = opts.bookmark_interval(args::interval(every, "bookmark_interval")?);
        }
        let cache = &self.inner;
        let inner = Self::fresh_call(py, timeout.0, |slice| {
            cache.watch(rv, &labels, &fields, opts.clone().fresh_timeout(slice))
        })?;
        Ok(Watcher { inner, ready: Arc::default() })
    }

    /// One page of a list, from a snapshot: at most `limit` objects (None
    /// or 0: no limit) matching both selectors (as `list`), in key order.
    /// Every page of one listing comes from the snapshot the first page
    /// took, whatever is written in between: pass the page's
    /// `continue_token` back (with `resource_version` 0 and no match) for
    /// the next page; it is None on the last one.
    ///
    /// Which snapshot, as the apiserver decides: a continue token's; for
    /// `resource_version` 0 (without `"Exact"`) the current state, and
    /// `limit` is ignored; for N with `"NotOlderThan"` (or None, the
    /// default) the current state once the cache has seen N; for N with
    /// `"Exact"` the state at N, which must still be in the window.
    /// Waits for N at most `timeout` seconds (None: no limit), releasing
    /// the GIL and responding to Ctrl-C.
    ///
    /// Raises `ResourceExpired` (410) when the token's or the Exact
    /// resourceVersion has left the window (list again without it),
    /// `TooLargeResourceVersion` (504) when the wait runs out,
    /// `InvalidSelector` for a bad selector, `ValueError` for a malformed
    /// token, a token together with a resourceVersion or `"Exact"`, or
    /// `"Exact"` with resourceVersion 0. Thread-safe.
    #[pyo3(
        signature = (
            limit = None, continue_token = None, resource_version = None, resource_version_match = None,
            label_selector = None, field_selector = None, timeout = Wait::FRESH
        ),
        text_signature = "($self, limit=None, continue_token=None, resource_version=0, resource_version_match=None, label_selector=None, field_selector=None, timeout=3.0)"
    )]
    #[allow(clippy::too_many_arguments, reason = "mirrors the Python signature, keyword arguments")]
    fn list_page(
        &self,
        py: Python<'_>,
        limit: Option<&Bound<'_, PyAny>>,
        continue_token: Option<&Bound<'_, PyAny>>,
        resource_version: Option<&Bound<'_, PyAny>>,
        resource_version_match: Option<&Bound<'_, PyAny>>,
        label_selector: Option<&Bound<'_, PyAny>>,
        field_selector: Option<&Bound<'_, PyAny>>,
        timeout: Wait,
    ) -> PyResult<ListPage> {
        let limit = limit.filter(|l| !l.is_none()).map(|l| args::count(l, "limit")).transpose()?.unwrap_or(0);
        let token = args::opt_str(continue_token, "continue_token")?;
        let rv = resource_version.map(args::resource_version).transpose()?.unwrap_or(0);
        let mut req = ListRequest::new()
            .limit(limit)
            .resource_version(rv)
            .label_selector(args::selector(label_selector, "label_selector", SelectorKind::Label)?)
            .field_selector(args::selector(field_selector, "field_selector", SelectorKind::Field)?);
        req.resource_version_match = rv_match(resource_version_match)?;
        if let Some(t) = token {
            req = req.continue_token(t);
        }
        let cache = &self.inner;
        let page = Self::fresh_call(py, timeout.0, |slice| cache.list_page(&req.clone().timeout(slice)))?;
        Ok(ListPage { items: page.items, resource_version: page.resource_version, continue_token: page.continue_token })
    }

    /// `await cache.await_until_fresh(resource_version, timeout=3.0)`: as
    /// `wait_until_fresh`, for asyncio: no thread waits; the task wakes
    /// when a write or bookmark brings the cache to `resource_version`.
    /// Raises `TooLargeResourceVersion` (504) when `timeout` seconds pass
    /// first (None: no limit; 0: no wait), `Closed` when the cache closes.
    #[pyo3(signature = (resource_version, timeout = Wait::FRESH), text_signature = "($self, resource_version, timeout=3.0)")]
    fn await_until_fresh<'py>(
        slf: &Bound<'py, Self>,
        resource_version: &Bound<'py, PyAny>,
        timeout: Wait,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let rv = args::resource_version(resource_version)?;
        if slf.get().inner.wait_until_fresh(rv, Duration::ZERO).is_ok() {
            return aio::Ready::with(py.None().into_bound(py));
        }
        let timeout = timeout.0.map(|d| d.as_secs_f64());
        aio::functions(py)?.await_until_fresh.bind(py).call1((slf, rv, timeout))
    }

    /// `await cache.alist(...)`: as `list`, for asyncio (the freshness wait
    /// as `await_until_fresh`). Arguments are checked before the wait.
    #[pyo3(
        signature = (resource_version = None, label_selector = None, field_selector = None, timeout = Wait::FRESH),
        text_signature = "($self, resource_version=0, label_selector=None, field_selector=None, timeout=3.0)"
    )]
    fn alist<'py>(
        slf: &Bound<'py, Self>,
        resource_version: Option<&Bound<'py, PyAny>>,
        label_selector: Option<&Bound<'py, PyAny>>,
        field_selector: Option<&Bound<'py, PyAny>>,
        timeout: Wait,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let rv = resource_version.map(args::resource_version).transpose()?.unwrap_or(0);
        if rv == 0 || this.inner.wait_until_fresh(rv, Duration::ZERO).is_ok() {
            // Fresh: list now (a bad selector raises here).
            let listed = this.list(py, resource_version, label_selector, field_selector, Wait(Some(Duration::ZERO)))?;
            return aio::Ready::with(listed.into_pyobject(py)?.into_any());
        }
        args::selector(label_selector, "label_selector", SelectorKind::Label)?;
        args::selector(field_selector, "field_selector", SelectorKind::Field)?;
        let timeout = timeout.0.map(|d| d.as_secs_f64());
        aio::functions(py)?.alist.bind(py).call1((slf, rv, label_selector, field_selector, timeout))
    }

    /// Calls `callback(*args)` once the cache has seen `resource_version`
    /// or is closed: at once (returning None) if it has, else on the thread
    /// of the write that gets it there (attached to the interpreter),
    /// returning an id for `_cancel_fresh`. What it raises is ignored.
    #[pyo3(signature = (resource_version, callback, *args))]
    fn _on_fresh(
        &self,
        resource_version: &Bound<'_, PyAny>,
        callback: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Option<u64>> {
        let rv = args::resource_version(resource_version)?;
        let (callback, args) = aio::callback_args(callback, args)?;
        Ok(self.inner.on_fresh(rv, aio::hook(callback, args)))
    }

    /// Drops the `_on_fresh` callback `id` unrun; returns whether it was
    /// still pending.
    fn _cancel_fresh(&self, id: u64) -> bool {
        self.inner.cancel_fresh(id)
    }

    /// Closes the cache: blocked waits wake with `Closed`, watchers close
    /// (reason `"cache_closed"`) after delivering what they hold, and later
    /// calls raise `Closed`. Idempotent.
    fn close(&self) {
        self.inner.close();
    }

    /// True after `close()`.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The number of objects in the current state.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        let s = self.inner.window_stats();
        format!(
            "<edgecache.WatchCache resource_version={} items={} events={} capacity={} watchers={}{}>",
            s.resource_version,
            s.items,
            s.events,
            s.capacity,
            s.watchers,
            if self.inner.is_closed() { " closed" } else { "" }
        )
    }
}

/// A stream of events from `WatchCache.watch`.
///
/// `next(timeout)` returns the next event, or None when `timeout` passes.
/// Iterating yields events until the watcher is closed by its owner. When
/// it closes for another reason (it fell behind, the cache was relisted or
/// closed) it first delivers every event it holds, then raises
/// `edgecache.Closed` with the reason, so a gap is never silent. Usable as
/// a context manager, which closes it on exit.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct Watcher {
    inner: core::Watcher,
    /// Asyncio readers waiting for something to read.
    ready: Arc<aio::ReadyHooks>,
}

impl Watcher {
    fn next_event(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<Option<core::Event>> {
        match self.inner.try_next() {
            Ok(None) => {}
            r => return r.map_err(|e| errors::watch(py, e)),
        }
        let w = &self.inner;
        let out = wait::until(py, wait::deadline(timeout), |slice| match w.next_timeout(slice) {
            Ok(None) => None,
            r => Some(r),
        })?;
        match out {
            None => Ok(None),
            Some(r) => r.map_err(|e| errors::watch(py, e)),
        }
    }
}

#[pymethods]
impl Watcher {
    /// The next event, waiting at most `timeout` seconds (None: as long as it
    /// takes); None when the timeout passes, which does not close the
    /// watcher. Raises `edgecache.Closed` once the watcher is closed and
    /// drained. Releases the GIL and responds to Ctrl-C while it waits.
    #[pyo3(signature = (timeout = Wait::FOREVER), text_signature = "($self, timeout=None)")]
    fn next(&self, py: Python<'_>, timeout: Wait) -> PyResult<Option<Event>> {
        Ok(self.next_event(py, timeout.0)?.map(Event::from))
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Event>> {
        match self.next_event(py, None) {
            Ok(ev) => Ok(ev.map(Event::from)),
            Err(e) if self.inner.close_reason() == Some(CloseReason::Stopped) && is_closed(py, &e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `await watcher.anext(timeout=None)`: as `next`, for asyncio. The
    /// next event, waiting at most `timeout` seconds (None: as long as it
    /// takes; 0: no wait); None when the timeout passes, which does not
    /// close the watcher. Raises `edgecache.Closed` once the watcher is
    /// closed and drained. No thread waits: the task wakes when a writer
    /// (or a close) makes something readable.
    #[pyo3(signature = (timeout = Wait::FOREVER), text_signature = "($self, timeout=None)")]
    fn anext<'py>(slf: &Bound<'py, Self>, timeout: Wait) -> PyResult<Bound<'py, PyAny>> {
        // Always a coroutine, even when an event is waiting: an event is
        // taken only when the coroutine runs, so one that is cancelled
        // before it starts, or never awaited, loses nothing.
        let py = slf.py();
        let timeout = timeout.0.map(|d| d.as_secs_f64());
        aio::functions(py)?.watcher_next.bind(py).call1((slf, timeout))
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// `async for event in watcher`: the events until the watcher is
    /// closed by its owner; another close raises `Closed` after the events
    /// it still holds, as iteration does.
    fn __anext__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        aio::functions(py)?.watcher_anext.bind(py).call1((slf,))
    }

    /// The next event if one is ready, else None, without waiting. Raises
    /// `Closed` once the watcher is closed and drained; when it was closed
    /// by its owner (`close()`), `StopAsyncIteration` instead if `stop` is
    /// true (for `async for`).
    #[pyo3(signature = (stop = false))]
    fn _try_next(&self, py: Python<'_>, stop: bool) -> PyResult<Option<Event>> {
        match self.inner.try_next() {
            Ok(ev) => Ok(ev.map(Event::from)),
            Err(e) => {
                let stopped = self.inner.close_reason() == Some(CloseReason::Stopped);
                let err = errors::watch(py, e);
                if stop && stopped && is_closed(py, &err) {
                    return Err(PyStopAsyncIteration::new_err(()));
                }
                Err(err)
            }
        }
    }

    /// Calls `callback(*args)` once there is something to read (an event,
    /// a close, a due bookmark): at once if there is, else on the thread
    /// that makes it so (attached to the interpreter). Returns an id for
    /// `_cancel_ready` and, when a periodic bookmark is scheduled, the
    /// seconds until it is due (no callback runs for that: look again
    /// then). What the callback raises is ignored.
    #[pyo3(signature = (callback, *args))]
    fn _on_ready(&self, callback: &Bound<'_, PyAny>, args: &Bound<'_, PyTuple>) -> PyResult<(u64, Option<f64>)> {
        let (callback, args) = aio::callback_args(callback, args)?;
        let inner = &self.inner;
        let (id, delay) = self.ready.add(callback, args, |hook| inner.on_ready(hook));
        Ok((id, delay.map(|d| d.as_secs_f64())))
    }

    /// Drops the `_on_ready` callback `id` if it has not run; returns
    /// whether it was still waiting.
    fn _cancel_ready(&self, id: u64) -> bool {
        self.ready.cancel(id)
    }

    /// Closes the watcher: drops what it holds, wakes a thread blocked in
    /// `next`, and unregisters it. Idempotent.
    fn close(&self) {
        self.inner.close();
    }

    /// Why the watcher closed (`"fell_behind"`, `"relisted"`,
    /// `"cache_closed"`, `"stopped"`), or None while open. A closed watcher
    /// may still hold events to read.
    #[getter]
    fn close_reason(&self) -> Option<&'static str> {
        self.inner.close_reason().map(|r| match r {
            CloseReason::FellBehind { .. } => "fell_behind",
            CloseReason::Relisted { .. } => "relisted",
            CloseReason::CacheClosed => "cache_closed",
            CloseReason::Stopped => "stopped",
            _ => "closed",
        })
    }

    /// How many events are waiting to be read.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending()
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.inner.close();
        false
    }

    fn __repr__(&self) -> String {
        match self.close_reason() {
            None => format!("<edgecache.Watcher pending={}>", self.inner.pending()),
            Some(r) => format!("<edgecache.Watcher pending={} closed={r:?}>", self.inner.pending()),
        }
    }
}

/// True when `e` is an `edgecache.Closed`.
fn is_closed(py: Python<'_>, e: &PyErr) -> bool {
    errors::classes(py).is_ok_and(|c| e.is_instance(py, c.closed.bind(py)))
}

fn str_dict<'py>(py: Python<'py>, map: &StrMap) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in map {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// One watch event. `type` is `"ADDED"`, `"MODIFIED"`, `"DELETED"` or
/// `"BOOKMARK"`; `object` the object's bytes (for DELETED, what the writer
/// passed to `delete`); `prev_object` the key's previous object, or None.
/// A BOOKMARK has an empty key and object.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct Event {
    inner: core::Event,
}

impl From<core::Event> for Event {
    fn from(inner: core::Event) -> Self {
        Event { inner }
    }
}

#[pymethods]
impl Event {
    #[getter(r#type)]
    fn event_type(&self) -> &'static str {
        self.inner.event_type().as_str()
    }

    #[getter]
    fn key(&self) -> &str {
        self.inner.key()
    }

    #[getter]
    fn object<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.object())
    }

    #[getter]
    fn prev_object<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.prev_object().map(|b| PyBytes::new(py, b))
    }

    #[getter]
    fn resource_version(&self) -> u64 {
        self.inner.resource_version()
    }

    /// True only on the BOOKMARK that ends the initial events of a watch
    /// started with `send_initial_events=True`: the events before it are
    /// the state at its resourceVersion, those after it changes.
    #[getter]
    fn initial_events_end(&self) -> bool {
        self.inner.initial_events_end()
    }

    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        str_dict(py, self.inner.labels())
    }

    #[getter]
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        str_dict(py, self.inner.fields())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Event>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "Event(type={:?}, key={:?}, resource_version={})",
            self.inner.event_type().as_str(),
            self.inner.key(),
            self.inner.resource_version()
        )
    }
}

/// One object of the current state: key, bytes, the resourceVersion that
/// wrote it, labels and fields.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct Item {
    inner: core::Item,
}

impl From<core::Item> for Item {
    fn from(inner: core::Item) -> Self {
        Item { inner }
    }
}

#[pymethods]
impl Item {
    #[getter]
    fn key(&self) -> &str {
        self.inner.key()
    }

    #[getter]
    fn object<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.object())
    }

    #[getter]
    fn resource_version(&self) -> u64 {
        self.inner.resource_version()
    }

    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        str_dict(py, self.inner.labels())
    }

    #[getter]
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        str_dict(py, self.inner.fields())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Item>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        format!("Item(key={:?}, resource_version={})", self.inner.key(), self.inner.resource_version())
    }
}

/// One page from `WatchCache.list_page`: `items` (a list of `Item`, in key
/// order), `resource_version` (the snapshot's, the same for every page of
/// one listing) and `continue_token` (a str to pass back for the next
/// page, None on the last one; opaque). Immutable; safe to share.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct ListPage {
    items: Vec<core::Item>,
    resource_version: u64,
    continue_token: Option<String>,
}

#[pymethods]
impl ListPage {
    /// The page's objects, in key order (a new list on each access).
    #[getter]
    fn items(&self) -> Vec<Item> {
        self.items.iter().cloned().map(Item::from).collect()
    }

    /// The resourceVersion of the snapshot the listing comes from.
    #[getter]
    fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The token of the next page, or None on the last one.
    #[getter]
    fn continue_token(&self) -> Option<&str> {
        self.continue_token.as_deref()
    }

    fn __repr__(&self) -> String {
        format!(
            "ListPage(items={}, resource_version={}, continue_token={})",
            self.items.len(),
            self.resource_version,
            if self.continue_token.is_some() { "..." } else { "None" }
        )
    }
}
