//! Blocking without the GIL, and without deafness to Ctrl-C.
//!
//! Every wait in the module (a flight waiter, a freshness wait, a watcher's
//! read) goes through [`until`]: it detaches from the interpreter, blocks for
//! at most [`SLICE`], re-attaches and runs `check_signals()`, so other
//! Python threads run meanwhile and a `KeyboardInterrupt` (or any signal
//! handler's exception) ends the wait within a slice.

use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// The longest a wait stays detached before it checks for signals. Well
/// under the 100 ms the binding promises, so Ctrl-C is seen within about 50
/// ms even on a loaded machine.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// The deadline `timeout` from now; `None` (no deadline) for `None` or for a
/// timeout too large to represent.
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Calls `step(slice)` with the interpreter released until it returns
/// `Some`, or `deadline` passes (`Ok(None)`), or a signal handler raises
/// (`Err`). `step` must block for at most `slice` and must not touch Python
/// objects (the bound on `detach` enforces most of that).
pub(crate) fn until<T, F>(py: Python<'_>, deadline: Option<Instant>, mut step: F) -> PyResult<Option<T>>
where
    T: Send,
    F: FnMut(Duration) -> Option<T> + Send,
{
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        if let Some(out) = py.detach(|| step(slice)) {
            return Ok(Some(out));
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
    }
}
