//! `edgecache.Flight`: singleflight over Python callables, and the tickets
//! of its asyncio form (`Flight.ado`, in `edgecache._aio`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use edgecache::FlightError;
use edgecache::flight::{Flight as CoreFlight, Leader, Ticket, Waiter};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::marks::{self, Mark};
use crate::{aio, args, errors, wait};

/// What a load produced, shared by its caller and every waiter. The `Arc`s
/// make the result clonable without the interpreter (a `Py` is not `Clone`
/// without it); the Python objects are only touched while attached.
type Loaded = Arc<Py<PyAny>>;
/// The exception a load raised, normalized: every waiter raises this object.
type Raised = Arc<PyErr>;

type Key = Box<[u8]>;

/// An asyncio leader's ticket and the mark it holds until the call ends.
type Leading = (Leader<Key, Loaded, Raised>, Mark);

/// Identifies a flight for the binding's recursion marks ([`marks`]): never
/// reused, unlike an address.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Runs a function once for all the callers that ask for the same key at
/// the same time, and hands each of them its result (Go's singleflight).
///
/// Nothing is kept after the call: use `Cache` or `Group` for that.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct Flight {
    inner: CoreFlight<Key, Loaded, Raised>,
    id: usize,
}

#[pymethods]
impl Flight {
    #[new]
    fn new() -> Self {
        Flight { inner: CoreFlight::new(), id: NEXT_ID.fetch_add(1, Ordering::Relaxed) as usize }
    }

    /// Calls `fn()` unless a call for `key` is already running, in which
    /// case waits for that one. Returns `(value, shared)`, `shared` being
    /// true when more than one caller received this value.
    ///
    /// If `fn` raises an `Exception`, every caller of this round raises the
    /// same exception and the next call runs `fn` again. If it raises
    /// anything else (`KeyboardInterrupt`, `SystemExit`), only its caller
    /// gets that: the call is abandoned and a waiting caller runs its own
    /// `fn` instead. `fn` asking for its own key on the same thread raises
    /// `edgecache.RecursiveLoad`. `timeout` (seconds) bounds how long a
    /// caller waits for another's call (`edgecache.Timeout`); the caller
    /// running `fn` is not bounded. The wait releases the GIL and responds
    /// to Ctrl-C.
    #[pyo3(name = "do", signature = (key, r#fn, timeout = None))]
    fn do_(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        r#fn: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Py<PyAny>, bool)> {
        let key: Key = args::key(key)?.into();
        let timeout = args::timeout(timeout, "timeout")?;
        check_callable(r#fn)?;
        let deadline = wait::deadline(timeout);
        loop {
            match self.inner.begin(key.clone()) {
                Ticket::Leader(leader) => {
                    // pyo3 turns a `PanicException` coming back from Python
                    // into a Rust panic again, so a Rust-written loader's
                    // panic arrives here as an unwind.
                    let out = {
                        let _mark = Mark::new(self.id, &key);
                        catch_unwind(AssertUnwindSafe(|| r#fn.call0()))
                    };
                    let result = match out {
                        Ok(Ok(v)) => Ok(Arc::new(v.unbind())),
                        Ok(Err(e)) => {
                            let e = errors::from_loader(py, e);
                            if errors::leaves(py, &e) {
                                // Dropping the leader abandons the call: the
                                // waiters take the key over.
                                drop(leader);
                                return Err(e);
                            }
                            Err(Arc::new(e))
                        }
                        Err(payload) => Err(Arc::new(errors::panicked(py, payload))),
                    };
                    return finish(py, leader.complete(result));
                }
                Ticket::Waiter(waiter) => {
                    if marks::led_here(self.id, &key) {
                        return Err(errors::recursive_load(py));
                    }
                    match wait::until(py, deadline, |slice| waiter.wait_for(slice))? {
                        // The leader left: take the key again.
                        Some(Err(FlightError::Abandoned)) => continue,
                        Some(result) => return finish(py, result.map(|v| (v, true))),
                        None => return Err(errors::load_timeout(py)),
                    }
                }
            }
        }
    }

    /// `await flight.ado(key, fn)`: as `do`, for asyncio. The caller that
    /// leads calls `fn()` and awaits what it returns (a coroutine function's
    /// coroutine; a plain value is taken as is); every task and thread
    /// asking for `key` meanwhile gets its result. A waiting task that is
    /// cancelled leaves the load alone; a leading task that is cancelled (or
    /// interrupted) abandons it, and a waiter leads instead, with its own
    /// `fn`. Returns `(value, shared)`. No thread waits for the result.
    fn ado<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        r#fn: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        args::key(key)?;
        check_callable(r#fn)?;
        let py = slf.py();
        aio::functions(py)?.flight_ado.bind(py).call1((slf, key, r#fn))
    }

    /// Starts a call without blocking, for `edgecache._aio`: a `_FlightLeader`
    /// (this caller runs the load) or a `_FlightWaiter`.
    fn _begin(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let key: Key = args::key(key)?.into();
        match self.inner.begin(key.clone()) {
            Ticket::Leader(leader) => {
                let mark = Mark::new(self.id, &key);
                Ok(Py::new(py, FlightLeader { state: Mutex::new(Some((leader, mark))) })?.into_any())
            }
            Ticket::Waiter(waiter) => Ok(Py::new(py, FlightWaiter { waiter })?.into_any()),
        }
    }

    /// The flight's identity for the asyncio recursion check.
    #[getter]
    fn _ident(&self) -> usize {
        self.id
    }

    /// Detaches `key` from its call in progress: later callers start a new
    /// one (callers already waiting still get the old one's result).
    /// Returns whether a call was in progress.
    fn forget(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key: Key = args::key(key)?.into();
        Ok(self.inner.forget(&key))
    }

    fn __repr__(&self) -> String {
        format!("<edgecache.Flight in_flight={}>", self.inner.in_flight())
    }
}

fn check_callable(f: &Bound<'_, PyAny>) -> PyResult<()> {
    if f.is_callable() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!("fn must be callable, not {}", args::type_name(f))))
    }
}

/// The caller's share of a load.
fn finish(py: Python<'_>, result: Result<(Loaded, bool), FlightError<Raised>>) -> PyResult<(Py<PyAny>, bool)> {
    match result {
        Ok((v, shared)) => Ok((v.clone_ref(py), shared)),
        Err(FlightError::Failed(e)) => Err(e.clone_ref(py)),
        Err(FlightError::LoaderPanicked(m)) => {
            Err(errors::new(py, errors::Kind::LoaderPanicked, &format!("loader panicked: {m}"), &[]))
        }
        Err(FlightError::Timeout) => Err(errors::load_timeout(py)),
        Err(FlightError::RecursiveLoad) => Err(errors::recursive_load(py)),
        Err(e) => Err(errors::new(py, errors::Kind::Error, &e.to_string(), &[])),
    }
}

/// The leading caller of an asyncio call (`Flight.ado`): it runs the load
/// and must end it with `complete`, `fail` or `abandon` (dropping it
/// abandons). While it lives, a blocking `Flight.do` of its key on its
/// thread (the event loop's) raises `RecursiveLoad` instead of blocking the
/// loop that the load needs.
#[pyclass(module = "edgecache._native", name = "_FlightLeader", frozen)]
pub(crate) struct FlightLeader {
    state: Mutex<Option<Leading>>,
}

impl FlightLeader {
    fn take(&self) -> PyResult<Leading> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this load has already ended"))
    }
}

#[pymethods]
impl FlightLeader {
    /// Publishes `value` to every waiter; returns `(value, shared)`.
    fn complete(&self, py: Python<'_>, value: Py<PyAny>) -> PyResult<(Py<PyAny>, bool)> {
        let (leader, _mark) = self.take()?;
        finish(py, leader.complete(Ok(Arc::new(value))))
    }

    /// Ends the load with `exc` and raises it. An `Exception` (or a Rust
    /// panic, as `LoaderPanicked`) reaches every waiter; anything else (a
    /// `KeyboardInterrupt`, a `CancelledError`) abandons the load instead,
    /// and the waiters take the key over.
    fn fail(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) -> PyResult<()> {
        let (leader, _mark) = self.take()?;
        let e = errors::from_loader(py, PyErr::from_value(exc.clone()));
        if errors::leaves(py, &e) {
            drop(leader);
            return Err(e);
        }
        finish(py, leader.complete(Err(Arc::new(e)))).map(|_| ())
    }

    /// Abandons the load: the waiters take the key over. Idempotent.
    fn abandon(&self) {
        let taken = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        drop(taken);
    }
}

/// A caller waiting for another caller's call (`Flight.ado`).
#[pyclass(module = "edgecache._native", name = "_FlightWaiter", frozen)]
pub(crate) struct FlightWaiter {
    waiter: Waiter<Loaded, Raised>,
}

#[pymethods]
impl FlightWaiter {
    /// Calls `callback(*args)` once the call has ended: at once if it has,
    /// else on the thread that ends it (attached to the interpreter); what
    /// it raises is ignored.
    #[pyo3(signature = (callback, *args))]
    fn on_ready(&self, callback: &Bound<'_, PyAny>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        let (callback, args) = aio::callback_args(callback, args)?;
        self.waiter.on_ready(aio::hook(callback, args));
        Ok(())
    }

    /// `(value, True)`, or raises the call's error; None while the call is
    /// in flight or when its leader abandoned it (then begin again).
    fn try_result(&self, py: Python<'_>) -> PyResult<Option<(Py<PyAny>, bool)>> {
        match self.waiter.try_result() {
            None | Some(Err(FlightError::Abandoned)) => Ok(None),
            Some(r) => finish(py, r.map(|v| (v, true))).map(Some),
        }
    }
}
