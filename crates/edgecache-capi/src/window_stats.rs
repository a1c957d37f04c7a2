//! `edgecache_window_stats`: a watch cache's window and state, for metrics
//! (`edgecache_watch_cache_window_stats`).

use edgecache::watch::WindowStats;

use crate::boundary::ffi_boundary;
use crate::handle::{tri, try_ref};
use crate::status::{edgecache_status, fail};
use crate::watch::edgecache_watch_cache;

/// A watch cache's window and state at one moment. Filled by
/// `edgecache_watch_cache_window_stats`; a plain value that owns nothing.
/// Later versions only append fields: pass `sizeof` the struct as your
/// header declares it, and the library writes no more than that (and, to
/// a struct larger than it knows, only the fields it knows: zero the
/// struct first to tell them from the rest).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(non_camel_case_types, reason = "C naming: the header shows this name")]
pub struct edgecache_window_stats {
    /// Events in the window.
    pub events: u64,
    /// Their counted bytes (key + object + previous object of each).
    pub bytes: u64,
    /// The window's current size in events (it grows and shrinks between
    /// the two bounds below).
    pub capacity: u64,
    /// The configured smallest size in events.
    pub min_capacity: u64,
    /// The configured largest size in events.
    pub max_capacity: u64,
    /// The configured byte bound; 0: none.
    pub max_bytes: u64,
    /// The cache's resourceVersion.
    pub resource_version: u64,
    /// The smallest resourceVersion a watch or `events_since` accepts now.
    pub oldest_accepted: u64,
    /// The resourceVersion of the oldest event in the window; 0: none.
    pub oldest_buffered: u64,
    /// The resourceVersion of the last replace (relist); 0: none yet.
    pub list_resource_version: u64,
    /// Objects in the current state.
    pub items: u64,
    /// Open watchers.
    pub watchers: u64,
}

/// The struct's size in its first version: the smallest `out_size`
/// accepted, forever (later versions only append fields).
const WINDOW_STATS_V1_SIZE: usize = 96;

fn u(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl From<WindowStats> for edgecache_window_stats {
    fn from(s: WindowStats) -> Self {
        edgecache_window_stats {
            events: u(s.events),
            bytes: u(s.bytes),
            capacity: u(s.capacity),
            min_capacity: u(s.min_capacity),
            max_capacity: u(s.max_capacity),
            max_bytes: s.max_bytes.map_or(0, u),
            resource_version: s.resource_version,
            oldest_accepted: s.oldest_accepted,
            oldest_buffered: s.oldest_buffered.unwrap_or(0),
            list_resource_version: s.list_resource_version.unwrap_or(0),
            items: u(s.items),
            watchers: u(s.watchers),
        }
    }
}

/// Writes the cache's window and state to `*out`: the first
/// `min(out_size, sizeof(edgecache_window_stats))` bytes, so a program
/// built against an older header (a smaller struct) gets the fields it
/// knows. `out_size` below this first version's size is
/// `EDGECACHE_INVALID_ARGUMENT`; NULL `wc` or `out` is
/// `EDGECACHE_NULL_ARGUMENT`. Works on a closed cache (its last state).
///
/// Thread-safe; takes the cache's lock briefly.
///
/// # Safety
/// `wc` is live; `out` is NULL or writable for `out_size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgecache_watch_cache_window_stats(
    wc: *const edgecache_watch_cache,
    out: *mut edgecache_window_stats,
    out_size: usize,
) -> edgecache_status {
    ffi_boundary! {
        // SAFETY: the caller's promise, checked for NULL.
        let c = unsafe { tri!(try_ref(wc)) };
        if out.is_null() {
            return fail(edgecache_status::EDGECACHE_NULL_ARGUMENT, "out is NULL".to_owned());
        }
        let first = WINDOW_STATS_V1_SIZE;
        if out_size < first {
            return fail(
                edgecache_status::EDGECACHE_INVALID_ARGUMENT,
                format!("out_size {out_size} is below sizeof(edgecache_window_stats) {first}"),
            );
        }
        let stats = edgecache_window_stats::from(c.window_stats());
        // Every field is a first-version field today, so the whole struct is
        // written. When a version appends fields it must write
        // `min(out_size, size_of)` bytes instead (an older caller's struct is
        // smaller) and keep WINDOW_STATS_V1_SIZE as it is.
        const { assert!(WINDOW_STATS_V1_SIZE == size_of::<edgecache_window_stats>()) };
        // SAFETY: `out` is writable for `out_size >= first` bytes by the
        // caller's promise, and we write exactly `first`.
        unsafe { out.write_unaligned(stats) };
        edgecache_status::EDGECACHE_OK
    }
}
