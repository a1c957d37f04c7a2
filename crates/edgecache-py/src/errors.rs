//! The exception classes (`edgecache.Error` and its subclasses) and the
//! conversions from the core's errors to them.
//!
//! The classes are written in Python, in `python/edgecache/_errors.py`, so
//! that `Timeout` can derive from both `Error` and the built-in
//! `TimeoutError` (and `NoValue` from `TypeError`), which a type made from
//! Rust with one base cannot. This module imports them from there once and
//! adds them to `edgecache._native`. Their `__module__` is `edgecache`, the
//! name users import them from.

use std::fmt;
use std::sync::Arc;

use edgecache::watch::{CloseReason, WatchError};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyType};

/// The Python module that defines the classes.
const MODULE: &str = "edgecache._errors";

/// The classes, imported once per process.
pub(crate) struct Classes {
    pub(crate) error: Py<PyType>,
    pub(crate) resource_expired: Py<PyType>,
    pub(crate) too_large: Py<PyType>,
    pub(crate) timeout: Py<PyType>,
    pub(crate) loader_panicked: Py<PyType>,
    pub(crate) closed: Py<PyType>,
    pub(crate) invalid_selector: Py<PyType>,
    pub(crate) recursive_load: Py<PyType>,
    pub(crate) no_value: Py<PyType>,
    pub(crate) store_locked: Py<PyType>,
    pub(crate) store_corrupt: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

/// The exception classes, importing them on first use.
pub(crate) fn classes(py: Python<'_>) -> PyResult<&'static Classes> {
    CLASSES.get_or_try_init(py, || {
        let m = py.import(MODULE)?;
        let get = |name: &str| -> PyResult<Py<PyType>> { Ok(m.getattr(name)?.cast_into::<PyType>()?.unbind()) };
        Ok(Classes {
            error: get("Error")?,
            resource_expired: get("ResourceExpired")?,
            too_large: get("TooLargeResourceVersion")?,
            timeout: get("Timeout")?,
            loader_panicked: get("LoaderPanicked")?,
            closed: get("Closed")?,
            invalid_selector: get("InvalidSelector")?,
            recursive_load: get("RecursiveLoad")?,
            no_value: get("NoValue")?,
            store_locked: get("StoreLocked")?,
            store_corrupt: get("StoreCorrupt")?,
        })
    })
}

/// Adds the classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    for (name, cls) in [
        ("Error", &c.error),
        ("ResourceExpired", &c.resource_expired),
        ("TooLargeResourceVersion", &c.too_large),
        ("Timeout", &c.timeout),
        ("LoaderPanicked", &c.loader_panicked),
        ("Closed", &c.closed),
        ("InvalidSelector", &c.invalid_selector),
        ("RecursiveLoad", &c.recursive_load),
        ("NoValue", &c.no_value),
        ("StoreLocked", &c.store_locked),
        ("StoreCorrupt", &c.store_corrupt),
    ] {
        m.add(name, cls.clone_ref(py))?;
    }
    Ok(())
}

/// Which class an error built here belongs to.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Error,
    ResourceExpired,
    TooLarge,
    Timeout,
    LoaderPanicked,
    Closed,
    InvalidSelector,
    RecursiveLoad,
    NoValue,
}

/// An exception of `kind` with `message`, and `attrs` set on the instance.
/// If building it fails (out of memory), that failure is returned instead.
pub(crate) fn new(py: Python<'_>, kind: Kind, message: &str, attrs: &[(&str, Py<PyAny>)]) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let c = classes(py)?;
        let cls = match kind {
            Kind::Error => &c.error,
            Kind::ResourceExpired => &c.resource_expired,
            Kind::TooLarge => &c.too_large,
            Kind::Timeout => &c.timeout,
            Kind::LoaderPanicked => &c.loader_panicked,
            Kind::Closed => &c.closed,
            Kind::InvalidSelector => &c.invalid_selector,
            Kind::RecursiveLoad => &c.recursive_load,
            Kind::NoValue => &c.no_value,
        };
        let exc = cls.bind(py).call1((message,))?;
        for (name, value) in attrs {
            exc.setattr(*name, value.bind(py))?;
        }
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// `edgecache.RecursiveLoad` for a wait on a load that the caller's own
/// thread (or asyncio task) is running.
pub(crate) fn recursive_load(py: Python<'_>) -> PyErr {
    new(
        py,
        Kind::RecursiveLoad,
        "recursive load: the key is being loaded by this same thread's getter or loader, which would wait for itself",
        &[],
    )
}

/// `edgecache.Timeout` for a wait on a load in flight.
pub(crate) fn load_timeout(py: Python<'_>) -> PyErr {
    new(py, Kind::Timeout, "timed out waiting for the load in flight", &[])
}

/// A stable, short name for a close reason (`Closed.reason`).
fn reason_name(reason: &CloseReason) -> &'static str {
    match reason {
        CloseReason::FellBehind { .. } => "fell_behind",
        CloseReason::Relisted { .. } => "relisted",
        CloseReason::CacheClosed => "cache_closed",
        CloseReason::Stopped => "stopped",
        // CloseReason is non-exhaustive; a future reason is still a close.
        _ => "closed",
    }
}

/// `edgecache.Closed` with `reason`.
fn closed(py: Python<'_>, message: &str, reason: &str) -> PyErr {
    let reason = PyString::new(py, reason).into_any().unbind();
    new(py, Kind::Closed, message, &[("reason", reason)])
}

/// The Python exception for a watch cache error.
///
/// A 410 or 504 carries the core's numbers (`requested` and `oldest` or
/// `current`) and its `reason()`, `cause()` and `retry_after_seconds()` as
/// instance attributes, so the class defaults can never disagree with what
/// the core reports.
pub(crate) fn watch(py: Python<'_>, err: WatchError) -> PyErr {
    let msg = err.to_string();
    // The attributes every 410 and 504 carries.
    let status = |numbers: [(&'static str, u64); 2]| -> PyResult<Vec<(&'static str, Py<PyAny>)>> {
        let mut out = Vec::with_capacity(5);
        for (k, v) in numbers {
            out.push((k, v.into_pyobject(py)?.into_any().unbind()));
        }
        out.push(("reason", PyString::new(py, err.reason()).into_any().unbind()));
        out.push(("cause", err.cause().into_pyobject(py)?.into_any().unbind()));
        out.push(("retry_after_seconds", err.retry_after_seconds().into_pyobject(py)?.into_any().unbind()));
        Ok(out)
    };
    let built = match &err {
        WatchError::ResourceExpired { requested, oldest } => {
            status([("requested", *requested), ("oldest", *oldest)]).map(|a| new(py, Kind::ResourceExpired, &msg, &a))
        }
        WatchError::TooLargeResourceVersion { requested, current } => {
            status([("requested", *requested), ("current", *current)]).map(|a| new(py, Kind::TooLarge, &msg, &a))
        }
        WatchError::Closed { reason } => Ok(closed(py, &msg, reason_name(reason))),
        WatchError::InvalidArgument(m) => Ok(PyValueError::new_err(m.clone())),
        WatchError::InvalidSelector(_) => Ok(new(py, Kind::InvalidSelector, &msg, &[])),
        _ => Ok(new(py, Kind::Error, &msg, &[])),
    };
    built.unwrap_or_else(|e| e)
}

/// The Python exception for a group error. A getter's own exception comes
/// back as the very object it raised.
pub(crate) fn group(py: Python<'_>, err: edgecache::Error) -> PyErr {
    use edgecache::Error as E;
    match err {
        E::Getter(e) => match e.downcast_ref::<GetterException>() {
            Some(g) => g.0.clone_ref(py),
            None => new(py, Kind::Error, &format!("getter failed: {e}"), &[]),
        },
        E::LoaderPanicked(m) => new(py, Kind::LoaderPanicked, &format!("getter panicked: {m}"), &[]),
        E::Timeout => load_timeout(py),
        E::Closed => closed(py, "the group is closed", "group_closed"),
        E::RecursiveLoad => recursive_load(py),
        E::NoValue => new(py, Kind::NoValue, "the getter returned None: a getter must return bytes or str", &[]),
        E::InvalidArgument(m) => PyValueError::new_err(m),
        other => new(py, Kind::Error, &other.to_string(), &[]),
    }
}

/// What a loader or getter raised, ready to hand to every waiter: normalized
/// (so each gets the same exception object), and a Rust panic inside it
/// turned into `edgecache.LoaderPanicked` with the panic as its `__cause__`.
/// This catches the `PanicException` of other pyo3 modules (a Rust-written
/// loader from another extension); this module's own comes back from
/// Python as a Rust panic again and is caught by `catch_unwind` instead.
pub(crate) fn from_loader(py: Python<'_>, err: PyErr) -> PyErr {
    let value = err.value(py);
    let ty = value.get_type();
    let is_panic = ty.name().is_ok_and(|n| n.to_str().is_ok_and(|n| n == "PanicException"))
        && ty.module().is_ok_and(|m| m.to_str().is_ok_and(|m| m == "pyo3_runtime"));
    if !is_panic {
        return err;
    }
    let msg = match value.str() {
        Ok(s) => format!("loader panicked: {s}"),
        Err(_) => "loader panicked".to_owned(),
    };
    let out = new(py, Kind::LoaderPanicked, &msg, &[]);
    out.set_cause(py, Some(err));
    // Normalize now, once, so every waiter raises the same object.
    let _ = out.value(py);
    out
}

/// `edgecache.LoaderPanicked` for a panic caught while a loader ran,
/// normalized so every waiter raises the same object.
pub(crate) fn panicked(py: Python<'_>, payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = edgecache::flight::panic_message(payload);
    let out = new(py, Kind::LoaderPanicked, &format!("loader panicked: {msg}"), &[]);
    let _ = out.value(py);
    out
}

/// A getter's Python exception, carried through the core as its
/// [`GetterError`](edgecache::GetterError) and downcast back by [`group`].
pub(crate) struct GetterException(pub(crate) PyErr);

impl fmt::Debug for GetterException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GetterException")
    }
}

impl fmt::Display for GetterException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Formatting the exception would need the interpreter; the
        // binding never prints this (it re-raises the exception itself).
        f.write_str("the Python getter raised an exception")
    }
}

impl std::error::Error for GetterException {}

/// True when a loader's or getter's exception means its caller *leaves*
/// rather than fails: anything that is not an `Exception` (a
/// `KeyboardInterrupt`, a `SystemExit`, an asyncio `CancelledError`). Such a
/// load is abandoned, not published: the leader's caller gets its exception
/// and the waiters take the key over (the contract's "a leader that leaves
/// for its own reasons"). Call it after [`from_loader`], which turns another
/// module's `PanicException` (a `BaseException`) into `LoaderPanicked`.
pub(crate) fn leaves(py: Python<'_>, err: &PyErr) -> bool {
    !err.is_instance_of::<PyException>(py)
}

/// A getter's exception as the group publishes it to every waiter.
pub(crate) fn getter_failed(err: PyErr) -> edgecache::Error {
    edgecache::Error::Getter(Arc::new(GetterException(err)))
}
