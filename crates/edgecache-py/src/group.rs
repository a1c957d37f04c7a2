//! `edgecache.Group`, `edgecache.Stats` and `edgecache.get_group`, and the
//! tickets of `Group.aget` (in `edgecache._aio`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use edgecache::{
    CacheType, Error, FlightError, GetterError, GroupLeader as CoreLeader, GroupOptions, GroupTicket,
    GroupWaiter as CoreWaiter, Value,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::cache::CacheStats;
use crate::marks::{self, Mark};
use crate::{aio, args, errors, wait};

/// `edgecache.MAIN_CACHE`: the keys this process owns.
pub(crate) const MAIN_CACHE: u8 = CacheType::Main as u8;
/// `edgecache.HOT_CACHE`: popular keys owned by peers.
pub(crate) const HOT_CACHE: u8 = CacheType::Hot as u8;

/// Identifies a group for the binding's recursion marks ([`marks`]): never
/// reused, unlike an address (0 is a group another binding made).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What the binding keeps with a group it made (the core's
/// `binding_data`, so every handle, including `get_group`'s, finds it):
/// the Python getter, and an identity for the recursion marks.
struct GroupData {
    id: usize,
    func: Py<PyAny>,
}

/// The Python getter, as the core calls it ([`edgecache::Getter`]). The
/// binding runs its loads itself (`GroupLeader::run`, `complete`), so the
/// core calls this only on a path the binding does not take; it attaches
/// first, since it may run on a detached thread.
struct PyGetter {
    data: Arc<GroupData>,
}

impl edgecache::Getter for PyGetter {
    fn get(&self, key: &[u8]) -> Result<Value, GetterError> {
        Python::attach(|py| {
            let out = call_getter(py, self.data.func.bind(py), key)
                .map_err(|e| errors::getter_failed(errors::from_loader(py, e)));
            match out.and_then(|v| getter_value(py, &v)) {
                Ok(v) => Ok(v),
                Err(Error::Getter(e)) => Err(e),
                Err(e) => Err(Arc::new(e) as GetterError),
            }
        })
    }
}

/// The key as the getter gets it: a `str` (bytes that are not UTF-8 are
/// decoded with `surrogateescape`, as `os.fsdecode` does).
fn key_arg<'py>(py: Python<'py>, key: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match std::str::from_utf8(key) {
        Ok(s) => Ok(PyString::new(py, s).into_any()),
        Err(_) => PyBytes::new(py, key).call_method1(intern!(py, "decode"), ("utf-8", "surrogateescape")),
    }
}

/// `getter(key)`, returned as is.
fn call_getter<'py>(py: Python<'py>, func: &Bound<'py, PyAny>, key: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    func.call1((key_arg(py, key)?,))
}

/// What a getter's return value means for the load: `bytes` is the value,
/// `str` is stored as UTF-8, `None` is no value (`edgecache.NoValue`), and
/// anything else fails the load with a `TypeError`. An awaitable (an async
/// getter called by the blocking `get`) is closed, so Python does not warn
/// that it was never awaited, and fails the load.
fn getter_value(py: Python<'_>, out: &Bound<'_, PyAny>) -> Result<Value, Error> {
    if let Ok(b) = out.cast::<PyBytes>() {
        return Ok(Value::from(b.as_bytes()));
    }
    if let Ok(s) = out.cast::<PyString>() {
        return match s.to_str() {
            Ok(s) => Ok(Value::from(s.as_bytes())),
            Err(e) => Err(errors::getter_failed(e)),
        };
    }
    if out.is_none() {
        return Err(Error::NoValue);
    }
    let msg = if out.hasattr(intern!(py, "__await__")).unwrap_or(false) {
        if out.hasattr(intern!(py, "close")).unwrap_or(false) {
            let _ = out.call_method0(intern!(py, "close"));
        }
        format!(
            "getter returned an awaitable ({}): Group.get cannot await it; use `await group.aget(key)`",
            args::type_name(out)
        )
    } else {
        format!("getter must return bytes or str, not {}", args::type_name(out))
    };
    let e = PyTypeError::new_err(msg);
    // Normalize now, so every waiter raises the same object.
    let _ = e.value(py);
    Err(errors::getter_failed(e))
}

/// A getter's exception: published to every waiter (`Ok(Err)`), or, when
/// the caller leaves (`KeyboardInterrupt`, `SystemExit`), handed back to be
/// raised by the leader's caller alone while the load is abandoned (`Err`).
fn getter_raised(py: Python<'_>, e: PyErr) -> Result<Result<Value, Error>, PyErr> {
    let e = errors::from_loader(py, e);
    if errors::leaves(py, &e) { Err(e) } else { Ok(Err(errors::getter_failed(e))) }
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
    /// `None` for a group another binding made (found by `get_group`): its
    /// loads run the core's own way.
    data: Option<Arc<GroupData>>,
}

impl Group {
    fn wrap(group: edgecache::Group) -> Group {
        let data = group.binding_data().and_then(|d| Arc::clone(d).downcast::<GroupData>().ok());
        Group { group, data }
    }

    fn ident(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.id)
    }

    /// Runs the load this caller leads, on this thread: the Python getter
    /// through `GroupLeader::run` (so the core marks the thread and a get
    /// of the same key inside the getter raises `RecursiveLoad`), published
    /// to every waiter; or, when the getter raises `KeyboardInterrupt` or
    /// `SystemExit`, abandoned (the waiters take over) and that exception
    /// raised here.
    fn lead(&self, py: Python<'_>, leader: CoreLeader) -> PyResult<Value> {
        let Some(data) = &self.data else {
            return leader.load().map_err(|e| errors::group(py, e));
        };
        let func = data.func.bind(py);
        let out = leader.run(|key| match call_getter(py, func, key) {
            Ok(v) => Ok(getter_value(py, &v)),
            Err(e) => getter_raised(py, e),
        });
        match out {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(errors::group(py, e)),
            Err(e) => Err(e),
        }
    }

    /// A ticket as `_begin` and `_rejoin` hand it to Python. A leader of a
    /// group another binding made loads at once, the core's own way.
    fn ticket(&self, py: Python<'_>, ticket: Result<GroupTicket, Error>) -> PyResult<Py<PyAny>> {
        match ticket.map_err(|e| errors::group(py, e))? {
            GroupTicket::Hit(v) => Ok(PyBytes::new(py, &v).into_any().unbind()),
            GroupTicket::Leader(leader) => match &self.data {
                Some(data) => {
                    // The recursion mark is made when the load starts on
                    // the event loop's thread (`start`), not here: `aget`
                    // may be called on another thread
                    // (`run_coroutine_threadsafe`).
                    let data = Arc::clone(data);
                    Ok(Py::new(py, GroupLeader { state: Mutex::new(Some((leader, None))), data })?.into_any())
                }
                None => Ok(PyBytes::new(py, &self.lead(py, leader)?).into_any().unbind()),
            },
            GroupTicket::Waiter(waiter) => Ok(Py::new(py, GroupWaiter { waiter })?.into_any()),
            // GroupTicket is exhaustive today; a future kind is an error.
            #[allow(unreachable_patterns, reason = "GroupTicket may grow")]
            _ => Err(PyRuntimeError::new_err("unknown ticket")),
        }
    }
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
        let data =
            Arc::new(GroupData { id: NEXT_ID.fetch_add(1, Ordering::Relaxed) as usize, func: getter.clone().unbind() });
        let opts = GroupOptions::default()
            .ttl(args::ttl(ttl)?)
            .binding_data(Arc::clone(&data) as Arc<dyn std::any::Any + Send + Sync>);
        let name = name.to_str()?;
        let getter = PyGetter { data: Arc::clone(&data) };
        match edgecache::Group::with_options(name, cache_bytes, getter, opts) {
            Ok(group) => Ok(Group { group, data: Some(data) }),
            Err(e) => Err(errors::group(py, e)),
        }
    }

    /// The value for `key`: from the cache, else from `getter`, called once
    /// for all the threads that ask for `key` meanwhile. If `getter` raises
    /// an `Exception`, every one of them raises that exception and nothing
    /// is cached; if it raises `KeyboardInterrupt` or `SystemExit`, only
    /// this caller does, and a waiting thread loads instead. A getter that
    /// returns None raises `edgecache.NoValue`; one that gets its own key
    /// (on the same thread) gets `edgecache.RecursiveLoad`.
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
        let mut ticket = self.group.begin(k).map_err(|e| errors::group(py, e))?;
        loop {
            match ticket {
                GroupTicket::Hit(v) => return Ok(PyBytes::new(py, &v)),
                GroupTicket::Leader(leader) => return Ok(PyBytes::new(py, &self.lead(py, leader)?)),
                GroupTicket::Waiter(w) => {
                    // An asyncio load of this key on this thread's event loop:
                    // blocking here would stop the loop that runs it.
                    if marks::led_here(self.ident(), k) {
                        return Err(errors::recursive_load(py));
                    }
                    let waiter = w.waiter();
                    let out = wait::until(py, None, |slice| waiter.wait_for(slice))?;
                    match out {
                        // The leader left for its own reasons: take the key
                        // again (maybe as the leader).
                        Some(Err(FlightError::Abandoned)) => {
                            ticket = self.group.rejoin(k).map_err(|e| errors::group(py, e))?;
                        }
                        Some(r) => {
                            return r.map(|v| PyBytes::new(py, &v)).map_err(|e| errors::group(py, Error::from(e)));
                        }
                        // No deadline: `until` only returns with a result.
                        None => return Err(errors::load_timeout(py)),
                    }
                }
                #[allow(unreachable_patterns, reason = "GroupTicket may grow")]
                _ => return Err(PyRuntimeError::new_err("unknown ticket")),
            }
        }
    }

    /// `await group.aget(key)`: as `get`, for asyncio. A hit answers at
    /// once; on a miss the first caller leads the load on the event loop:
    /// it calls `getter(key)` and, when that returns an awaitable (an
    /// `async def` getter), awaits it. Every task and thread asking for the
    /// key meanwhile gets the result; no thread waits for it. A waiting task
    /// that is cancelled leaves the load alone; a leading task that is
    /// cancelled (or interrupted) abandons it and a waiter leads instead. A
    /// getter that awaits its own key (in its own task chain) gets
    /// `edgecache.RecursiveLoad`.
    ///
    /// A hit returns an awaitable that is already done (no coroutine frame
    /// to run); a miss, a coroutine of `edgecache._aio` that owns this
    /// caller's share of the load from the call on.
    fn aget<'py>(slf: &Bound<'py, Self>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let k = args::key(key)?;
        let ticket = match this.group.begin(k) {
            Ok(GroupTicket::Hit(v)) => return aio::Ready::with(PyBytes::new(py, &v).into_any()),
            t => this.ticket(py, t)?.into_bound(py),
        };
        if ticket.is_instance_of::<PyBytes>() {
            // A group another binding made: loaded already, here.
            return aio::Ready::with(ticket);
        }
        aio::functions(py)?.group_load.bind(py).call1((slf, key, ticket))
    }

    /// Starts a get without blocking, for `edgecache._aio` (counted as a
    /// get): the value's bytes on a hit, else a `_GroupLeader` (this caller
    /// loads) or a `_GroupWaiter`.
    fn _begin(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let k = args::key(key)?;
        self.ticket(py, self.group.begin(k))
    }

    /// As `_begin`, after the load waited for was abandoned (not counted
    /// again).
    fn _rejoin(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let k = args::key(key)?;
        self.ticket(py, self.group.rejoin(k))
    }

    /// The group's identity for the asyncio recursion check.
    #[getter]
    fn _ident(&self) -> usize {
        self.ident()
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
    Ok(edgecache::get_group(name.to_str()?).map(Group::wrap))
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

/// The caller that leads a load for `Group.aget`. It calls the getter
/// (`start`) and ends the load with `complete`, `fail` or `abandon`
/// (dropping it abandons). While it lives, a blocking `Group.get` of its key
/// on its thread (the event loop's) raises `RecursiveLoad` instead of
/// blocking the loop that the load needs.
#[pyclass(module = "edgecache._native", name = "_GroupLeader", frozen)]
pub(crate) struct GroupLeader {
    /// The leader and, once `start` ran on the loop's thread, its mark.
    state: Mutex<Option<(CoreLeader, Option<Mark>)>>,
    data: Arc<GroupData>,
}

impl GroupLeader {
    fn take(&self) -> PyResult<(CoreLeader, Option<Mark>)> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this load has already ended"))
    }

    fn publish<'py>(&self, py: Python<'py>, result: Result<Value, Error>) -> PyResult<Bound<'py, PyBytes>> {
        let (leader, _mark) = self.take()?;
        match leader.complete(result) {
            Ok(v) => Ok(PyBytes::new(py, &v)),
            Err(e) => Err(errors::group(py, e)),
        }
    }
}

#[pymethods]
impl GroupLeader {
    /// Calls `getter(key)` and returns what it returns (bytes, str, None,
    /// or an awaitable to await), without ending the load. A Rust panic in
    /// it raises `LoaderPanicked`.
    fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let key: Box<[u8]> = {
            let mut st = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match st.as_mut() {
                Some((leader, mark)) => {
                    if mark.is_none() {
                        // This thread runs the load: the event loop's.
                        *mark = Some(Mark::new(self.data.id, leader.key()));
                    }
                    leader.key().into()
                }
                None => return Err(PyRuntimeError::new_err("this load has already ended")),
            }
        };
        let func = self.data.func.bind(py);
        match catch_unwind(AssertUnwindSafe(|| call_getter(py, func, &key))) {
            Ok(r) => r,
            Err(payload) => Err(errors::panicked(py, payload)),
        }
    }

    /// Ends the load with the getter's result, as `get` takes it (bytes,
    /// str, None for `NoValue`), publishing it to every waiter; returns the
    /// value's bytes or raises the load's error.
    fn complete<'py>(&self, py: Python<'py>, result: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let r = getter_value(py, result);
        self.publish(py, r)
    }

    /// Ends the load with the getter's exception `exc` and raises it. An
    /// `Exception` (or a Rust panic, as `LoaderPanicked`) reaches every
    /// waiter; anything else (a `KeyboardInterrupt`, a `CancelledError`)
    /// abandons the load, and the waiters take the key over.
    fn fail(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        match getter_raised(py, PyErr::from_value(exc.clone())) {
            Ok(r) => self.publish(py, r).map(|_| ()),
            Err(e) => {
                let taken = self.take();
                drop(taken);
                Err(e)
            }
        }
    }

    /// Abandons the load: the waiters take the key over. Idempotent.
    fn abandon(&self) {
        let taken = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        drop(taken);
    }
}

/// A caller waiting for another caller's load (`Group.aget`).
#[pyclass(module = "edgecache._native", name = "_GroupWaiter", frozen)]
pub(crate) struct GroupWaiter {
    waiter: CoreWaiter,
}

#[pymethods]
impl GroupWaiter {
    /// Calls `callback(*args)` once the load has ended: at once if it has,
    /// else on the thread that ends it (attached to the interpreter); what
    /// it raises is ignored.
    #[pyo3(signature = (callback, *args))]
    fn on_ready(&self, callback: &Bound<'_, PyAny>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        let (callback, args) = aio::callback_args(callback, args)?;
        self.waiter.on_ready(aio::hook(callback, args));
        Ok(())
    }

    /// The value's bytes, or raises the load's error; None while the load
    /// is in flight or when its leader abandoned it (then `_rejoin`).
    fn try_result<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        match self.waiter.try_result() {
            None | Some(Err(Error::Abandoned)) => Ok(None),
            Some(Ok(v)) => Ok(Some(PyBytes::new(py, &v))),
            Some(Err(e)) => Err(errors::group(py, e)),
        }
    }
}
