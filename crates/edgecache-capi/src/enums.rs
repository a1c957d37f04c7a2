//! The C ABI's small value sets as real C enums, and the watcher's close
//! reason. The header declares each as `enum NAME` (with a fixed
//! `uint32_t` base in C23 and C++, where the typedef `NAME` is the enum;
//! before C23 the typedef is `uint32_t`), so a program can cast a value to
//! `enum NAME` and `switch` on it with the compiler checking the cases.
//!
//! Functions still take and return these as `uint32_t`: a value that came
//! from C is checked before it becomes one of these types (an out-of-range
//! enum is undefined behaviour in Rust), and an unknown one is
//! `EDGECACHE_INVALID_ARGUMENT`.

/// Which of a group's two caches (`edgecache_group_get_cache_stats`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub enum edgecache_cache_type {
    /// The keys this process owns and loaded itself.
    EDGECACHE_MAIN_CACHE = 1,
    /// Popular keys owned by peers.
    EDGECACHE_HOT_CACHE = 2,
}

/// An event's type, as `edgecache_event_type` returns it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub enum edgecache_event_kind {
    /// An object was added (or, for a watch from 0, already existed).
    EDGECACHE_EVENT_ADDED = 1,
    /// An object changed.
    EDGECACHE_EVENT_MODIFIED = 2,
    /// An object was deleted.
    EDGECACHE_EVENT_DELETED = 3,
    /// A bookmark: only the resourceVersion is meaningful.
    EDGECACHE_EVENT_BOOKMARK = 4,
}

/// `resource_version_match` of a list request.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub enum edgecache_rv_match {
    /// Not set (the zero value): NotOlderThan. (The apiserver reads a
    /// `limit` at a non-zero resourceVersion with no match as Exact; a
    /// server in front of the cache applies that rule of its HTTP
    /// parameters by passing `EDGECACHE_MATCH_EXACT`.)
    EDGECACHE_MATCH_UNSET = 0,
    /// The state at the resourceVersion or any later one (the cache's
    /// current state once it has seen it).
    EDGECACHE_MATCH_NOT_OLDER_THAN = 1,
    /// The state exactly at the resourceVersion, which must still be in the
    /// window (else `EDGECACHE_RESOURCE_EXPIRED`).
    EDGECACHE_MATCH_EXACT = 2,
}

/// `which` of `edgecache_item_attr` and `edgecache_item_attr_at`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub enum edgecache_attr {
    /// The labels.
    EDGECACHE_ATTR_LABEL = 0,
    /// The fields.
    EDGECACHE_ATTR_FIELD = 1,
}

/// Why a watcher closed (`edgecache_watcher_close_info`), so a client can
/// tell "resume from your last resourceVersion" from "list again".
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub enum edgecache_close_reason {
    /// The watcher is open.
    EDGECACHE_CLOSE_NONE = 0,
    /// It read too slowly and its buffer filled: watch again from the last
    /// resourceVersion received (a 410 then means list again).
    EDGECACHE_CLOSE_FELL_BEHIND = 1,
    /// The cache was relisted: list again (at `resource_version` or later).
    EDGECACHE_CLOSE_RELISTED = 2,
    /// The cache was closed.
    EDGECACHE_CLOSE_CACHE_CLOSED = 3,
    /// Its owner stopped it.
    EDGECACHE_CLOSE_STOPPED = 4,
}

impl edgecache_cache_type {
    /// The value for `v`, if it names one.
    pub(crate) fn from_u32(v: u32) -> Option<Self> {
        [Self::EDGECACHE_MAIN_CACHE, Self::EDGECACHE_HOT_CACHE].into_iter().find(|x| *x as u32 == v)
    }
}

impl edgecache_rv_match {
    /// The value for `v`, if it names one.
    pub(crate) fn from_u32(v: u32) -> Option<Self> {
        [Self::EDGECACHE_MATCH_UNSET, Self::EDGECACHE_MATCH_NOT_OLDER_THAN, Self::EDGECACHE_MATCH_EXACT]
            .into_iter()
            .find(|x| *x as u32 == v)
    }
}

impl edgecache_attr {
    /// The value for `v`, if it names one.
    pub(crate) fn from_u32(v: u32) -> Option<Self> {
        [Self::EDGECACHE_ATTR_LABEL, Self::EDGECACHE_ATTR_FIELD].into_iter().find(|x| *x as u32 == v)
    }
}
