//! `edgecache.Flight`: singleflight over Python callables.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use edgecache::FlightError;
use edgecache::flight::{Flight as CoreFlight, Ticket};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::{args, errors, wait};

/// What a load produced, shared by its caller and every waiter. The `Arc`s
/// make the result clonable without the interpreter (a `Py` is not `Clone`
/// without it); the Python objects are only touched while attached.
type Loaded = Arc<Py<PyAny>>;
/// The exception a load raised, normalized: every waiter raises this object.
type Raised = Arc<PyErr>;

/// Runs a function once for all the callers that ask for the same key at
/// the same time, and hands each of them its result (Go's singleflight).
///
/// Nothing is kept after the call: use `Cache` or `Group` for that.
#[pyclass(module = "edgecache", frozen)]
pub(crate) struct Flight {
    inner: CoreFlight<Box<[u8]>, Loaded, Raised>,
}

#[pymethods]
impl Flight {
    #[new]
    fn new() -> Self {
        Flight { inner: CoreFlight::new() }
    }

    /// Calls `fn()` unless a call for `key` is already running, in which
    /// case waits for that one. Returns `(value, shared)`, `shared` being
    /// true when more than one caller received this value.
    ///
    /// If `fn` raises, every caller of this round raises the same exception
    /// and the next call runs `fn` again. `timeout` (seconds) bounds how long
    /// a caller waits for another's call (`edgecache.Timeout`); the caller
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
        let key: Box<[u8]> = args::key(key)?.into();
        let timeout = args::timeout(timeout, "timeout")?;
        if !r#fn.is_callable() {
            return Err(PyTypeError::new_err(format!("fn must be callable, not {}", args::type_name(r#fn))));
        }
        match self.inner.begin(key) {
            Ticket::Leader(leader) => {
                // pyo3 turns a `PanicException` coming back from Python into
                // a Rust panic again, so a Rust-written loader's panic
                // arrives here as an unwind.
                let result = match catch_unwind(AssertUnwindSafe(|| r#fn.call0())) {
                    Ok(Ok(v)) => Ok(Arc::new(v.unbind())),
                    Ok(Err(e)) => Err(Arc::new(errors::from_loader(py, e))),
                    Err(payload) => Err(Arc::new(errors::panicked(py, payload))),
                };
                finish(py, leader.complete(result))
            }
            Ticket::Waiter(waiter) => {
                let out = wait::until(py, wait::deadline(timeout), |slice| waiter.wait_for(slice))?;
                match out {
                    Some(result) => finish(py, result.map(|v| (v, true))),
                    None => Err(errors::load_timeout(py)),
                }
            }
        }
    }

    /// Detaches `key` from its call in progress: later callers start a new
    /// one (callers already waiting still get the old one's result).
    /// Returns whether a call was in progress.
    fn forget(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key: Box<[u8]> = args::key(key)?.into();
        Ok(self.inner.forget(&key))
    }

    fn __repr__(&self) -> String {
        format!("<edgecache.Flight in_flight={}>", self.inner.in_flight())
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
        Err(e) => Err(errors::new(py, errors::Kind::Error, &e.to_string(), &[])),
    }
}
