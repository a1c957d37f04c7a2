//! `edgecache.Cache` and `edgecache.CacheStats`.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::args;

/// A byte-bounded LRU cache of `bytes`, safe to share between threads.
///
/// An entry costs `len(key) + len(value)` bytes (a `str` key counts its
/// UTF-8 length); the entries held never cost more than `max_bytes`
/// together. Keys are `str` or `bytes`; `"a"` and `b"a"` are the same key.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct Cache {
    inner: edgecache::Cache,
}

#[pymethods]
impl Cache {
    #[new]
    fn new(max_bytes: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Cache { inner: edgecache::Cache::new(args::budget(max_bytes, "max_bytes")?) })
    }

    /// The value for `key`, or `None`. A hit makes the entry the most
    /// recently used.
    #[inline]
    fn get<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        // The new `bytes` is built straight from the cached value's memory,
        // lent under the shard's lock, instead of from a clone of its `Arc`
        // (two atomic reference-count updates fewer). Allocating a `bytes`
        // runs no Python code (it is not tracked by the garbage collector,
        // so no collection and no finalizer can start), so nothing can call
        // back into this cache while the lock is held.
        Ok(self.inner.get_with(hit_key(key)?, |v| PyBytes::new(py, v)))
    }

    /// Stores `value` under `key`, replacing any entry for it; `ttl` is in
    /// seconds (`None`: no expiry). Returns whether the entry was kept: one
    /// larger than the whole cache is not (and any older value for `key` is
    /// dropped).
    #[pyo3(signature = (key, value, ttl = None))]
    fn set(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>, ttl: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let key = args::key(key)?;
        let value = args::value(value, "value")?;
        let ttl = args::ttl(ttl)?;
        Ok(self.inner.set(key, value, ttl))
    }

    /// Removes `key`; returns whether it was held.
    fn remove(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.remove(args::key(key)?))
    }

    /// Drops every entry (the counters other than `bytes` and `items` are
    /// kept).
    fn clear(&self) {
        self.inner.clear();
    }

    /// The counters: bytes, items, gets, hits, evictions.
    fn stats(&self) -> CacheStats {
        self.inner.stats().into()
    }

    /// The budget in bytes (0: caching disabled).
    #[getter]
    fn max_bytes(&self) -> u64 {
        self.inner.max_bytes()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.contains(args::key(key)?))
    }

    fn __repr__(&self) -> String {
        let s = self.inner.stats();
        format!("<edgecache.Cache max_bytes={} items={} bytes={}>", self.inner.max_bytes(), s.items, s.bytes)
    }
}

/// A lookup key, as [`args::key`] takes it, with the common case first: an
/// exact `str` goes straight to `PyUnicode_AsUTF8AndSize` (which hands out
/// the UTF-8 copy the string object caches), skipping the generic checks.
#[inline(always)]
fn hit_key<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    if obj.is_exact_instance_of::<PyString>() {
        let mut len: ffi::Py_ssize_t = 0;
        // SAFETY: `obj` is a live `str` object (exact type checked above)
        // and we are attached to the interpreter; `len` is a valid place to
        // write the length.
        let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(obj.as_ptr(), &mut len) };
        if data.is_null() {
            // Not encodable (a lone surrogate): the UnicodeEncodeError the
            // call raised, as `args::key` would report it.
            return Err(PyErr::fetch(obj.py()));
        }
        let len = usize::try_from(len).unwrap_or(0);
        // SAFETY: on success `data` points to `len` bytes of UTF-8 owned by
        // the string object, which stay valid and unchanged while the object
        // lives (strings are immutable); the borrow of `obj` bounds the
        // slice's lifetime.
        return Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) });
    }
    args::key(obj)
}

/// The counters of one cache: `bytes` and `items` held now; `gets`, `hits`
/// and `evictions` since it was made.
#[pyclass(module = "edgecache", frozen, eq, get_all)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheStats {
    bytes: u64,
    items: u64,
    gets: u64,
    hits: u64,
    evictions: u64,
}

impl From<edgecache::CacheStats> for CacheStats {
    fn from(s: edgecache::CacheStats) -> Self {
        CacheStats { bytes: s.bytes, items: s.items, gets: s.gets, hits: s.hits, evictions: s.evictions }
    }
}

#[pymethods]
impl CacheStats {
    fn __repr__(&self) -> String {
        format!(
            "CacheStats(bytes={}, items={}, gets={}, hits={}, evictions={})",
            self.bytes, self.items, self.gets, self.hits, self.evictions
        )
    }
}
