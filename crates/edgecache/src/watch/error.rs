//! [`WatchError`], the one error type of the watch cache, and
//! [`CloseReason`], why a watcher stopped.

use std::fmt;

/// Why a [`Watcher`](super::Watcher) stopped delivering events.
///
/// A watcher that closes for a reason on the cache's side (every variant but
/// [`Stopped`](CloseReason::Stopped)) first delivers every event it still
/// holds, in order; only the read after the last of them fails with
/// [`WatchError::Closed`]. So a client never misses an event silently: it
/// either sees it or learns that the stream ended, and at which
/// resourceVersion (the last one it received) to resume.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The watcher's buffer of `buffer` live events filled up because it
    /// read more slowly than the cache was written. Resume with a new watch
    /// from the last resourceVersion received; if that has left the window
    /// the new watch fails with [`WatchError::ResourceExpired`] and the
    /// client must list again.
    FellBehind {
        /// The watcher's buffer size, in events.
        buffer: usize,
    },
    /// [`WatchCache::replace`](super::WatchCache::replace) relisted the cache
    /// at `resource_version`; events between the old state and the new one
    /// are unknown, so every watcher ends. List again and watch from the
    /// list's resourceVersion.
    Relisted {
        /// The resourceVersion of the relist.
        resource_version: u64,
    },
    /// [`WatchCache::close`](super::WatchCache::close) was called or the
    /// cache was dropped.
    CacheClosed,
    /// The watcher's owner called [`Watcher::close`](super::Watcher::close)
    /// (or dropped it). Events it still held were discarded.
    Stopped,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::FellBehind { buffer } => write!(
                f,
                "the watcher fell behind: its buffer of {buffer} events is full; \
                 watch again from the last resourceVersion received"
            ),
            CloseReason::Relisted { resource_version } => write!(
                f,
                "the cache was relisted at resourceVersion {resource_version}; \
                 list again and watch from there"
            ),
            CloseReason::CacheClosed => f.write_str("the watch cache was closed"),
            CloseReason::Stopped => f.write_str("the watcher was closed by its owner"),
        }
    }
}

/// Everything that can go wrong in the watch cache.
///
/// Cheap to clone. [`code`](WatchError::code) gives the HTTP status
/// Kubernetes would answer with, [`retry_after_seconds`](WatchError::retry_after_seconds)
/// its `Retry-After` hint. A failed call never changes the cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchError {
    /// The requested resourceVersion is older than the window reaches back:
    /// events after it have already been dropped (or a relist happened after
    /// it). The client must list again. HTTP 410 Gone.
    ResourceExpired {
        /// The resourceVersion the caller asked for.
        requested: u64,
        /// The smallest resourceVersion the cache still accepts at this
        /// moment: a request with `rv >= oldest` succeeds. (This is the
        /// number Kubernetes prints in parentheses, one less than the oldest
        /// event it can deliver.)
        oldest: u64,
    },
    /// The cache has not yet seen the requested resourceVersion, and did not
    /// within the wait's timeout. HTTP 504, retry after 1 second.
    TooLargeResourceVersion {
        /// The resourceVersion the caller asked for.
        requested: u64,
        /// The cache's resourceVersion when the wait gave up.
        current: u64,
    },
    /// The watcher or the cache is closed; the reason says which and why.
    /// HTTP 503.
    Closed {
        /// Why it closed.
        reason: CloseReason,
    },
    /// The caller passed something the cache cannot accept: a
    /// resourceVersion that does not move forward, an empty key, a capacity
    /// of zero, a malformed index name, a continue token that is not one.
    /// Nothing was changed. HTTP 400.
    InvalidArgument(String),
    /// A label or field selector that cannot be parsed, or a field selector
    /// on a field the cache does not extract (the apiserver's "field label
    /// not supported"). The message names the offending part. HTTP 400.
    InvalidSelector(String),
}

impl WatchError {
    /// The HTTP status Kubernetes answers with for this error: 410 for
    /// [`ResourceExpired`](WatchError::ResourceExpired), 504 for
    /// [`TooLargeResourceVersion`](WatchError::TooLargeResourceVersion), 503
    /// for [`Closed`](WatchError::Closed), 400 for
    /// [`InvalidArgument`](WatchError::InvalidArgument) and
    /// [`InvalidSelector`](WatchError::InvalidSelector).
    pub fn code(&self) -> u16 {
        match self {
            WatchError::ResourceExpired { .. } => 410,
            WatchError::TooLargeResourceVersion { .. } => 504,
            WatchError::Closed { .. } => 503,
            WatchError::InvalidArgument(_) | WatchError::InvalidSelector(_) => 400,
        }
    }

    /// The apiserver's `Status.reason` for this error: `"Expired"` (410),
    /// `"Timeout"` (504), `"ServiceUnavailable"` (503), `"BadRequest"` (400).
    pub fn reason(&self) -> &'static str {
        match self {
            WatchError::ResourceExpired { .. } => "Expired",
            WatchError::TooLargeResourceVersion { .. } => "Timeout",
            WatchError::Closed { .. } => "ServiceUnavailable",
            WatchError::InvalidArgument(_) | WatchError::InvalidSelector(_) => "BadRequest",
        }
    }

    /// The apiserver's `Status.details.causes[0].type`, where it sets one:
    /// `"ResourceVersionTooLarge"` for
    /// [`TooLargeResourceVersion`](WatchError::TooLargeResourceVersion),
    /// the cause client-go's `IsTooLargeResourceVersion` looks for.
    pub fn cause(&self) -> Option<&'static str> {
        match self {
            WatchError::TooLargeResourceVersion { .. } => Some("ResourceVersionTooLarge"),
            _ => None,
        }
    }

    /// How many seconds a client should wait before retrying, when the error
    /// suggests a retry: `Some(1)` for
    /// [`TooLargeResourceVersion`](WatchError::TooLargeResourceVersion) (as
    /// Kubernetes), `None` otherwise.
    pub fn retry_after_seconds(&self) -> Option<u32> {
        match self {
            WatchError::TooLargeResourceVersion { .. } => Some(1),
            _ => None,
        }
    }

    /// The close reason, if this is [`Closed`](WatchError::Closed).
    pub fn close_reason(&self) -> Option<&CloseReason> {
        match self {
            WatchError::Closed { reason } => Some(reason),
            _ => None,
        }
    }

    pub(crate) fn closed(reason: CloseReason) -> Self {
        WatchError::Closed { reason }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        WatchError::InvalidArgument(msg.into())
    }

    pub(crate) fn invalid_selector(msg: impl Into<String>) -> Self {
        WatchError::InvalidSelector(msg.into())
    }
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::ResourceExpired { requested, oldest } => {
                write!(f, "too old resource version: {requested} ({oldest})")
            }
            WatchError::TooLargeResourceVersion { requested, current } => {
                // The apiserver's words; client-go matches them when a
                // Status lacks its cause.
                write!(f, "Too large resource version: {requested}, current: {current}")
            }
            WatchError::Closed { reason } => write!(f, "closed: {reason}"),
            WatchError::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            WatchError::InvalidSelector(msg) => write!(f, "invalid selector: {msg}"),
        }
    }
}

impl std::error::Error for WatchError {}
