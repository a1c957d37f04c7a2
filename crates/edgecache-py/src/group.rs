//! `edgecache.Group`, `edgecache.Stats` and `edgecache.get_group`.

use std::sync::Arc;

use edgecache::{CacheType, GetterError, GroupOptions, Value};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::cache::CacheStats;
use crate::{args, errors, wait};

/// `edgecache.MAIN_CACHE`: the keys this process owns.
pub(crate) const MAIN_CACHE: u8 = CacheType::Main as u8;
/// `edgecache.HOT_CACHE`: popular keys owned by peers.
pub(crate) const HOT_CACHE: u8 = CacheType::Hot as u8;

/// The Python getter, as the core calls it: on the thread that leads a
/// load, which may be detached, so it attaches first.
struct PyGetter {
    func: Py<PyAny>,
}

impl edgecache::Getter for PyGetter {
    fn get(&self, key: &[u8]) -> Result<Value, GetterError> {
        Python::attach(|py| {
            call_getter(py, self.func.bind(py), key)
                .map_err(|e| Arc::new(errors::GetterException(errors::from_loader(py, e))) as GetterError)
        })
    }
}

/// `getter(key)` with the key as `str` (bytes that are not UTF-8 are
/// decoded with `surrogateescape`, as `os.fsdecode` does), its result as the
/// value: `bytes`, or `str` stored as UTF-8.
fn call_getter(py: Python<'_>, func: &Bound<'_, PyAny>, key: &[u8]) -> PyResult<Value> {
    let key = match std::str::from_utf8(key) {
        Ok(s) => PyString::new(py, s).into_any(),
        Err(_) => PyBytes::new(py, key).call_method1("decode", ("utf-8", "surrogateescape"))?,
    };
    let out = func.call1((key,))?;
    if let Ok(b) = out.cast::<PyBytes>() {
        return Ok(Value::from(b.as_bytes()));
    }
    if let Ok(s) = out.cast::<PyString>() {
        return Ok(Value::from(s.to_str()?.as_bytes()));
    }
    Err(PyTypeError::new_err(format!("getter must return bytes or str, not {}", args::type_name(&out))))
}

/// A named cache that loads missing values through `getter`, once per key
/// however many threads ask at the same time (groupcache's `Group`).
///
/// Groups are registered by name for the life of the process, as in
/// groupcache: `get_group(name)` finds one, a second group with a taken name
/// is an error, and `close()` unregisters it.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct Group {
    group: edgecache::Group,
}

#[pymethods]
impl Group {
    #[new]
    #[pyo3(signature = (name, cache_bytes, getter, ttl = None))]
    fn new(
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        cache_bytes: &Bound<'_, PyAny>,
        getter: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let Ok(name) = name.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!("name must be str, not {}", args::type_name(name))));
        };
        let cache_bytes = args::budget(cache_bytes, "cache_bytes")?;
        if !getter.is_callable() {
            return Err(PyTypeError::new_err(format!("getter must be callable, not {}", args::type_name(getter))));
        }
        let opts = GroupOptions::default().ttl(args::ttl(ttl)?);
        let name = name.to_str()?;
        let getter = PyGetter { func: getter.clone().unbind() };
        match edgecache::Group::with_options(name, cache_bytes, getter, opts) {
            Ok(group) => Ok(Group { group }),
            Err(e) => Err(errors::group(py, e)),
        }
    }

    /// The value for `key`: from the cache, else from `getter`, called once
    /// for all the threads that ask for `key` meanwhile. If `getter` raises,
    /// every one of them raises that exception and nothing is cached.
    ///
    /// A hit, or a load this thread runs itself, keeps the GIL; waiting for
    /// another thread's load releases it and responds to Ctrl-C.
    fn get<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let k = args::key(key)?;
        // A hit, or a load this thread runs itself (the getter needs the
        // interpreter anyway), stays attached: releasing the GIL would cost
        // every hit a hand-off, and with a busy Python thread around, up to a
        // switch interval (5 ms) to get it back. Only waiting for another
        // thread's load detaches, in slices, checking for signals.
        let out =
            self.group.get_waiting(k, |w| wait::until(py, None, |slice| w.wait_for(slice).map(|_| ())).map(|_| ()))?;
        match out {
            Ok(v) => Ok(PyBytes::new(py, &v)),
            Err(e) => Err(errors::group(py, e)),
        }
    }

    /// Removes `key` from the cache and detaches a load in flight for it
    /// (that load stores nothing). Returns whether an entry was removed.
    fn remove(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.group.remove(args::key(key)?))
    }

    /// The group's counters.
    fn stats(&self) -> Stats {
        Stats::from(self.group.stats())
    }

    /// The counters of `MAIN_CACHE` or `HOT_CACHE`.
    #[pyo3(signature = (which = None), text_signature = "($self, which=1)")]
    fn cache_stats(&self, which: Option<&Bound<'_, PyAny>>) -> PyResult<CacheStats> {
        let which = match which.map(|w| args::count(w, "which")).transpose()?.unwrap_or(MAIN_CACHE.into()) {
            1 => CacheType::Main,
            2 => CacheType::Hot,
            n => return Err(PyValueError::new_err(format!("which must be MAIN_CACHE (1) or HOT_CACHE (2), not {n}"))),
        };
        Ok(self.group.cache_stats(which).into())
    }

    /// Unregisters the group (its name may be used again) and drops its
    /// entries; later `get`s raise `edgecache.Closed`. Idempotent.
    fn close(&self) {
        self.group.close();
    }

    /// The group's name.
    #[getter]
    fn name(&self) -> &str {
        self.group.name()
    }

    /// The budget shared by the main and hot caches (0: caching disabled).
    #[getter]
    fn cache_bytes(&self) -> u64 {
        self.group.cache_bytes()
    }

    /// True after `close()`.
    #[getter]
    fn closed(&self) -> bool {
        self.group.is_closed()
    }

    fn __repr__(&self) -> String {
        format!(
            "<edgecache.Group name={:?} cache_bytes={}{}>",
            self.group.name(),
            self.group.cache_bytes(),
            if self.group.is_closed() { " closed" } else { "" }
        )
    }
}

/// The registered group named `name`, or `None`.
#[pyfunction]
pub(crate) fn get_group(name: &Bound<'_, PyAny>) -> PyResult<Option<Group>> {
    let Ok(name) = name.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!("name must be str, not {}", args::type_name(name))));
    };
    Ok(edgecache::get_group(name.to_str()?).map(|group| Group { group }))
}

/// A group's counters, as groupcache's `Stats`.
#[pyclass(module = "edgecache", frozen, eq, get_all)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stats {
    gets: u64,
    cache_hits: u64,
    peer_loads: u64,
    peer_errors: u64,
    loads: u64,
    loads_deduped: u64,
    local_loads: u64,
    local_load_errs: u64,
    server_requests: u64,
}

impl From<edgecache::Stats> for Stats {
    fn from(s: edgecache::Stats) -> Self {
        Stats {
            gets: s.gets,
            cache_hits: s.cache_hits,
            peer_loads: s.peer_loads,
            peer_errors: s.peer_errors,
            loads: s.loads,
            loads_deduped: s.loads_deduped,
            local_loads: s.local_loads,
            local_load_errs: s.local_load_errs,
            server_requests: s.server_requests,
        }
    }
}

#[pymethods]
impl Stats {
    fn __repr__(&self) -> String {
        format!(
            "Stats(gets={}, cache_hits={}, peer_loads={}, peer_errors={}, loads={}, loads_deduped={}, \
             local_loads={}, local_load_errs={}, server_requests={})",
            self.gets,
            self.cache_hits,
            self.peer_loads,
            self.peer_errors,
            self.loads,
            self.loads_deduped,
            self.local_loads,
            self.local_load_errs,
            self.server_requests
        )
    }
}
