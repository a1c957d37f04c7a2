//! `edgecache_group`: groupcache's group behind a C getter.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use edgecache::{CacheType, GetterError, Group, GroupOptions, Stats, Value};

use crate::boundary::ffi_boundary;
use crate::bytes::{edgecache_bytes, slice};
use crate::cache::{budget, edgecache_cache_stats, ttl};
use crate::error::{CError, ErrorInfo, Hooks, edgecache_error, edgecache_release_code_fn, edgecache_release_fn};
use crate::handle::{check_out, into_raw, opaque, take, tri, try_ref, write_out};
use crate::status::{copy_message, edgecache_status, fail};

/// A timeout that never runs out.
pub const EDGECACHE_WAIT_FOREVER: u64 = u64::MAX;

/// Loads the value for a key into `sink`.
///
/// Called on a miss by the one thread that leads the load for `key` (any
/// thread that called `edgecache_group_get`), with no lock held; it may call
/// back into edgecache. `key` is valid only during the call. Return 0 after
/// `edgecache_sink_set_bytes`; on failure call `edgecache_sink_set_error`
/// and return nonzero (a nonzero return without an error set is reported
/// with that number as the code). It must not unwind (no C++ exceptions,
/// no longjmp out of it).
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub type edgecache_getter_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, key: *const u8, key_len: usize, sink: *mut edgecache_sink) -> i32,
>;

/// Where a getter puts its result.
pub(crate) struct Sink {
    value: Option<Value>,
    /// Built when set, so that a second `edgecache_sink_set_error` drops
    /// (and so releases) the first one's code.
    error: Option<CError>,
    /// The group's hooks, which release an error's code.
    hooks: Arc<Hooks>,
    /// The `call_data` of the get that runs this load.
    call_data: *mut c_void,
}

thread_local! {
    /// The `call_data` of the innermost `edgecache_group_get*` call running
    /// on this thread. A load runs on the thread of the get that leads it,
    /// so the getter finds its caller's data here.
    static CALL_DATA: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
}

/// Sets this thread's call data for the life of the guard, restoring the
/// outer call's on drop (a getter may call another group's get).
pub(crate) struct CallData(*mut c_void);

impl CallData {
    pub(crate) fn enter(data: *mut c_void) -> CallData {
        CallData(CALL_DATA.with(|c| c.replace(data)))
    }
}

impl Drop for CallData {
    fn drop(&mut self) {
        CALL_DATA.with(|c| c.set(self.0));
    }
}

/// Asks the caller whether to stop waiting: called with the get's
/// `call_data` about every `EDGECACHE_POLL_INTERVAL_MS` while it waits for a
/// load another caller runs; return true to give up (`EDGECACHE_CANCELLED`;
/// the load goes on for the others). It runs on the waiting thread, with no
/// lock held, and must not unwind.
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub type edgecache_poll_fn = Option<unsafe extern "C" fn(call_data: *mut c_void) -> bool>;

/// How often, in milliseconds, `edgecache_group_get_with` calls its poll
/// function while waiting.
pub const EDGECACHE_POLL_INTERVAL_MS: u64 = 20;

/// The destination of a getter's result; valid only during the getter
/// call it was passed to, on that thread.
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_sink {
    _private: [u8; 0],
}

opaque!(edgecache_sink => Sink);

/// Sets the loaded value (copied). A second call replaces the first; a
/// value and an error both set count as the error.
///
/// # Safety
/// `sink` is the sink passed to the running getter; `data` is `(NULL, 0)` or
/// valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_sink_set_bytes(
    sink: *mut edgecache_sink,
    data: *const u8,
    len: usize,
) -> edgecache_status {
    ffi_boundary! {
        tri!(check_out(sink, "sink"));
        // SAFETY: the caller's promise, checked for NULL.
        let data = unsafe { tri!(slice(data, len, "data")) };
        // SAFETY: non-NULL and, by the caller's promise, the live sink of
        // this getter call, used by this thread only.
        let s = unsafe { &mut *sink.cast::<Sink>() };
        s.value = Some(Value::from(data));
        edgecache_status::EDGECACHE_OK
    }
}

/// Reports a failure: `code` (any number the caller wants back, e.g. a
/// handle to its own error object) and a message (`(NULL, 0)` for none; not
/// NUL-terminated, copied; read as UTF-8, invalid sequences become U+FFFD).
/// Every caller waiting on this load receives them through
/// `edgecache_error`. The group's `release_error` hook gets this code once
/// no caller holds the error any more. The getter must still return
/// nonzero. A second call replaces the first error, whose code is released
/// at once.
///
/// # Safety
/// As `edgecache_sink_set_bytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_sink_set_error(
    sink: *mut edgecache_sink,
    code: u64,
    msg: *const u8,
    msg_len: usize,
) -> edgecache_status {
    ffi_boundary! {
        tri!(check_out(sink, "sink"));
        // SAFETY: the caller's promise, checked for NULL.
        let msg = unsafe { tri!(slice(msg, msg_len, "msg")) };
        // SAFETY: as in `edgecache_sink_set_bytes`.
        let s = unsafe { &mut *sink.cast::<Sink>() };
        let e = CError { code, message: String::from_utf8_lossy(msg).into_owned(), hooks: Some(Arc::clone(&s.hooks)) };
        // The replaced error, if any, releases its code as it drops.
        s.error = Some(e);
        edgecache_status::EDGECACHE_OK
    }
}

/// The `call_data` that the get leading this load passed to
/// `edgecache_group_get_with` (NULL for the other gets): per-request context
/// for the getter, such as a Go context handle. NULL for a NULL sink.
///
/// # Safety
/// `sink` is NULL or the sink passed to the running getter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_sink_call_data(sink: *const edgecache_sink) -> *mut c_void {
    ffi_boundary! {
        if sink.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: non-NULL and, by the caller's promise, the live sink of
        // this getter call.
        unsafe { &*sink.cast::<Sink>() }.call_data
    }
}

/// The getter's context: the function and the creator's hooks. Kept as the
/// group's binding data too, so any handle finds them
/// (`edgecache_group_getter_data`, the ticket functions).
#[derive(Clone)]
pub(crate) struct CGetter {
    pub(crate) f: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut edgecache_sink) -> i32,
    pub(crate) hooks: Arc<Hooks>,
}

impl edgecache::Getter for CGetter {
    fn get(&self, key: &[u8]) -> Result<Value, GetterError> {
        let call_data = CALL_DATA.with(Cell::get);
        // SAFETY: `call_data` is what this thread's get passed; it only
        // travels back to the getter.
        unsafe { self.call(key, call_data) }
    }
}

impl CGetter {
    /// Runs the C getter for `key` with `call_data` in its sink.
    ///
    /// # Safety
    /// `call_data` is whatever the caller of the get passed (never
    /// dereferenced here).
    pub(crate) unsafe fn call(&self, key: &[u8], call_data: *mut c_void) -> Result<Value, GetterError> {
        let mut sink = Sink { value: None, error: None, hooks: Arc::clone(&self.hooks), call_data };
        let sink_ptr = (&raw mut sink).cast::<edgecache_sink>();
        // SAFETY: the creator promised `f` is callable with `user_data` from
        // any thread; `key` and `sink` outlive the call.
        let rc = unsafe { (self.f)(self.hooks.user_data, key.as_ptr(), key.len(), sink_ptr) };
        // Only a code the getter set itself is released through its hook;
        // the errors made up here carry code 0 and no hook.
        let made_up = |message: String| -> GetterError { Arc::new(CError { code: 0, message, hooks: None }) };
        match (rc, sink.value, sink.error) {
            (0, Some(v), None) => Ok(v),
            (_, _, Some(e)) => Err(Arc::new(e)),
            (0, None, None) => Err(Arc::new(edgecache::NoValue)),
            (rc, _, None) => Err(made_up(format!("the getter returned {rc} without setting an error"))),
        }
    }
}

/// A named, loader-backed cache (groupcache's `Group`): main and hot
/// caches under one byte budget, loads deduplicated per key.
///
/// Each handle is owned by its receiver and released with
/// `edgecache_group_free`; the group itself lives while it is
/// registered or any handle exists. All functions taking a group are
/// thread-safe.
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_group {
    _private: [u8; 0],
}

opaque!(edgecache_group => Group);

/// Counters of a group (groupcache's `Stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_group_stats {
    /// Every get.
    pub gets: u64,
    /// Gets answered from cache.
    pub cache_hits: u64,
    /// Values fetched from a peer.
    pub peer_loads: u64,
    /// Failed peer fetches.
    pub peer_errors: u64,
    /// Gets that missed and joined or started a load.
    pub loads: u64,
    /// Loads that ran after deduplication.
    pub loads_deduped: u64,
    /// Successful getter calls.
    pub local_loads: u64,
    /// Failed getter calls.
    pub local_load_errs: u64,
    /// Gets on behalf of peers.
    pub server_requests: u64,
}

impl From<Stats> for edgecache_group_stats {
    fn from(s: Stats) -> Self {
        edgecache_group_stats {
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

fn utf8_name(name: &[u8]) -> Result<&str, edgecache_status> {
    std::str::from_utf8(name)
        .map_err(|_| fail(edgecache_status::EDGECACHE_INVALID_ARGUMENT, "the group name is not valid UTF-8"))
}

/// Creates and registers a group and writes a handle to `*out`.
///
/// - `name`: UTF-8, `name_len` bytes (not NUL-terminated); a taken name is
///   `EDGECACHE_DUPLICATE_GROUP` (nothing is created; `release` is not
///   called then).
/// - `cache_bytes`: budget of main + hot; 0 disables caching, negative is
///   `EDGECACHE_INVALID_ARGUMENT`.
/// - `ttl_ms`: lifetime of loaded entries, 0 for none.
/// - `getter` (required) and `user_data`: see `edgecache_getter_fn`.
/// - `release` (may be NULL): called once with `user_data` when the group
///   is gone (closed and every handle freed).
/// - `release_error` (may be NULL): called with `user_data` and a code set by
///   `edgecache_sink_set_error` once no caller holds that error any more
///   (only for such codes, and always before `release`).
///
/// The getter and both release functions may run on any thread.
///
/// # Safety
/// `name` is valid for `name_len` bytes; `out` is writable; the functions
/// are valid to call with `user_data` from any thread until `release` runs.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "mirrors the C signature")]
pub unsafe extern "C" fn edgecache_group_new(
    name: *const u8,
    name_len: usize,
    cache_bytes: i64,
    ttl_ms: u64,
    getter: edgecache_getter_fn,
    user_data: *mut c_void,
    release: edgecache_release_fn,
    release_error: edgecache_release_code_fn,
    out: *mut *mut edgecache_group,
) -> edgecache_status {
    ffi_boundary! {
        tri!(check_out(out, "out"));
        // SAFETY: the caller's promise, checked for NULL.
        let name = tri!(utf8_name(unsafe { tri!(slice(name, name_len, "name")) }));
        let cache_bytes = tri!(budget(cache_bytes));
        let Some(f) = getter else {
            return fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, "getter is NULL");
        };
        let hooks =
            Arc::new(Hooks { user_data, release_data: release, release_code: release_error, armed: false.into() });
        let getter = CGetter { f, hooks: Arc::clone(&hooks) };
        let opts = GroupOptions::default().ttl(ttl(ttl_ms)).binding_data(Arc::new(getter.clone()));
        match Group::with_options(name, cache_bytes, getter, opts) {
            Ok(g) => {
                hooks.armed.store(true, std::sync::atomic::Ordering::Release);
                drop(hooks);
                // SAFETY: checked non-NULL; writable by the caller's promise.
                unsafe { write_out(out, into_raw::<edgecache_group>(g)) };
                edgecache_status::EDGECACHE_OK
            }
            Err(e) => {
                let (status, info) = ErrorInfo::from_core(&e);
                fail(status, info.message)
            }
        }
    }
}

/// Writes a load result: the value to `*out` on success; on failure the
/// detail to `*out_err` when `out_err` is not NULL, and to the thread's last
/// error.
///
/// # Safety
/// `out` is writable; `out_err` is NULL or writable.
pub(crate) unsafe fn deliver(
    r: Result<Value, edgecache::Error>,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
) -> edgecache_status {
    match r {
        Ok(v) => {
            // SAFETY: the caller's promise.
            unsafe { write_out(out, edgecache_bytes::from_value(v)) };
            edgecache_status::EDGECACHE_OK
        }
        Err(e) => {
            let (status, info) = ErrorInfo::from_core(&e);
            crate::status::set_last_error(info.message.clone());
            if !out_err.is_null() {
                // SAFETY: non-NULL, writable by the caller's promise.
                unsafe { write_out(out_err, into_raw::<edgecache_error>(info)) };
            }
            status
        }
    }
}

/// Gets the value for `key`: from cache, else loaded once for every caller
/// that asks at the same time (the getter runs on one of their threads).
///
/// On success writes the value to `*out` (caller frees it with
/// `edgecache_bytes_free`). A failed load returns `EDGECACHE_GETTER_FAILED`,
/// `EDGECACHE_LOADER_PANICKED`, `EDGECACHE_ABANDONED`, `EDGECACHE_TIMEOUT`
/// or `EDGECACHE_CLOSED` and, exactly then and only when `out_err` is not
/// NULL, writes an `edgecache_error` the caller frees with
/// `edgecache_error_free`; every caller that shared the load gets the same
/// code and message. Argument errors (`EDGECACHE_NULL_ARGUMENT`, ...)
/// leave `*out_err` untouched.
///
/// `timeout_ms` bounds only the wait for a load another caller runs
/// (`EDGECACHE_TIMEOUT`; the load goes on); `EDGECACHE_WAIT_FOREVER` waits as
/// long as it takes. A caller that runs the load runs it to the end.
///
/// # Safety
/// `group` is a live handle; `key` is `(NULL, 0)` or valid for `key_len`
/// bytes; `out` is writable; `out_err` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_get(
    group: *const edgecache_group,
    key: *const u8,
    key_len: usize,
    timeout_ms: u64,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
) -> edgecache_status {
    // SAFETY: the caller's promises, forwarded; no poll function.
    unsafe { edgecache_group_get_with(group, key, key_len, timeout_ms, None, std::ptr::null_mut(), out, out_err) }
}

/// Like `edgecache_group_get`, for callers with a request context (Go's
/// `context.Context`):
///
/// - `call_data` reaches the getter through `edgecache_sink_call_data`
///   when this call leads the load;
/// - `poll` (may be NULL) is called with `call_data` about every
///   `EDGECACHE_POLL_INTERVAL_MS` while this call waits for a load another
///   caller runs; when it returns true the call stops with
///   `EDGECACHE_CANCELLED` (and an `edgecache_error` as for a timeout) and
///   the load goes on for the others.
///
/// `timeout_ms`, results and errors as `edgecache_group_get`.
///
/// # Safety
/// As `edgecache_group_get`; `poll`, if not NULL, is callable with
/// `call_data` during the call.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "mirrors the C signature")]
pub unsafe extern "C" fn edgecache_group_get_with(
    group: *const edgecache_group,
    key: *const u8,
    key_len: usize,
    timeout_ms: u64,
    poll: edgecache_poll_fn,
    call_data: *mut c_void,
    out: *mut edgecache_bytes,
    out_err: *mut *mut edgecache_error,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (g, key) = unsafe { (tri!(try_ref(group)), tri!(slice(key, key_len, "key"))) };
        tri!(check_out(out, "out"));
        let _call = CallData::enter(call_data);
        let deadline = crate::wait::deadline(timeout_ms);
        // Wake to poll only when there is a poll function; otherwise sleep
        // until the load ends or the deadline.
        let slice = match poll {
            Some(_) => Duration::from_millis(EDGECACHE_POLL_INTERVAL_MS),
            None => crate::wait::SLICE,
        };
        let r = g.get_waiting(key, |w| {
            let stop = || {
                let Some(p) = poll else { return Ok(()) };
                // SAFETY: the caller's promise: `poll` is callable with
                // `call_data` during this call.
                if unsafe { p(call_data) } { Err(edgecache_status::EDGECACHE_CANCELLED) } else { Ok(()) }
            };
            match crate::wait::wait(deadline, slice, |step| w.wait_for(step).map(drop), stop) {
                crate::wait::Waited::Got(()) => Ok(()),
                crate::wait::Waited::TimedOut => Err(edgecache_status::EDGECACHE_TIMEOUT),
                crate::wait::Waited::Stopped(s) => Err(s),
            }
        });
        let r = match r {
            Ok(r) => r,
            Err(edgecache_status::EDGECACHE_CANCELLED) => {
                let message = "gave up waiting for a load in flight: the poll function asked to stop";
                crate::status::set_last_error(message.to_owned());
                if !out_err.is_null() {
                    let info = ErrorInfo {
                        status: edgecache_status::EDGECACHE_CANCELLED,
                        code: 0,
                        message: message.to_owned(),
                        _source: None,
                    };
                    // SAFETY: non-NULL, writable by the caller's promise.
                    unsafe { write_out(out_err, into_raw::<edgecache_error>(info)) };
                }
                return edgecache_status::EDGECACHE_CANCELLED;
            }
            Err(_) => Err(edgecache::Error::Timeout),
        };
        // SAFETY: `out` checked; `out_err` NULL or writable by promise.
        unsafe { deliver(r, out, out_err) }
    }
}

/// Answers `key` from the cache only: `EDGECACHE_OK` with the value in
/// `*out` on a hit (counted as a get and a hit), `EDGECACHE_NOT_FOUND` on a
/// miss (counted as nothing, and no load starts) or when the group is
/// closed. A binding calls it first so that a hit costs one call, and builds
/// a load's context only on a miss.
///
/// # Safety
/// `group` is a live handle; `key` as in `edgecache_group_get`; `out` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_get_cached(
    group: *const edgecache_group,
    key: *const u8,
    key_len: usize,
    out: *mut edgecache_bytes,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (g, key) = unsafe { (tri!(try_ref(group)), tri!(slice(key, key_len, "key"))) };
        tri!(check_out(out, "out"));
        match g.get_cached(key) {
            Some(v) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out, edgecache_bytes::from_value(v)) };
                edgecache_status::EDGECACHE_OK
            }
            None => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

/// Whether the group was made by `edgecache_group_new` with this `getter`;
/// if so, writes its `user_data` to `*out_user_data` and returns
/// `EDGECACHE_OK`, else `EDGECACHE_NOT_FOUND` (a group made with another
/// getter, or from another language). A binding uses it to find its own
/// context for a group it got from `edgecache_group_lookup`.
///
/// # Safety
/// `group` is a live handle; `out_user_data` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_getter_data(
    group: *const edgecache_group,
    getter: edgecache_getter_fn,
    out_user_data: *mut *mut c_void,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let g = unsafe { tri!(try_ref(group)) };
        tri!(check_out(out_user_data, "out_user_data"));
        match (c_getter(g), getter) {
            (Some(c), Some(f)) if std::ptr::fn_addr_eq(c.f, f) => {
                // SAFETY: checked; writable by promise.
                unsafe { write_out(out_user_data, c.hooks.user_data) };
                edgecache_status::EDGECACHE_OK
            }
            _ => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

/// The C getter of a group made by `edgecache_group_new`.
pub(crate) fn c_getter(g: &Group) -> Option<&CGetter> {
    g.binding_data()?.downcast_ref::<CGetter>()
}

/// Finds the registered group named `name` (UTF-8, `name_len` bytes) and
/// writes a new handle to `*out` (free it with `edgecache_group_free`);
/// `EDGECACHE_NOT_FOUND` when there is none.
///
/// # Safety
/// `name` is valid for `name_len` bytes; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_lookup(
    name: *const u8,
    name_len: usize,
    out: *mut *mut edgecache_group,
) -> edgecache_status {
    ffi_boundary! {
        tri!(check_out(out, "out"));
        // SAFETY: the caller's promise, checked for NULL.
        let name = tri!(utf8_name(unsafe { tri!(slice(name, name_len, "name")) }));
        match edgecache::get_group(name) {
            Some(g) => {
                // SAFETY: checked non-NULL; writable by promise.
                unsafe { write_out(out, into_raw::<edgecache_group>(g)) };
                edgecache_status::EDGECACHE_OK
            }
            None => edgecache_status::EDGECACHE_NOT_FOUND,
        }
    }
}

/// Removes `key` from the main and hot caches and detaches any load in
/// flight for it; `*out_removed` (may be NULL) tells whether an entry went.
///
/// # Safety
/// `group` is a live handle; `key` as in `edgecache_group_get`;
/// `out_removed` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_remove(
    group: *const edgecache_group,
    key: *const u8,
    key_len: usize,
    out_removed: *mut bool,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promises, checked for NULL by the helpers.
        let (g, key) = unsafe { (tri!(try_ref(group)), tri!(slice(key, key_len, "key"))) };
        let removed = g.remove(key);
        if !out_removed.is_null() {
            // SAFETY: non-NULL, writable by promise.
            unsafe { write_out(out_removed, removed) };
        }
        edgecache_status::EDGECACHE_OK
    }
}

/// Writes the group's counters to `*out`.
///
/// # Safety
/// `group` is a live handle; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_get_stats(
    group: *const edgecache_group,
    out: *mut edgecache_group_stats,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let g = unsafe { tri!(try_ref(group)) };
        tri!(check_out(out, "out"));
        // SAFETY: checked; writable by promise.
        unsafe { write_out(out, g.stats().into()) };
        edgecache_status::EDGECACHE_OK
    }
}

/// Writes the counters of the main (`EDGECACHE_MAIN_CACHE`) or hot
/// (`EDGECACHE_HOT_CACHE`) cache to `*out`; any other `which` is
/// `EDGECACHE_INVALID_ARGUMENT`.
///
/// # Safety
/// `group` is a live handle; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_get_cache_stats(
    group: *const edgecache_group,
    which: u32,
    out: *mut edgecache_cache_stats,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let g = unsafe { tri!(try_ref(group)) };
        tri!(check_out(out, "out"));
        use crate::enums::edgecache_cache_type as T;
        let which = match T::from_u32(which) {
            Some(T::EDGECACHE_MAIN_CACHE) => CacheType::Main,
            Some(T::EDGECACHE_HOT_CACHE) => CacheType::Hot,
            None => {
                let other = which;
                return fail(edgecache_status::EDGECACHE_INVALID_ARGUMENT, format!("unknown cache type {other}"));
            }
        };
        // SAFETY: checked; writable by promise.
        unsafe { write_out(out, g.cache_stats(which).into()) };
        edgecache_status::EDGECACHE_OK
    }
}

/// Copies the group's name (NUL-terminated) into `buf`; buffer rules as
/// `edgecache_status_message`.
///
/// # Safety
/// `group` is a live handle; `buf` NULL or valid for `cap` bytes; `out_len`
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_name(
    group: *const edgecache_group,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let g = unsafe { tri!(try_ref(group)) };
        // SAFETY: forwarded promises.
        unsafe { copy_message(g.name(), buf, cap, out_len) }
    }
}

/// Closes the group: unregisters its name and drops what it caches; later
/// gets on any handle return `EDGECACHE_CLOSED`. Callers waiting on a load
/// still get its result. Idempotent and thread-safe; the handle stays valid
/// until `edgecache_group_free`.
///
/// # Safety
/// `group` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_close(group: *const edgecache_group) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        unsafe { tri!(try_ref(group)) }.close();
        edgecache_status::EDGECACHE_OK
    }
}

/// Releases a handle. NULL is a no-op. This does not close the group: a
/// registered group lives on (as in groupcache) and `edgecache_group_lookup`
/// finds it; close it first to end it.
///
/// # Safety
/// `group` is NULL or a live handle no other thread is using; it must not be
/// used or freed again (must not be called twice).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_group_free(group: *mut edgecache_group) {
    ffi_boundary! {
        // SAFETY: the caller's promise.
        drop(unsafe { take(group) });
    }
}
