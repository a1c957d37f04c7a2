//! `edgecache_ready_fn`: the completion hooks of the C ABI.

use std::ffi::c_void;

use crate::status::{edgecache_status, fail};

/// A completion hook: called once with its `user_data` when what it waits
/// for is ready (a ticket's load ended, a watcher has something to read, a
/// watch cache reached a resourceVersion).
///
/// Rules, the same for every `..._on_ready` function:
/// - It runs exactly once: at once, on the registering thread and before
///   the registering call returns, if the thing is ready already; otherwise
///   later on the thread that makes it ready (a getter's, a writer's, a
///   closer's), after every lock of the library is dropped.
/// - It may call edgecache functions, but not on the ticket or watcher it was
///   registered on (it may run inside a call on that object, including its
///   `_free`), and it delays that thread: keep it short (signal a condition
///   variable, write to an eventfd, close a channel) and read the result
///   from the waiting side.
/// - It is never dropped unrun, except by an explicit cancel that says so
///   (`edgecache_watch_cache_cancel_fresh`): freeing a ticket or a watcher
///   does not stop a hook already registered (a freed watcher closes, which
///   runs it). So `user_data` must stay valid until the hook has run.
/// - It must not unwind (no C++ exception, no longjmp out of it).
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub type edgecache_ready_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A C hook with its data, callable from any thread.
pub(crate) struct ReadyHook {
    f: unsafe extern "C" fn(*mut c_void),
    user_data: *mut c_void,
}

// SAFETY: every `..._on_ready` function documents that the hook may run on
// any thread with its `user_data`; the library never dereferences it.
unsafe impl Send for ReadyHook {}

impl ReadyHook {
    /// The hook for `f`, or `EDGECACHE_NULL_ARGUMENT` when it is NULL.
    pub(crate) fn new(f: edgecache_ready_fn, user_data: *mut c_void) -> Result<ReadyHook, edgecache_status> {
        match f {
            Some(f) => Ok(ReadyHook { f, user_data }),
            None => Err(fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, "the ready function is NULL")),
        }
    }

    /// The hook as a core closure.
    pub(crate) fn into_fn(self) -> impl FnOnce() + Send + 'static {
        move || {
            let h = self;
            // SAFETY: the registrant promised `f(user_data)` may be called
            // once, from any thread, until it has run.
            unsafe { (h.f)(h.user_data) }
        }
    }
}
