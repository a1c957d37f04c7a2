//! The Python binding of edgecache: the `edgecache._native` extension
//! module, re-exported by the `edgecache` package (`python/edgecache`).
//!
//! Each public class wraps one core type: `Flight`, `Cache`, `Group`,
//! `WatchCache` (with its `Watcher`, `Event`, `Item` and `ListPage`). The conventions,
//! once for every method:
//!
//! - **Arguments** are checked while attached to the interpreter, in
//!   `args`: a wrong type is a `TypeError`, a value out of range (a negative
//!   size, a TTL that is not positive) a `ValueError`, each naming the
//!   argument. Keys are `str` (as UTF-8) or `bytes`; stored values `bytes`.
//! - **Waiting** (a flight waiter, a group load in another thread, a
//!   freshness wait, a watcher's read) happens detached from the
//!   interpreter, in slices of at most 50 ms with `check_signals()` between
//!   them (`wait`), so other threads run and Ctrl-C interrupts the wait.
//!   Nothing inside a detached section touches a Python object.
//! - **Errors** are real exception classes (`errors`): `edgecache.Error` and
//!   its subclasses, never a bare `Exception`. A loader's or getter's own
//!   exception reaches every waiter as the same object; a Rust panic in one
//!   becomes `edgecache.LoaderPanicked`.
//! - **Threads**: every class is frozen (immutable from Python) and `Sync`;
//!   the module declares it does not need the GIL (`gil_used = false`).
//! - **asyncio** (`Group.aget`, `Flight.ado`, `Watcher.anext` and `async
//!   for`, `WatchCache.await_until_fresh` and `alist`): native methods that
//!   check their arguments and return a coroutine of
//!   `python/edgecache/_aio.py`, which parks the task on a future woken by
//!   a core completion hook (`aio`). No thread waits for a task.
//! - **Leaving is not failing**: a getter or loader that raises something
//!   that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`, a
//!   cancelled task's `CancelledError`) abandons its load: its caller gets
//!   that exception, and a waiting caller takes the key over and loads.
//!   A wait for a load that the waiting thread or task leads itself raises
//!   `RecursiveLoad` at once (`marks`, and the core's own marks).
//! - **Test hooks** (`_panic`) exist only with the cargo feature
//!   `test-hooks`, which `tests/python/run.sh` turns on; release wheels do
//!   not carry them.
//!
//! # Known limitation: daemon threads inside a loader at exit
//! On CPython 3.13 and older, a thread that takes the GIL back while the
//! interpreter is finalizing is ended with `pthread_exit`, whose forced
//! unwind aborts the process when it meets a Rust `catch_unwind` (CPython
//! issue 87135, fixed in 3.14). pyo3 hangs such threads instead at its own
//! re-attach points, so a daemon thread *waiting* in this module at exit is
//! harmless. But a daemon thread *running* a loader or getter (Python code
//! called from Rust) that releases the GIL (I/O, `sleep`) when the main
//! thread exits ends the process with "FATAL: exception not rethrown"
//! (SIGABRT). Non-daemon threads are joined before finalization and are not
//! affected.

mod aio;
mod args;
mod cache;
mod errors;
mod flight;
mod group;
mod marks;
mod wait;
mod watch;

use pyo3::prelude::*;
use pyo3::types::PyList;

/// Panics with `message`. A test hook (feature `test-hooks`): called from
/// Python it raises pyo3's `PanicException`, which is what a Rust-written
/// loader that panics looks like to this module (the tests check it becomes
/// `LoaderPanicked`).
#[cfg(feature = "test-hooks")]
#[pyfunction]
fn _panic(message: &str) {
    panic!("{message}");
}

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAIN_CACHE", group::MAIN_CACHE)?;
    m.add("HOT_CACHE", group::HOT_CACHE)?;
    errors::register(m)?;
    m.add_class::<aio::Ready>()?;
    m.add_class::<flight::Flight>()?;
    m.add_class::<flight::FlightLeader>()?;
    m.add_class::<flight::FlightWaiter>()?;
    m.add_class::<cache::Cache>()?;
    m.add_class::<cache::CacheStats>()?;
    m.add_class::<group::Group>()?;
    m.add_class::<group::GroupLeader>()?;
    m.add_class::<group::GroupWaiter>()?;
    m.add_class::<group::Stats>()?;
    m.add_function(wrap_pyfunction!(group::get_group, m)?)?;
    m.add_class::<watch::WatchCache>()?;
    m.add_class::<watch::Watcher>()?;
    m.add_class::<watch::Event>()?;
    m.add_class::<watch::Item>()?;
    m.add_class::<watch::ListPage>()?;
    #[cfg(feature = "test-hooks")]
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    // `add` lists every name in `__all__`; the private ones (the asyncio
    // tickets, the test hooks) are not part of the public surface.
    let all = m.index()?;
    let public = PyList::empty(m.py());
    for name in all.iter() {
        let keep = name.extract::<&str>().map_or(true, |n| n == "__version__" || !n.starts_with('_'));
        if keep {
            public.append(name)?;
        }
    }
    m.setattr("__all__", public)?;
    Ok(())
}
