//! Argument checking: every public method turns its Python arguments into
//! Rust values here, while attached, with a `TypeError` for a wrong type and
//! a `ValueError` for a value out of range, each naming the argument.

use std::time::Duration;

use edgecache::watch::{Selector, StrMap};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyMapping, PyString};

/// `type(obj).__name__`, for messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    match obj.get_type().name() {
        Ok(n) => n.to_string(),
        Err(_) => "object".to_owned(),
    }
}

fn type_error(what: &str, expected: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{what} must be {expected}, not {}", type_name(obj)))
}

/// A cache key: the bytes of a `bytes`, or the UTF-8 of a `str` (so `"a"`
/// and `b"a"` name the same entry). Borrowed, no copy.
#[inline]
pub(crate) fn key<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    // Type checks first (exact types are a pointer comparison): a failed
    // `cast` builds an error object, which would cost more than the lookup.
    if obj.is_exact_instance_of::<PyString>() || obj.is_instance_of::<PyString>() {
        // SAFETY: `obj` was just checked to be a `str` (or a subclass).
        let s = unsafe { obj.cast_unchecked::<PyString>() };
        return Ok(s.to_str()?.as_bytes());
    }
    if obj.is_exact_instance_of::<PyBytes>() || obj.is_instance_of::<PyBytes>() {
        // SAFETY: `obj` was just checked to be a `bytes` (or a subclass).
        let b = unsafe { obj.cast_unchecked::<PyBytes>() };
        return Ok(b.as_bytes());
    }
    Err(type_error("key", "str or bytes", obj))
}

/// A watch cache key: a `str`, or `bytes` holding UTF-8.
pub(crate) fn str_key(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return match std::str::from_utf8(b.as_bytes()) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(PyValueError::new_err(format!("key must be valid UTF-8: {e}"))),
        };
    }
    Err(type_error("key", "str or bytes", obj))
}

/// A value to store: `bytes` only (a `str` must be encoded by the caller,
/// since `get` hands back `bytes`).
pub(crate) fn value<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<&'a [u8]> {
    match obj.cast::<PyBytes>() {
        Ok(b) => Ok(b.as_bytes()),
        Err(_) if obj.is_instance_of::<PyString>() => {
            Err(PyTypeError::new_err(format!("{what} must be bytes, not str (encode it first)")))
        }
        Err(_) => Err(type_error(what, "bytes", obj)),
    }
}

/// An `int` (or an object with `__index__`), not a `bool`, in `[0, max]`.
fn bounded_int(obj: &Bound<'_, PyAny>, what: &str, max: u64) -> PyResult<u64> {
    if obj.is_instance_of::<PyBool>() {
        return Err(type_error(what, "an int", obj));
    }
    let too_large = || PyValueError::new_err(format!("{what} must be at most {max}"));
    let v = match obj.extract::<i64>() {
        Ok(v) if v < 0 => return Err(PyValueError::new_err(format!("{what} must not be negative, got {v}"))),
        Ok(v) => v.unsigned_abs(),
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => match obj.extract::<u64>() {
            Ok(v) => v,
            Err(_) if obj.lt(0).unwrap_or(false) => {
                return Err(PyValueError::new_err(format!("{what} must not be negative")));
            }
            Err(_) => return Err(too_large()),
        },
        Err(_) => return Err(type_error(what, "an int", obj)),
    };
    if v > max {
        return Err(too_large());
    }
    Ok(v)
}

/// A byte budget: an int in `[0, 2**63 - 1]`; 0 disables caching.
pub(crate) fn budget(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    bounded_int(obj, what, i64::MAX as u64).map(|v| v as i64)
}

/// A count (events, bytes of a window): an int `>= 0` that fits a `usize`.
pub(crate) fn count(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<usize> {
    bounded_int(obj, what, usize::MAX as u64).map(|v| v as usize)
}

/// A resourceVersion: an int in `[0, 2**64 - 1]`.
pub(crate) fn resource_version(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    bounded_int(obj, "resource_version", u64::MAX)
}

/// Seconds as a float (or int), not a bool and not NaN.
fn seconds(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<f64> {
    if obj.is_instance_of::<PyBool>() {
        return Err(type_error(what, "a number of seconds or None", obj));
    }
    let secs: f64 = obj.extract().map_err(|_| type_error(what, "a number of seconds or None", obj))?;
    if secs.is_nan() {
        return Err(PyValueError::new_err(format!("{what} must be a number of seconds, not NaN")));
    }
    Ok(secs)
}

/// A time to live: `None` (never expires) or seconds `> 0`. An infinite TTL
/// is the same as `None`.
pub(crate) fn ttl(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    let secs = seconds(obj, "ttl")?;
    if secs <= 0.0 {
        return Err(PyValueError::new_err(format!("ttl must be greater than 0 seconds, got {secs}")));
    }
    // Too large for a Duration (including infinity): never expires. Below a
    // nanosecond it rounds to zero, which the core rejects: the shortest
    // TTL there is, then.
    Ok(Duration::try_from_secs_f64(secs).ok().map(|d| d.max(Duration::from_nanos(1))))
}

/// A timeout: `None` (wait as long as it takes) or seconds `>= 0`. One too
/// large for a `Duration` (including infinity) is the same as `None`.
pub(crate) fn timeout(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Duration>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    let secs = seconds(obj, what)?;
    if secs < 0.0 {
        return Err(PyValueError::new_err(format!("{what} must not be negative, got {secs}")));
    }
    Ok(Duration::try_from_secs_f64(secs).ok())
}

/// A `dict[str, str]` (any mapping) of labels or fields; `None` is empty.
pub(crate) fn str_map(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<StrMap> {
    let mut out = StrMap::new();
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(out) };
    let mut put = |k: Bound<'_, PyAny>, v: Bound<'_, PyAny>| -> PyResult<()> {
        let (Ok(ks), Ok(vs)) = (k.cast::<PyString>(), v.cast::<PyString>()) else {
            return Err(PyTypeError::new_err(format!(
                "{what} must map str to str, found {}: {}",
                type_name(&k),
                type_name(&v)
            )));
        };
        out.insert(ks.to_str()?.to_owned(), vs.to_str()?.to_owned());
        Ok(())
    };
    if let Ok(d) = obj.cast::<PyDict>() {
        for (k, v) in d.iter() {
            put(k, v)?;
        }
    } else if let Ok(m) = obj.cast::<PyMapping>() {
        for kv in m.items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = kv.extract()?;
            put(k, v)?;
        }
    } else {
        return Err(type_error(what, "a dict of str to str or None", obj));
    }
    Ok(out)
}

/// Which syntax a selector string is read in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectorKind {
    /// `Selector::parse`: `=`, `==`, `!=`, `in`, `notin`, `key`, `!key`.
    Label,
    /// `Selector::parse_fields`: `=`, `==`, `!=`.
    Field,
}

/// A selector: `None` (everything), a `dict[str, str]` of equalities (any
/// mapping), or a `str` in Kubernetes syntax, parsed as `kind` says. A
/// string that does not parse raises `edgecache.InvalidSelector`.
pub(crate) fn selector(obj: Option<&Bound<'_, PyAny>>, what: &str, kind: SelectorKind) -> PyResult<Selector> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Selector::everything()) };
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_str()?;
        let parsed = match kind {
            SelectorKind::Label => Selector::parse(s),
            SelectorKind::Field => Selector::parse_fields(s),
        };
        return parsed.map_err(|e| crate::errors::watch(obj.py(), e));
    }
    if !(obj.is_instance_of::<PyDict>() || obj.cast::<PyMapping>().is_ok()) {
        return Err(type_error(what, "a str in Kubernetes selector syntax, a dict of str to str, or None", obj));
    }
    Ok(Selector::from(&str_map(Some(obj), what)?))
}

/// A period in seconds: a number `>= 0`, not NaN. Zero, and anything too
/// large for a `Duration` (including infinity), mean "never" and come back
/// as `Duration::ZERO`.
pub(crate) fn interval(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Duration> {
    let secs = seconds(obj, what)?;
    if secs < 0.0 {
        return Err(PyValueError::new_err(format!("{what} must not be negative, got {secs}")));
    }
    Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO))
}

/// A `str` or `None`.
pub(crate) fn opt_str(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<String>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    match obj.cast::<PyString>() {
        Ok(s) => Ok(Some(s.to_str()?.to_owned())),
        Err(_) => Err(type_error(what, "a str or None", obj)),
    }
}

/// An iterable of `str` (not a single `str` or `bytes`), such as the
/// `indexes` or `fields` of a `WatchCache`; `example` shows one element in
/// messages.
pub(crate) fn str_list(obj: &Bound<'_, PyAny>, what: &str, example: &str) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an iterable of str such as [\"{example}\"], not a single str"
        )));
    }
    let iter = obj.try_iter().map_err(|_| type_error(what, "an iterable of str", obj))?;
    let mut out = Vec::new();
    for item in iter {
        let item = item?;
        let Ok(s) = item.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "{what} must hold str such as \"{example}\", found {}",
                type_name(&item)
            )));
        };
        out.push(s.to_str()?.to_owned());
    }
    Ok(out)
}

/// A `timeout` argument: seconds `>= 0`, or `None` to wait as long as it
/// takes. As a parameter type it lets a method default to a number while
/// still accepting an explicit `None`.
#[derive(Clone, Copy)]
pub(crate) struct Wait(pub(crate) Option<Duration>);

impl Wait {
    /// No limit.
    pub(crate) const FOREVER: Wait = Wait(None);
    /// The watch cache's default freshness wait, 3 s (Kubernetes').
    pub(crate) const FRESH: Wait = Wait(Some(edgecache::watch::DEFAULT_FRESH_TIMEOUT));
}

impl<'a, 'py> FromPyObject<'a, 'py> for Wait {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        timeout(Some(&obj.to_owned()), "timeout").map(Wait)
    }
}
