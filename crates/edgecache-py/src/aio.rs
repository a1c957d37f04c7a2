//! The native half of the asyncio API.
//!
//! The coroutines themselves are Python, in `python/edgecache/_aio.py`:
//! `Group.aget`, `Flight.ado`, `Watcher.anext` and the rest are native
//! methods that check their arguments and return one of its coroutines. They
//! drive small primitives of this module: a load's ticket
//! (`Group._begin` gives bytes, a `_GroupLeader` or a `_GroupWaiter`), a
//! completion hook (`on_ready(callback, *args)`) and a non-blocking read
//! (`try_result`, `Watcher._try_next`).
//!
//! No thread waits for an asyncio task. A pending wait is a core
//! [hook](edgecache::hook) that, when the result is ready, attaches to the
//! interpreter on whatever thread made it ready and calls
//! `loop.call_soon_threadsafe(_wake, future)`; the task awaiting the future
//! then reads the result. A hook whose loop has closed fails quietly.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

/// The module with the coroutines.
const MODULE: &str = "edgecache._aio";

/// The coroutine functions the native methods call, looked up once.
pub(crate) struct Functions {
    pub(crate) group_load: Py<PyAny>,
    pub(crate) flight_ado: Py<PyAny>,
    pub(crate) watcher_next: Py<PyAny>,
    pub(crate) watcher_anext: Py<PyAny>,
    pub(crate) await_until_fresh: Py<PyAny>,
    pub(crate) alist: Py<PyAny>,
}

static FUNCTIONS: PyOnceLock<Functions> = PyOnceLock::new();

/// The functions of `edgecache._aio` (coroutine functions: calling one
/// gives the coroutine a native method returns). The module is imported on
/// first use, after `edgecache` itself has loaded.
pub(crate) fn functions(py: Python<'_>) -> PyResult<&'static Functions> {
    FUNCTIONS.get_or_try_init(py, || {
        let m = py.import(MODULE)?;
        let get = |name: &str| -> PyResult<Py<PyAny>> { Ok(m.getattr(name)?.unbind()) };
        Ok(Functions {
            group_load: get("group_load")?,
            flight_ado: get("flight_ado")?,
            watcher_next: get("watcher_next")?,
            watcher_anext: get("watcher_anext")?,
            await_until_fresh: get("await_until_fresh")?,
            alist: get("alist")?,
        })
    })
}

/// A core hook that calls `callback(*args)`: it attaches to the interpreter
/// on whatever thread runs it (the loader's, a writer's), and ignores what
/// the call raises (a closed event loop). If the interpreter is shutting
/// down it does nothing.
pub(crate) fn hook(callback: Py<PyAny>, args: Py<PyTuple>) -> impl FnOnce() + Send + 'static {
    move || {
        let _ = Python::try_attach(|py| {
            // The error, if any, is dropped here, not restored: a hook has
            // nobody to report to.
            let _ = callback.bind(py).call1(args.bind(py));
        });
    }
}

/// The callbacks waiting for a watcher to have something to read, behind at
/// most one pending core hook.
///
/// The core keeps a watcher's hooks until something happens (an event, a
/// close). An asyncio reader that gives up (`anext(timeout)` returning None,
/// a cancelled task) cannot take its hook back, so a reader polling an idle
/// watcher with a timeout would pile up one hook per poll. Instead the
/// readers' callbacks wait here, where a reader that gives up removes its
/// own ([`cancel`](Self::cancel)), and only one core hook, which runs them
/// all, is registered at a time (plus at most one per periodic bookmark: see
/// [`add`](Self::add)).
#[derive(Default)]
pub(crate) struct ReadyHooks {
    state: Mutex<ReadyState>,
}

#[derive(Default)]
struct ReadyState {
    /// A core hook is pending that will run `waiting`.
    armed: bool,
    next_id: u64,
    /// (id, callback, args), in the order they came.
    waiting: Vec<(u64, Py<PyAny>, Py<PyTuple>)>,
    /// When the next periodic bookmark is due, as the core said when the
    /// pending hook was registered.
    bookmark_at: Option<Instant>,
}

impl ReadyHooks {
    fn lock(&self) -> MutexGuard<'_, ReadyState> {
        // Nothing panics while the lock is held; go on if something did.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `callback(*args)` to run once the watcher has something to read;
    /// `register` hands a core hook to the watcher (`Watcher::on_ready`) and
    /// returns what it returns. Returns the callback's id (for
    /// [`cancel`](Self::cancel)) and how long until the next periodic
    /// bookmark is due, if one is scheduled: no hook runs for that, so the
    /// reader should look again after that long.
    ///
    /// A core hook is registered when none is pending, and again when the
    /// bookmark time the pending one reported has passed (the reader made
    /// that bookmark and the core scheduled the next): so the reader always
    /// gets a current bookmark time, at the cost of one extra pending hook
    /// per bookmark interval on a watcher that sees no event.
    pub(crate) fn add(
        self: &Arc<Self>,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        register: impl FnOnce(Box<dyn FnOnce() + Send>) -> Option<Duration>,
    ) -> (u64, Option<Duration>) {
        let now = Instant::now();
        let (id, arm, bookmark_at) = {
            let mut st = self.lock();
            let id = st.next_id;
            st.next_id += 1;
            st.waiting.push((id, callback, args));
            let stale = st.bookmark_at.is_some_and(|t| t <= now);
            let arm = !st.armed || stale;
            if arm {
                st.armed = true;
                st.bookmark_at = None;
            }
            (id, arm, st.bookmark_at)
        };
        if !arm {
            return (id, bookmark_at.map(|t| t.saturating_duration_since(now)));
        }
        let me = Arc::clone(self);
        // May run the hook at once, here: no lock of ours is held.
        let delay = register(Box::new(move || me.fire()));
        if let Some(d) = delay {
            self.lock().bookmark_at = now.checked_add(d);
        }
        (id, delay)
    }

    /// Removes the callback `id` if it has not run. Returns whether it was
    /// still waiting.
    pub(crate) fn cancel(&self, id: u64) -> bool {
        let removed = {
            let mut st = self.lock();
            st.waiting.iter().position(|w| w.0 == id).map(|pos| st.waiting.remove(pos))
        };
        // Dropped here, after the lock: a Python object's last reference may
        // run Python code.
        removed.is_some()
    }

    /// The core hook: runs every waiting callback.
    fn fire(&self) {
        let waiting = {
            let mut st = self.lock();
            st.armed = false;
            std::mem::take(&mut st.waiting)
        };
        if waiting.is_empty() {
            return;
        }
        let _ = Python::try_attach(|py| {
            for (_, callback, args) in waiting {
                let _ = callback.bind(py).call1(args.bind(py));
            }
        });
    }
}

/// The callback and arguments of an `on_ready(callback, *args)` call.
pub(crate) fn callback_args(
    callback: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
) -> PyResult<(Py<PyAny>, Py<PyTuple>)> {
    if !callback.is_callable() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "callback must be callable, not {}",
            crate::args::type_name(callback)
        )));
    }
    Ok((callback.clone().unbind(), args.clone().unbind()))
}

/// An awaitable whose result is already known: what `Group.aget` returns on
/// a hit (and `await_until_fresh` and `alist` when the cache is fresh),
/// instead of a coroutine that would cost a Python frame to answer at once.
/// Only for answers that lose nothing if never awaited (a watcher's event
/// would be lost: `Watcher.anext` always returns a coroutine).
///
/// It has the four methods of a coroutine (`__await__`, `send`, `throw`,
/// `close`), so `collections.abc.Coroutine` and `asyncio.iscoroutine`
/// accept it: `await` it, or hand it to `asyncio.create_task` or
/// `gather`, like the coroutine the method otherwise returns. Unlike a
/// coroutine it may be awaited again (with the same result), and dropping
/// it unawaited is not warned about.
#[pyclass(module = "edgecache._native", name = "_Ready", frozen)]
pub(crate) struct Ready {
    value: Py<PyAny>,
}

impl Ready {
    /// A `_Ready` with `value` as its result.
    pub(crate) fn with<'py>(value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = value.py();
        Ok(Bound::new(py, Ready { value: value.unbind() })?.into_any())
    }

    /// Ends the coroutine protocol's step with the result.
    fn done(&self, py: Python<'_>) -> PyErr {
        PyStopIteration::new_err((self.value.clone_ref(py),))
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<()> {
        Err(self.done(py))
    }

    /// As a coroutine's `send`: the result, as `StopIteration`.
    fn send(&self, py: Python<'_>, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(self.done(py))
    }

    /// As a coroutine's `throw`: the exception, raised at once (there is
    /// nothing to run).
    #[pyo3(signature = (typ, val = None, _tb = None))]
    fn throw(
        &self,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let exc = match val.filter(|v| !v.is_none()) {
            Some(v) if v.is_instance_of::<pyo3::exceptions::PyBaseException>() => v.clone(),
            Some(v) => typ.call1((v,))?,
            None if typ.is_instance_of::<pyo3::exceptions::PyBaseException>() => typ.clone(),
            None => typ.call0()?,
        };
        Err(PyErr::from_value(exc))
    }

    /// As a coroutine's `close`: nothing to do.
    fn close(&self) {}
}
