//! Ports of the Kubernetes apiserver cacher's own tests
//! (`staging/src/k8s.io/apiserver/pkg/storage/cacher/*_test.go` and the
//! shared suites in `storage/testing/*`) to the [`WatchCache`].
//!
//! Each test names the upstream test it ports. Mapping conventions:
//! - Kubernetes keys `/pods/<ns>/<name>` are keys `<ns>/<name>`; a watch or
//!   list on the prefix `/pods/<ns>/` is a field selector
//!   `metadata.namespace=<ns>`; a single-key watch adds `metadata.name`.
//! - `resourceVersion=""` (a consistent read) is resolved by the caller, who
//!   asks the upstream for its current resourceVersion and passes it; the
//!   tests keep that "upstream" resourceVersion by hand. `"0"` is `0`.
//! - A list with a `limit` at a non-zero resourceVersion and no
//!   `resourceVersionMatch` is Exact at the apiserver (a rule of its HTTP
//!   parameters): the caller passes [`ResourceVersionMatch::Exact`].
//! - An in-stream `ERROR` event of Kubernetes (a 410 or 504 after the watch
//!   was accepted) is the `Err` that [`WatchCache::watch`] returns.
//! - Periodic bookmarks use real, short intervals (tens of milliseconds)
//!   instead of Kubernetes' 1 s dispatcher tick and 1 min frequency.
//!
//! Not ported (cannot apply to this cache):
//! - `TestConsistentReadFallback` fallback rows, `TestGetListCacheBypass`'s
//!   "delegated" answers and `TestGetListNonRecursiveCacheBypass`'s storage
//!   errors: delegation to etcd (the cache-side outcome is ported).
//! - `TestListInconsistentContinuation` and the compaction rows of
//!   `RunTestList`: etcd compaction.
//! - The WatchList feature-gate validation rows: no feature gates.
//! - `RunTestList` rows with `resourceVersion: "abc"`, `"-1"` and
//!   `resourceVersionMatch: "Invalid"`: unrepresentable (the resourceVersion
//!   is a `u64`, the match an enum), so the type system rejects them.
//! - `remainingItemCount` (RunTestList, L2): [`ListPage`] has no such field.
//! - `RequestWatchProgress` counters (`TestWaitUntilWatchCacheFreshAndForceAllEvents`):
//!   the cache has no upstream to ask for progress.
//! - `TestCacheWatcherDrainingNoBookmarkAfterResourceVersionReceived`: the
//!   end-of-initial-events bookmark is always part of the backlog here, so a
//!   watcher cannot be waiting for it.
//! - `TestTimeBucketWatchersBasic`'s `deadline - 2s` rule: watches have no
//!   deadline here (the per-watcher period part is ported).
//! - `RunWatchSemantics` rows with `resourceVersion: "0"` and an explicit
//!   `sendInitialEvents=false` (start at the current resourceVersion, no
//!   state): [`WatchOptions::send_initial_events`] is a `bool`, and `0`
//!   with `false` keeps the legacy meaning (the state as ADDED events). A
//!   caller asks for Kubernetes' meaning by watching from
//!   [`WatchCache::resource_version`], which the `Rv::Current` rows cover.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edgecache::watch::{
    CloseReason, Event, EventType, ListPage, ListRequest, ManualClock, Object, ResourceVersionMatch, Selector,
    WatchCache, WatchError, WatchOptions, Watcher,
};

/// An upper bound for an event that must arrive; only a bug waits this long.
const WAIT: Duration = Duration::from_secs(2);
/// How long a watcher must stay silent to count as "no more events".
const QUIET: Duration = Duration::from_millis(50);
/// A freshness timeout for waits that are meant to fail.
const SHORT: Duration = Duration::from_millis(50);

const FIELDS: [&str; 3] = ["metadata.name", "metadata.namespace", "spec.nodeName"];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn cache() -> WatchCache {
    WatchCache::builder().fields(FIELDS).build().unwrap()
}

/// A pod `ns/name` whose body is `ns/name:tag`.
fn pod(ns: &str, name: &str, tag: &str) -> Object {
    Object::new(format!("{ns}/{name}"), format!("{ns}/{name}:{tag}").into_bytes())
        .field("metadata.namespace", ns)
        .field("metadata.name", name)
}

fn everything() -> Selector {
    Selector::everything()
}

fn fields(s: &str) -> Selector {
    Selector::parse_fields(s).unwrap()
}

fn ns(n: &str) -> Selector {
    fields(&format!("metadata.namespace={n}"))
}

/// An event as one comparable line: `BOOKMARK@rv` (`*` marks the end of
/// initial events) or `TYPE@event_rv key item@item_rv body`.
fn show(e: &Event) -> String {
    match e.event_type() {
        EventType::Bookmark => {
            assert!(e.key().is_empty() && e.object().is_empty() && e.prev_object().is_none(), "{e:?}");
            format!("BOOKMARK@{}{}", e.resource_version(), if e.initial_events_end() { "*" } else { "" })
        }
        t => {
            assert!(!e.initial_events_end(), "only bookmarks end initial events: {e:?}");
            format!(
                "{t}@{} {} item@{} {}",
                e.resource_version(),
                e.key(),
                e.item().resource_version(),
                String::from_utf8_lossy(e.object())
            )
        }
    }
}

/// The next `n` events, each within [`WAIT`].
fn take(w: &Watcher, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match w.next_timeout(WAIT) {
            Ok(Some(e)) => show(&e),
            other => panic!("event {i} of {n}: expected an event, got {other:?}"),
        })
        .collect()
}

/// Asserts that nothing arrives within [`QUIET`].
fn assert_quiet(w: &Watcher) {
    match w.next_timeout(QUIET) {
        Ok(None) => {}
        other => panic!("expected no event, got {:?}", other.map(|o| o.map(|e| show(&e)))),
    }
}

/// Asserts that nothing but bookmarks arrives within [`QUIET`].
fn assert_quiet_of_objects(w: &Watcher) {
    let until = Instant::now() + QUIET;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if let Some(e) = w.next_timeout(left).unwrap() {
            assert_eq!(e.event_type(), EventType::Bookmark, "unexpected {}", show(&e));
        }
    }
}

/// Everything that arrives until [`QUIET`] passes without an event.
fn drain_quiet(w: &Watcher) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        match w.next_timeout(QUIET) {
            Ok(Some(e)) => out.push(show(&e)),
            Ok(None) => return out,
            Err(e) => panic!("watcher closed after {out:?}: {e:?}"),
        }
        assert!(out.len() < 100_000, "watcher never went quiet");
    }
}

fn opts(bookmarks: bool, send_initial_events: bool) -> WatchOptions {
    WatchOptions::new().bookmarks(bookmarks).send_initial_events(send_initial_events)
}

/// `key@item_rv` of each item of a page.
fn items(page: &ListPage) -> Vec<String> {
    page.items.iter().map(|i| format!("{}@{}", i.key(), i.resource_version())).collect()
}

fn list(c: &WatchCache, req: ListRequest) -> ListPage {
    c.list_page(&req).unwrap_or_else(|e| panic!("{req:?}: {e:?}"))
}

/// A continue token exactly as the apiserver writes it
/// (`storage.EncodeContinue`): base64url without padding of
/// `{"v":"meta.k8s.io/v1","rv":R,"start":"<key>"}`.
fn k8s_token(rv: i64, start: &str) -> String {
    let start = serde_json::to_string(start).unwrap();
    URL_SAFE_NO_PAD.encode(format!(r#"{{"v":"meta.k8s.io/v1","rv":{rv},"start":{start}}}"#))
}

/// A token's JSON.
fn decode_token(t: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(t).expect("token is unpadded base64url")).expect("token is JSON")
}

fn token_rv(page: &ListPage) -> u64 {
    let t = page.continue_token.as_deref().expect("a continue token");
    decode_token(t)["rv"].as_u64().expect("rv")
}

fn too_large(requested: u64, current: u64) -> WatchError {
    WatchError::TooLargeResourceVersion { requested, current }
}

fn expired(requested: u64, oldest: u64) -> WatchError {
    WatchError::ResourceExpired { requested, oldest }
}

/// `seedMultiLevelData` (store_tests.go): initialRV 1, then
/// `first/bar`@2, `second/bar`@3, `second/foo`@4, `third/barfoo`@5,
/// `third/foo`@6, `second/baz`@7 (createdPods), `first/bar` updated to
/// `spec.nodeName=fakeNode`@8 (updatedPod), `second/baz` deleted@9
/// (continueRV), and an unrelated bump to 10 (currentRV).
const INITIAL_RV: u64 = 1;
const CREATED_RVS: [u64; 6] = [2, 3, 4, 5, 6, 7];
const UPDATED_RV: u64 = 8;
const CONTINUE_RV: u64 = 9;
const CURRENT_RV: u64 = 10;

fn seed_multi_level() -> WatchCache {
    let c = cache();
    c.replace(Vec::new(), INITIAL_RV).unwrap();
    for ((ns, name), rv) in [
        ("first", "bar"),
        ("second", "bar"),
        ("second", "foo"),
        ("third", "barfoo"),
        ("third", "foo"),
        ("second", "baz"),
    ]
    .into_iter()
    .zip(CREATED_RVS)
    {
        c.add(pod(ns, name, "v1"), rv).unwrap();
    }
    c.update(pod("first", "bar", "v2").field("spec.nodeName", "fakeNode"), UPDATED_RV).unwrap();
    c.delete(pod("second", "baz", "v1"), CONTINUE_RV).unwrap();
    // increaseRV: a write outside the listed resource; the cache learns the
    // upstream's progress from a bookmark.
    c.bookmark(CURRENT_RV).unwrap();
    c
}

/// The five items after seeding, in key order.
const SEEDED_FINAL: [&str; 5] = ["first/bar@8", "second/bar@3", "second/foo@4", "third/barfoo@5", "third/foo@6"];

// ---------------------------------------------------------------------------
// 1. Streaming lists (sendInitialEvents)
// ---------------------------------------------------------------------------

/// The resourceVersion a `RunWatchSemantics` row asks for.
#[derive(Clone, Copy, Debug)]
enum Rv {
    /// `""`: the caller resolves it to the upstream's current resourceVersion
    /// (or to 0 for a legacy watch without sendInitialEvents).
    Unset,
    Zero,
    One,
    Current,
}

/// One `RunWatchSemantics` row: the cache listed at 1, then pod-1..3 at
/// 3, 4, 5 in `ns` (and one pod elsewhere at 2); watch `ns`; expect
/// `initial`; then pod-4@6 and pod-5@7 arrive as exactly two ADDED events
/// (bookmarks ignored).
fn watch_semantics_row(rv: Rv, bookmarks: bool, send_initial_events: Option<bool>, initial: &[&str]) {
    let c = cache();
    c.replace(Vec::new(), 1).unwrap();
    c.add(pod("other", "pod-0", "v1"), 2).unwrap();
    for (i, rv) in [(1, 3), (2, 4), (3, 5)] {
        c.add(pod("ns", &format!("pod-{i}"), "v1"), rv).unwrap();
    }
    let current = c.resource_version();
    let sie = send_initial_events == Some(true);
    let at = match (rv, send_initial_events) {
        (Rv::Unset, None) => 0,
        (Rv::Unset, Some(_)) | (Rv::Current, _) => current,
        (Rv::Zero, _) => 0,
        (Rv::One, _) => 1,
    };
    let row = format!("rv={rv:?} bookmarks={bookmarks} sendInitialEvents={send_initial_events:?}");
    let w = c.watch(at, &Selector::everything(), &ns("ns"), opts(bookmarks, sie)).unwrap();
    assert_eq!(take(&w, initial.len()), initial, "{row}");
    c.add(pod("ns", "pod-4", "v1"), 6).unwrap();
    c.add(pod("ns", "pod-5", "v1"), 7).unwrap();
    let rest: Vec<String> = drain_quiet(&w).into_iter().filter(|e| !e.starts_with("BOOKMARK")).collect();
    assert_eq!(rest, ["ADDED@6 ns/pod-4 item@6 ns/pod-4:v1", "ADDED@7 ns/pod-5 item@7 ns/pod-5:v1"], "{row}");
}

const STATE_AT_5: [&str; 3] = [
    "ADDED@5 ns/pod-1 item@3 ns/pod-1:v1",
    "ADDED@5 ns/pod-2 item@4 ns/pod-2:v1",
    "ADDED@5 ns/pod-3 item@5 ns/pod-3:v1",
];

/// Ports watcher_tests.go RunWatchSemantics (cacher_test.go
/// TestWatchSemantics), rows with sendInitialEvents=true: pod-1..3 as
/// ADDED, then the end-of-initial-events BOOKMARK at a resourceVersion
/// `>=` pod-3's (here exactly the cache's, 5), then pod-4 and pod-5.
/// Documented difference: Kubernetes sends the end bookmark only with
/// allowWatchBookmarks=true; this cache sends it with bookmarks=false too
/// (see `WatchOptions::send_initial_events`), which these rows assert.
#[test]
fn watch_semantics_send_initial_events_true_rows() {
    let mut expected = STATE_AT_5.to_vec();
    expected.push("BOOKMARK@5*");
    for rv in [Rv::Unset, Rv::Zero, Rv::One, Rv::Current] {
        for bookmarks in [true, false] {
            watch_semantics_row(rv, bookmarks, Some(true), &expected);
        }
    }
}

/// Ports watcher_tests.go RunWatchSemantics (cacher_test.go
/// TestWatchSemantics), rows with sendInitialEvents=false and RV unset,
/// "1" or current: only RV "1" replays pod-1..3 from history (at their own
/// resourceVersions); no row gets an end bookmark.
#[test]
fn watch_semantics_send_initial_events_false_rows() {
    let history = [
        "ADDED@3 ns/pod-1 item@3 ns/pod-1:v1",
        "ADDED@4 ns/pod-2 item@4 ns/pod-2:v1",
        "ADDED@5 ns/pod-3 item@5 ns/pod-3:v1",
    ];
    for bookmarks in [true, false] {
        watch_semantics_row(Rv::Unset, bookmarks, Some(false), &[]);
        watch_semantics_row(Rv::One, bookmarks, Some(false), &history);
        watch_semantics_row(Rv::Current, bookmarks, Some(false), &[]);
    }
}

/// Ports watcher_tests.go RunWatchSemantics (cacher_test.go
/// TestWatchSemantics), the legacy rows (sendInitialEvents unset, RV unset
/// or "0"): the current state as ADDED events, no end bookmark.
#[test]
fn watch_semantics_legacy_rows() {
    for rv in [Rv::Unset, Rv::Zero] {
        for bookmarks in [true, false] {
            watch_semantics_row(rv, bookmarks, None, &STATE_AT_5);
        }
    }
}

/// Ports watcher_tests.go RunWatchSemanticInitialEventsExtended (cacher_test.go
/// TestWatchSemanticInitialEventsExtended): the end bookmark carries the
/// cache's global resourceVersion (that of a pod in another namespace), and
/// nothing follows.
#[test]
fn initial_events_end_bookmark_carries_the_global_resource_version() {
    let c = cache();
    for i in 1..=5 {
        c.add(pod("ns-foo", &format!("pod-{i}"), "v1"), i).unwrap();
    }
    c.add(pod("other-ns-foo", "pod-1", "v1"), 6).unwrap();
    let w = c.watch(c.resource_version(), &everything(), &ns("ns-foo"), opts(true, true)).unwrap();
    let mut expected: Vec<String> =
        (1..=5).map(|i| format!("ADDED@6 ns-foo/pod-{i} item@{i} ns-foo/pod-{i}:v1")).collect();
    expected.push("BOOKMARK@6*".into());
    assert_eq!(take(&w, 6), expected);
    assert_quiet(&w);
}

/// Ports watcher_tests.go RunWatchListMatchSingle (cacher_test.go
/// TestWatchListMatchSingle): a selector matching one object still gets the
/// end bookmark at the last write's resourceVersion.
#[test]
fn watch_list_matching_a_single_object_ends_at_the_current_resource_version() {
    let c = cache();
    for i in 1..=5 {
        c.add(pod("ns-foo", &format!("pod-{i}"), "v1"), i).unwrap();
    }
    let w = c.watch(c.resource_version(), &everything(), &fields("metadata.name=pod-1"), opts(true, true)).unwrap();
    assert_eq!(take(&w, 2), ["ADDED@5 ns-foo/pod-1 item@1 ns-foo/pod-1:v1", "BOOKMARK@5*"]);
    assert_quiet(&w);
}

/// Ports cacher_whitebox_test.go TestInitialEventsEndBookmark: cache at 100,
/// pods at 101..103, watch at "100" for each (allowWatchBookmarks,
/// sendInitialEvents). Every row gets pod-1..3; rows with
/// sendInitialEvents=true get them from the state (at the cache's
/// resourceVersion) followed by the end bookmark at 103. Documented
/// difference: the (bookmarks=false, sendInitialEvents=true) row gets the
/// end bookmark too (Kubernetes: only with bookmarks).
#[test]
fn initial_events_end_bookmark_per_options() {
    let history = [
        "ADDED@101 ns/pod-1 item@101 ns/pod-1:v1",
        "ADDED@102 ns/pod-2 item@102 ns/pod-2:v1",
        "ADDED@103 ns/pod-3 item@103 ns/pod-3:v1",
    ];
    let streamed = [
        "ADDED@103 ns/pod-1 item@101 ns/pod-1:v1",
        "ADDED@103 ns/pod-2 item@102 ns/pod-2:v1",
        "ADDED@103 ns/pod-3 item@103 ns/pod-3:v1",
        "BOOKMARK@103*",
    ];
    let c = cache();
    c.replace(Vec::new(), 100).unwrap();
    for i in 1..=3 {
        c.add(pod("ns", &format!("pod-{i}"), "v1"), 100 + i).unwrap();
    }
    for (bookmarks, sie, expected) in [
        (false, false, &history[..]),
        (false, true, &streamed[..]),
        (true, true, &streamed[..]),
        (true, false, &history[..]),
    ] {
        let w = c.watch(100, &everything(), &ns("ns"), opts(bookmarks, sie)).unwrap();
        assert_eq!(take(&w, expected.len()), expected, "bookmarks={bookmarks} sendInitialEvents={sie}");
        assert_quiet(&w);
    }
}

/// Ports cacher_whitebox_test.go
/// TestWatchListIsSynchronisedWhenNoEventsFromStoreReceived: a cache listed
/// at 100 that never saw an event answers a streaming watch (RV unset, so
/// the upstream's 100) with exactly the end bookmark at 100.
#[test]
fn watch_list_on_an_empty_cache_sends_only_the_end_bookmark() {
    let c = cache();
    c.replace(Vec::new(), 100).unwrap();
    for rv in [100, 0] {
        let w = c.watch(rv, &everything(), &everything(), opts(true, true)).unwrap();
        assert_eq!(take(&w, 1), ["BOOKMARK@100*"], "rv={rv}");
        assert_quiet(&w);
    }
}

/// Ports cacher_whitebox_test.go TestGetWatchCacheResourceVersion, through
/// behaviour: the resourceVersion a watch needs the cache to reach (storage
/// at 100; the cache at 90). RV unset resolves (by the caller) to 0 for a
/// legacy watch and to the upstream's 100 when sendInitialEvents is set;
/// "0" needs nothing; "95" needs 95. Only sendInitialEvents=true waits
/// (and here times out with the required resourceVersion); the others
/// start without waiting.
#[test]
fn watch_waits_for_the_required_resource_version_only_for_initial_events() {
    let c = cache();
    c.replace(Vec::new(), 80).unwrap();
    c.add(pod("ns", "x", "v1"), 90).unwrap();
    for bookmarks in [true, false] {
        // RV unset, sendInitialEvents=nil: required 0, the legacy state.
        let w = c.watch(0, &everything(), &everything(), opts(bookmarks, false)).unwrap();
        assert_eq!(take(&w, 1), ["ADDED@90 ns/x item@90 ns/x:v1"]);
        // RV unset, sendInitialEvents=true: required 100.
        let err = c.watch(100, &everything(), &everything(), opts(bookmarks, true).fresh_timeout(SHORT)).unwrap_err();
        assert_eq!(err, too_large(100, 90));
        // RV unset, sendInitialEvents=false: required 100, no wait.
        let w = c.watch(100, &everything(), &everything(), opts(bookmarks, false)).unwrap();
        assert_quiet(&w);
        // RV "0": required 0 whatever sendInitialEvents says.
        let w = c.watch(0, &everything(), &everything(), opts(bookmarks, true)).unwrap();
        assert_eq!(take(&w, 2), ["ADDED@90 ns/x item@90 ns/x:v1", "BOOKMARK@90*"]);
        // RV "95": required 95.
        let err = c.watch(95, &everything(), &everything(), opts(bookmarks, true).fresh_timeout(SHORT)).unwrap_err();
        assert_eq!(err, too_large(95, 90));
        let w = c.watch(95, &everything(), &everything(), opts(bookmarks, false)).unwrap();
        assert_quiet(&w);
    }
}

/// A cache listed at 90 whose upstream reported progress to 99
/// (`UpdateResourceVersion("99")`).
fn cache_at_99() -> WatchCache {
    let c = cache();
    c.replace(Vec::new(), 90).unwrap();
    c.bookmark(99).unwrap();
    c
}

/// Ports cacher_whitebox_test.go TestGetBookmarkAfterResourceVersionLockedFunc,
/// through behaviour (cache at 99, storage at 100): with bookmarks and
/// sendInitialEvents=true the end bookmark comes at 100 for RV unset (the
/// upstream's, waited for), at the cache's 99 for "0", and for "95" at the
/// cache's 99 (Kubernetes' function returns 95, the bookmark it then sends
/// is at the interval's resourceVersion, 99). Every combination without
/// sendInitialEvents gets no end bookmark (no event at all). Documented
/// difference: sendInitialEvents=true without bookmarks also gets it here.
#[test]
fn initial_events_end_bookmark_resource_version_per_options() {
    for bookmarks in [true, false] {
        // RV unset, sendInitialEvents=true: the upstream's 100, once reached.
        let c = cache_at_99();
        let w = thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(20));
                c.bookmark(100).unwrap();
            });
            c.watch(100, &everything(), &everything(), opts(bookmarks, true)).unwrap()
        });
        assert_eq!(take(&w, 1), ["BOOKMARK@100*"], "unset bookmarks={bookmarks}");
        assert_quiet(&w);
        for rv in [0, 95] {
            let c = cache_at_99();
            let w = c.watch(rv, &everything(), &everything(), opts(bookmarks, true)).unwrap();
            assert_eq!(take(&w, 1), ["BOOKMARK@99*"], "rv={rv} bookmarks={bookmarks}");
            assert_quiet(&w);
        }
        // sendInitialEvents nil or false: no end bookmark. RV unset is 0
        // (nil) or the upstream's 100 (false).
        for rv in [0, 100, 95] {
            let c = cache_at_99();
            let w = c.watch(rv, &everything(), &everything(), opts(bookmarks, false)).unwrap();
            assert_quiet(&w);
        }
    }
}

/// Ports cacher_whitebox_test.go TestWaitUntilWatchCacheFreshAndForceAllEvents:
/// a streaming watch at 105 on a cache at 100 fails with 504 after the
/// freshness wait (`Status{Failure, 504, Timeout, causes
/// [ResourceVersionTooLarge], retryAfterSeconds 1}`); the same watch while
/// pod1@105 arrives starts with ADDED pod1. Documented differences: the
/// error is `watch`'s `Err`, not an in-stream ERROR event, and its text
/// lacks the "Timeout: " prefix that `NewTimeoutError` adds. The RV-unset
/// rows (storage reporting 105) resolve to the same 105.
#[test]
fn streaming_watch_waits_for_fresh_cache_or_fails_with_504() {
    for bookmarks in [true, false] {
        let c = cache();
        c.replace(Vec::new(), 100).unwrap();
        let start = Instant::now();
        let err = c.watch(105, &everything(), &everything(), opts(bookmarks, true).fresh_timeout(SHORT)).unwrap_err();
        assert!(start.elapsed() >= SHORT, "gave up early: {:?}", start.elapsed());
        assert_eq!(err, too_large(105, 100));
        assert_eq!((err.code(), err.reason(), err.cause()), (504, "Timeout", Some("ResourceVersionTooLarge")));
        assert_eq!(err.retry_after_seconds(), Some(1));
        assert_eq!(err.to_string(), "Too large resource version: 105, current: 100");

        let w = thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(20));
                c.add(pod("ns", "pod1", "v1").field("spec.nodeName", "node1").label("label", "value1"), 105).unwrap();
            });
            c.watch(105, &everything(), &everything(), opts(bookmarks, true).fresh_timeout(WAIT)).unwrap()
        });
        assert_eq!(take(&w, 2), ["ADDED@105 ns/pod1 item@105 ns/pod1:v1", "BOOKMARK@105*"], "bookmarks={bookmarks}");
    }
}

/// Ports watcher_tests.go RunSendInitialEventsBackwardCompatibility
/// (cacher_test.go TestSendInitialEventsBackwardCompatibility): a streaming
/// watch without bookmarks is accepted, and stops cleanly.
#[test]
fn send_initial_events_without_bookmarks_is_accepted() {
    let c = cache();
    c.add(pod("ns", "a", "v1"), 1).unwrap();
    let w = c.watch(c.resource_version(), &everything(), &everything(), opts(false, true)).unwrap();
    w.close();
    assert_eq!(w.try_next().unwrap_err().close_reason(), Some(&CloseReason::Stopped));
    assert_eq!(c.window_stats().watchers, 0);
}

/// Ports watch_cache_interval_test.go TestCacheIntervalNextFromStore: the
/// initial events built from the state carry, as the event's
/// resourceVersion, the cache's (50) while each object keeps its own; the
/// buffer shrinks by one per read and is empty at the end.
#[test]
fn initial_events_carry_the_snapshot_resource_version() {
    let c = cache();
    for n in 0..50u64 {
        c.add(pod("ns", &format!("pod{n}"), "v1"), n + 1).unwrap();
    }
    let mut keys: Vec<(String, u64)> = (0..50u64).map(|n| (format!("ns/pod{n}"), n + 1)).collect();
    keys.sort();
    for sie in [false, true] {
        let w = c.watch(0, &everything(), &everything(), opts(false, sie)).unwrap();
        let backlog = 50 + usize::from(sie);
        for (i, (key, rv)) in keys.iter().enumerate() {
            assert_eq!(w.pending(), backlog - i);
            let e = w.try_next().unwrap().expect("initial event ready");
            assert_eq!(show(&e), format!("ADDED@50 {key} item@{rv} {key}:v1"));
        }
        if sie {
            assert_eq!(show(&w.try_next().unwrap().unwrap()), "BOOKMARK@50*");
        }
        assert_eq!(w.pending(), 0);
        assert_eq!(w.try_next().unwrap(), None);
    }
}

/// Ports cache_watcher_test.go TestResourceVersionAfterInitEvents: after the
/// initial events at snapshot resourceVersion S nothing at or below S is
/// delivered again. Upstream injects a duplicate into the watcher's input;
/// here writes race with the watch's start, and every object must arrive
/// exactly once: the initial ones at S, the live ones at S+1.. in order;
/// then the stream closes.
#[test]
fn no_duplicates_across_initial_events_and_live_events() {
    let c = cache();
    for n in 0..10u64 {
        c.add(pod("ns", &format!("pod-{n:02}"), "v1"), n + 1).unwrap();
    }
    let w = thread::scope(|s| {
        s.spawn(|| {
            for n in 10..60u64 {
                c.add(pod("ns", &format!("pod-{n:02}"), "v1"), n + 1).unwrap();
            }
        });
        c.watch(0, &everything(), &everything(), opts(false, true)).unwrap()
    });
    let mut initial = Vec::new();
    let snapshot_rv = loop {
        let e = w.next_timeout(WAIT).unwrap().expect("initial events");
        if e.event_type() == EventType::Bookmark {
            assert!(e.initial_events_end());
            break e.resource_version();
        }
        initial.push(e);
    };
    assert!((10..=60).contains(&snapshot_rv), "{snapshot_rv}");
    let want: Vec<String> = (0..snapshot_rv)
        .map(|n| format!("ADDED@{snapshot_rv} ns/pod-{n:02} item@{} ns/pod-{n:02}:v1", n + 1))
        .collect();
    assert_eq!(initial.iter().map(show).collect::<Vec<_>>(), want);
    let live_want: Vec<String> =
        (snapshot_rv..60).map(|n| format!("ADDED@{} ns/pod-{n:02} item@{} ns/pod-{n:02}:v1", n + 1, n + 1)).collect();
    assert_eq!(take(&w, live_want.len()), live_want);
    c.close();
    assert_eq!(w.next_timeout(WAIT).unwrap_err().close_reason(), Some(&CloseReason::CacheClosed));
}

// ---------------------------------------------------------------------------
// 2. Bookmarks
// ---------------------------------------------------------------------------

/// Ports watcher_tests.go RunTestWatchDispatchBookmarkEvents (cacher_test.go
/// TestWatchDispatchBookmarkEvents): a single-key watch whose key never
/// changes gets a BOOKMARK (at the last processed resourceVersion, that of a
/// write elsewhere) iff it asked for bookmarks. Upstream's timing comes from
/// the watch's 3 s deadline; here from a 30 ms bookmark interval.
#[test]
fn bookmarks_reach_a_watcher_whose_selector_matches_nothing() {
    for bookmarks in [false, true] {
        let c = cache();
        c.add(pod("test-ns", "foo", "v1"), 1).unwrap();
        let key = fields("metadata.namespace=test-ns,metadata.name=foo");
        let o = opts(bookmarks, false).bookmark_interval(Duration::from_millis(30));
        let w = c.watch(1, &everything(), &key, o).unwrap();
        c.add(pod("other-ns-1", "foo", "v1"), 2).unwrap();
        if bookmarks {
            assert_eq!(take(&w, 1), ["BOOKMARK@2"]);
        } else {
            assert_eq!(w.next_timeout(Duration::from_millis(200)).unwrap(), None);
        }
    }
}

/// Ports watcher_tests.go RunTestOptionalWatchBookmarksWithCorrectResourceVersion
/// (cacher_test.go TestWatchBookmarksWithCorrectResourceVersion): while pods
/// are written every few milliseconds, every BOOKMARK has rv `>=` the last
/// seen and every other event rv `>` it, and at least one bookmark arrives.
#[test]
fn bookmarks_have_correct_resource_versions_under_writes() {
    let c = cache();
    c.add(pod("other", "seed", "v1"), 1).unwrap();
    let start = c.resource_version();
    let o = opts(true, false).bookmark_interval(Duration::from_millis(20));
    let w = c.watch(start, &everything(), &ns("test-ns"), o).unwrap();
    let mut got = Vec::new();
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..40u64 {
                c.add(pod("test-ns", &format!("foo-{i}"), "v1"), 2 + i).unwrap();
                thread::sleep(Duration::from_millis(5));
            }
        });
        // Read until the last write arrived and a bookmark was seen (the
        // upstream reads until its 3 s context expires), at most 5 s.
        let until = Instant::now() + Duration::from_secs(5);
        let done = |got: &[Event]| {
            got.iter().any(|e| e.resource_version() == 41 && e.event_type() != EventType::Bookmark)
                && got.iter().any(|e| e.event_type() == EventType::Bookmark)
        };
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if let Some(e) = w.next_timeout(left).unwrap() {
                got.push(e);
            }
            if done(&got) {
                break;
            }
        }
    });
    assert_quiet_of_objects(&w);
    let mut last = start;
    for e in &got {
        if e.event_type() == EventType::Bookmark {
            assert!(e.resource_version() >= last, "bookmark {} after {last}", e.resource_version());
        } else {
            assert!(e.resource_version() > last, "event {} after {last}", e.resource_version());
        }
        last = e.resource_version();
    }
    assert!(got.iter().any(|e| e.event_type() == EventType::Bookmark), "no bookmark");
    let objects: Vec<u64> =
        got.iter().filter(|e| e.event_type() != EventType::Bookmark).map(Event::resource_version).collect();
    assert_eq!(objects, (2..42).collect::<Vec<u64>>());
}

/// Ports cacher_whitebox_test.go TestCacherSendBookmarkEvents: a watch at
/// "0" while pods are added every 10 ms gets a BOOKMARK at or above the
/// last resourceVersion seen iff it asked for bookmarks; without, no
/// BOOKMARK ever arrives.
#[test]
fn bookmarks_sent_only_when_requested_during_writes() {
    for bookmarks in [true, false] {
        let c = cache();
        let o = opts(bookmarks, false).bookmark_interval(Duration::from_millis(20));
        let w = c.watch(0, &everything(), &ns("ns"), o).unwrap();
        let mut got = Vec::new();
        thread::scope(|s| {
            s.spawn(|| {
                for i in 0..10u64 {
                    c.add(pod("ns", &format!("pod-{i}"), "v1"), 1000 + i).unwrap();
                    thread::sleep(Duration::from_millis(10));
                }
            });
            let until = Instant::now() + Duration::from_millis(if bookmarks { 2000 } else { 300 });
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                match w.next_timeout(left).unwrap() {
                    Some(e) if e.event_type() == EventType::Bookmark => {
                        let last = got.last().map_or(0, Event::resource_version);
                        assert!(bookmarks, "bookmark without bookmarks=true: {e:?}");
                        assert!(e.resource_version() >= last, "bookmark {} below {last}", e.resource_version());
                        got.push(e);
                        break;
                    }
                    Some(e) => got.push(e),
                    None => {}
                }
            }
        });
        if bookmarks {
            assert_eq!(got.last().map(Event::event_type), Some(EventType::Bookmark), "no bookmark within 2 s");
        } else {
            assert_eq!(got.iter().map(Event::resource_version).collect::<Vec<_>>(), (1000..1010).collect::<Vec<_>>());
        }
    }
}

/// Ports cacher_whitebox_test.go TestCacherSendsMultipleWatchBookmarks:
/// with a short bookmark period a watcher at "100" gets pod-1@101 and then
/// at least two bookmarks, never going backwards (here exactly at 101).
#[test]
fn multiple_periodic_bookmarks() {
    let c = cache();
    c.add(pod("ns", "pod-0", "v1"), 100).unwrap();
    let o = opts(true, false).bookmark_interval(Duration::from_millis(30));
    let w = c.watch(100, &everything(), &ns("ns"), o).unwrap();
    c.add(pod("ns", "pod-1", "v1"), 101).unwrap();
    assert_eq!(take(&w, 3), ["ADDED@101 ns/pod-1 item@101 ns/pod-1:v1", "BOOKMARK@101", "BOOKMARK@101"]);
}

/// Ports cacher_whitebox_test.go TestBookmarksOnResourceVersionUpdates: an
/// upstream progress notification at 2000 (no object there) reaches a
/// bookmark watcher at "1000" as BOOKMARK@2000, and the watch stays open.
#[test]
fn progress_notification_becomes_a_bookmark() {
    let c = cache();
    c.add(pod("ns", "pod-1000", "v1"), 1000).unwrap();
    let w = c.watch(1000, &everything(), &ns("ns"), opts(true, false)).unwrap();
    c.bookmark(2000).unwrap();
    assert_eq!(take(&w, 1), ["BOOKMARK@2000"]);
    assert_eq!(c.resource_version(), 2000);
    assert_eq!(w.close_reason(), None);
    assert_quiet(&w);
}

/// Ports cacher_whitebox_test.go TestDispatchingBookmarkEventsWithConcurrentStop:
/// 1000 times, a bookmark dispatch races a watcher's stop; the stream always
/// ends (closed, Stopped) within a second, without a panic or a deadlock.
#[test]
fn bookmark_dispatch_racing_watcher_stop() {
    let c = cache();
    c.add(pod("ns", "pod-0", "v1"), 1000).unwrap();
    for i in 0..1000u64 {
        let w = c.watch(999, &everything(), &everything(), opts(true, false)).unwrap();
        thread::scope(|s| {
            s.spawn(|| c.bookmark(1000 + i).unwrap());
            s.spawn(|| w.close());
        });
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let left = deadline.checked_duration_since(Instant::now()).expect("stream did not end within 1 s");
            match w.next_timeout(left) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("iteration {i}: stream did not end"),
                Err(e) => {
                    assert_eq!(e.close_reason(), Some(&CloseReason::Stopped), "iteration {i}");
                    break;
                }
            }
        }
    }
    assert_eq!(c.window_stats().watchers, 0);
}

/// Ports cacher_whitebox_test.go TestStartingResourceVersion: a single-key
/// watch at 1010 on a cache at 1000 is accepted; after updates 1001..1011
/// the first (and only) event is foo@1011 with label foo=1011.
#[test]
fn watch_from_future_resource_version_starts_after_it() {
    let c = cache();
    c.add(pod("ns", "foo", "1000").label("foo", "1000"), 1000).unwrap();
    let w =
        c.watch(1010, &everything(), &fields("metadata.namespace=ns,metadata.name=foo"), WatchOptions::new()).unwrap();
    for rv in 1001..=1011u64 {
        c.update(pod("ns", "foo", &rv.to_string()).label("foo", rv.to_string()), rv).unwrap();
    }
    let e = w.next_timeout(WAIT).unwrap().expect("an event");
    assert_eq!(show(&e), "MODIFIED@1011 ns/foo item@1011 ns/foo:1011");
    assert_eq!(e.labels().get("foo").map(String::as_str), Some("1011"));
    assert_quiet(&w);
}

/// Ports cacher_whitebox_test.go TestWatcherNotGoingBackInTime: while a slow
/// watcher at 999 reads, 99 more events arrive; a watcher opened afterwards
/// at 999 sees every resourceVersion 1000..1099 once, increasing, and so
/// does the slow one.
#[test]
fn watcher_not_going_back_in_time() {
    let c = cache();
    c.add(pod("ns", "pod-1000", "v1"), 1000).unwrap();
    let slow = c.watch(999, &everything(), &everything(), WatchOptions::new()).unwrap();
    let want: Vec<u64> = (1000..1100).collect();
    thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut got = Vec::new();
            while got.len() < 100 {
                let e = slow.next_timeout(WAIT).unwrap().expect("slow watcher event");
                thread::sleep(Duration::from_millis(1));
                got.push(e.resource_version());
            }
            got
        });
        for i in 1..100u64 {
            c.add(pod("ns", &format!("pod-{}", 1000 + i), "v1"), 1000 + i).unwrap();
        }
        let fast = c.watch(999, &everything(), &everything(), WatchOptions::new()).unwrap();
        let got: Vec<u64> =
            (0..100).map(|_| fast.next_timeout(WAIT).unwrap().expect("event").resource_version()).collect();
        assert_eq!(got, want);
        assert_quiet(&fast);
        assert_eq!(reader.join().unwrap(), want);
    });
}

/// Ports cache_watcher_test.go TestTimeBucketWatchersBasic, the per-watcher
/// period part: three watchers, the first with a 100 ms period, the others
/// 1 s. At first none is due; at ~200 ms only the first (once); by
/// ~1.1 s the other two.
#[test]
fn bookmark_schedule_per_watcher_period() {
    let c = cache();
    c.add(pod("ns", "a", "v1"), 1).unwrap();
    let start = Instant::now();
    let mk =
        |ms| c.watch(1, &everything(), &everything(), opts(true, false).bookmark_interval(Duration::from_millis(ms)));
    let (w1, w2, w3) = (mk(100).unwrap(), mk(1000).unwrap(), mk(1000).unwrap());
    // An unrelated progress past the start, so a bookmark has news.
    c.bookmark(2).unwrap();
    // Drain the bookmark that progress sent to each.
    for w in [&w1, &w2, &w3] {
        assert_eq!(show(&w.try_next().unwrap().unwrap()), "BOOKMARK@2");
        assert_eq!(w.try_next().unwrap(), None, "nothing due yet");
    }
    thread::sleep(Duration::from_millis(200).saturating_sub(start.elapsed()));
    assert_eq!(show(&w1.try_next().unwrap().expect("w1 due")), "BOOKMARK@2");
    assert_eq!(w1.try_next().unwrap(), None, "w1 popped once");
    assert!(start.elapsed() < Duration::from_millis(900), "test too slow to check w2/w3: {:?}", start.elapsed());
    assert_eq!(w2.try_next().unwrap(), None);
    assert_eq!(w3.try_next().unwrap(), None);
    thread::sleep(Duration::from_millis(1100).saturating_sub(start.elapsed()));
    assert_eq!(show(&w2.try_next().unwrap().expect("w2 due")), "BOOKMARK@2");
    assert_eq!(show(&w3.try_next().unwrap().expect("w3 due")), "BOOKMARK@2");
}

/// Ports cache_watcher_test.go TestBookmarkAfterResourceVersionWatchers: a
/// watcher waiting for its end-of-initial-events bookmark gets it at once;
/// afterwards it falls back to the periodic cadence (here 300 ms).
#[test]
fn end_bookmark_immediately_then_periodic_cadence() {
    let c = cache();
    c.add(pod("ns", "pod-1", "v1"), 1).unwrap();
    let every = Duration::from_millis(300);
    let start = Instant::now();
    let w = c.watch(1, &everything(), &everything(), opts(true, true).bookmark_interval(every)).unwrap();
    assert_eq!(show(&w.try_next().unwrap().unwrap()), "ADDED@1 ns/pod-1 item@1 ns/pod-1:v1");
    assert_eq!(show(&w.try_next().unwrap().unwrap()), "BOOKMARK@1*");
    c.add(pod("ns", "pod-2", "v1"), 2).unwrap();
    assert_eq!(show(&w.try_next().unwrap().unwrap()), "ADDED@2 ns/pod-2 item@2 ns/pod-2:v1");
    assert_eq!(w.try_next().unwrap(), None, "no periodic bookmark before the period");
    assert_eq!(take(&w, 1), ["BOOKMARK@2"]);
    assert!(start.elapsed() >= every * 9 / 10, "periodic bookmark too early: {:?}", start.elapsed());
}

/// Ports cache_watcher_test.go TestCacheWatcherDrainingNoBookmarkAfterResourceVersionSent:
/// a watcher that overflows its buffer (here 3) is closed but first
/// delivers, in order, everything it holds: pod-1, pod-2, the annotated
/// end bookmark, pod-5, BOOKMARK@10, pod-15; pod-20 is not delivered.
/// Difference in placement: upstream's end bookmark is the first bookmark
/// at or above the requested 10 (the cache lagged); here a streaming watch
/// starts from the cache's own state, so the end bookmark closes the
/// initial events at 2.
#[test]
fn overflowing_watcher_drains_before_closing() {
    let c = cache();
    c.add(pod("ns", "pod-1", "v1"), 1).unwrap();
    c.add(pod("ns", "pod-2", "v1"), 2).unwrap();
    let w = c.watch(0, &everything(), &everything(), opts(true, true).buffer(3)).unwrap();
    c.add(pod("ns", "pod-5", "v1"), 5).unwrap();
    c.bookmark(10).unwrap();
    c.add(pod("ns", "pod-15", "v1"), 15).unwrap();
    c.add(pod("ns", "pod-20", "v1"), 20).unwrap();
    assert_eq!(
        take(&w, 6),
        [
            "ADDED@2 ns/pod-1 item@1 ns/pod-1:v1",
            "ADDED@2 ns/pod-2 item@2 ns/pod-2:v1",
            "BOOKMARK@2*",
            "ADDED@5 ns/pod-5 item@5 ns/pod-5:v1",
            "BOOKMARK@10",
            "ADDED@15 ns/pod-15 item@15 ns/pod-15:v1",
        ]
    );
    let err = w.next_timeout(WAIT).unwrap_err();
    assert_eq!(err.close_reason(), Some(&CloseReason::FellBehind { buffer: 3 }));
    assert_eq!(c.window_stats().watchers, 0);
}

/// Ports cache_watcher_test.go TestCacheWatcherHandlesFiltering
/// (`spec.nodeName == "host"`): transitions into the selection arrive as
/// ADDED, out of it as DELETED at the event's resourceVersion carrying the
/// previous object (whose own item resourceVersion is kept: Kubernetes
/// rewrites the object's resourceVersion to the event's, here the event
/// carries it), and nothing else.
#[test]
fn selector_transitions_become_added_and_deleted() {
    let node = |tag: &str, host: &str| pod("ns", "p", tag).field("spec.nodeName", host);
    let host = fields("spec.nodeName=host");

    let c = cache();
    let w = c.watch(0, &everything(), &host, WatchOptions::new()).unwrap();
    c.add(node("1", "host"), 1).unwrap();
    c.update(node("2", ""), 2).unwrap();
    c.update(node("3", "host"), 3).unwrap();
    assert_eq!(
        drain_quiet(&w),
        ["ADDED@1 ns/p item@1 ns/p:1", "DELETED@2 ns/p item@1 ns/p:1", "ADDED@3 ns/p item@3 ns/p:3"]
    );

    let c = cache();
    let w = c.watch(0, &everything(), &host, WatchOptions::new()).unwrap();
    c.add(node("1", ""), 1).unwrap();
    c.update(node("2", ""), 2).unwrap();
    c.update(node("3", "host"), 3).unwrap();
    c.update(node("4", "host"), 4).unwrap();
    c.update(node("5", ""), 5).unwrap();
    c.update(node("6", ""), 6).unwrap();
    assert_eq!(
        drain_quiet(&w),
        ["ADDED@3 ns/p item@3 ns/p:3", "MODIFIED@4 ns/p item@4 ns/p:4", "DELETED@5 ns/p item@4 ns/p:4"]
    );
}

// ---------------------------------------------------------------------------
// 3. Paginated and snapshot lists
// ---------------------------------------------------------------------------

/// Ports store_tests.go RunTestList (cacher_test.go TestList), the request
/// validation rows that the typed API can express: resourceVersion with a
/// continue token, Exact with "0", Exact with a continue token, tokens with
/// an empty start key or rv 0 are 400; resourceVersion MaxInt64 is 504
/// TooLargeResourceVersion; "0" with a token is allowed (and ignored).
#[test]
fn list_request_validation() {
    let c = seed_multi_level();
    let tok = k8s_token(CONTINUE_RV as i64, "first/bar\u{0}");
    let bad = [
        ListRequest::new().resource_version(1).continue_token(tok.clone()),
        ListRequest::new().resource_version_match(ResourceVersionMatch::Exact),
        ListRequest::new().resource_version(0).resource_version_match(ResourceVersionMatch::Exact),
        ListRequest::new().continue_token(tok.clone()).resource_version_match(ResourceVersionMatch::Exact),
        ListRequest::new().continue_token(k8s_token(CONTINUE_RV as i64, "")),
        ListRequest::new().continue_token(k8s_token(0, "first/bar\u{0}")),
        ListRequest::new().continue_token("not a token"),
    ];
    for req in bad {
        let err = c.list_page(&req).expect_err(&format!("{req:?} must fail"));
        assert!(matches!(err, WatchError::InvalidArgument(_)), "{req:?}: {err:?}");
        assert_eq!((err.code(), err.reason()), (400, "BadRequest"));
    }
    let max = i64::MAX as u64;
    let err = c.list_page(&ListRequest::new().resource_version(max).timeout(SHORT)).unwrap_err();
    assert_eq!(err, too_large(max, CURRENT_RV));
    assert_eq!(err.cause(), Some("ResourceVersionTooLarge"));
    // "0" with a continue token: allowed and ignored.
    let page = list(&c, ListRequest::new().resource_version(0).continue_token(tok));
    assert_eq!(items(&page), ["second/bar@3", "second/foo@4", "third/barfoo@5", "third/foo@6"]);
    assert_eq!(page.resource_version, CONTINUE_RV);
}

/// Ports store_tests.go RunTestList (cacher_test.go TestList), limit and
/// continue rows: `/pods/second/` limit 1 consistent (upstream 10), Exact
/// at 9 and NotOlderThan at 9; `/pods/` limit 1 Exact at createdPods[4]
/// (6), limit 4 Exact at updatedPod (8, second/baz still there), limit 8
/// Exact at 9. Items, response resourceVersion and the token's
/// resourceVersion are exact; what remains is checked by following the
/// token (no remainingItemCount here).
#[test]
fn list_limit_and_continue() {
    let c = seed_multi_level();
    let exact = ResourceVersionMatch::Exact;
    let follow = |page: &ListPage, limit| {
        list(&c, ListRequest::new().limit(limit).continue_token(page.continue_token.clone().expect("a token")))
    };
    // RV "" (consistent: the upstream is at 10), limit 1.
    let p = list(&c, ListRequest::new().field_selector(ns("second")).limit(1).resource_version(CURRENT_RV));
    assert_eq!((items(&p), p.resource_version, token_rv(&p)), (vec!["second/bar@3".to_owned()], 10, 10));
    let rest = list(&c, ListRequest::new().field_selector(ns("second")).continue_token(p.continue_token.unwrap()));
    assert_eq!((items(&rest), rest.resource_version, rest.continue_token), (vec!["second/foo@4".to_owned()], 10, None));
    // Exact at continueRV: echoed.
    let p = list(
        &c,
        ListRequest::new()
            .field_selector(ns("second"))
            .limit(1)
            .resource_version(CONTINUE_RV)
            .resource_version_match(exact),
    );
    assert_eq!((items(&p), p.resource_version, token_rv(&p)), (vec!["second/bar@3".to_owned()], 9, 9));
    // NotOlderThan at continueRV: a token, response RV >= 9 (the cache's 10).
    let p = list(
        &c,
        ListRequest::new()
            .field_selector(ns("second"))
            .limit(1)
            .resource_version(CONTINUE_RV)
            .resource_version_match(ResourceVersionMatch::NotOlderThan),
    );
    assert_eq!((items(&p), p.resource_version, token_rv(&p)), (vec!["second/bar@3".to_owned()], 10, 10));
    // /pods/, limit 1, Exact at createdPods[4].
    let p = list(&c, ListRequest::new().limit(1).resource_version(CREATED_RVS[4]).resource_version_match(exact));
    assert_eq!((items(&p), p.resource_version, token_rv(&p)), (vec!["first/bar@2".to_owned()], 6, 6));
    let rest = follow(&p, 0);
    assert_eq!(items(&rest), ["second/bar@3", "second/foo@4", "third/barfoo@5", "third/foo@6"]);
    assert_eq!((rest.resource_version, rest.continue_token), (6, None));
    // limit 4, Exact at updatedPod: second/baz still exists.
    let p = list(&c, ListRequest::new().limit(4).resource_version(UPDATED_RV).resource_version_match(exact));
    assert_eq!(items(&p), ["first/bar@8", "second/bar@3", "second/baz@7", "second/foo@4"]);
    assert_eq!((p.resource_version, token_rv(&p)), (8, 8));
    let rest = follow(&p, 4);
    assert_eq!(
        (items(&rest), rest.resource_version, rest.continue_token),
        (vec!["third/barfoo@5".to_owned(), "third/foo@6".to_owned()], 8, None)
    );
    // limit 8, Exact at continueRV: everything, no token.
    let p = list(&c, ListRequest::new().limit(8).resource_version(CONTINUE_RV).resource_version_match(exact));
    assert_eq!((items(&p), p.resource_version, p.continue_token), (SEEDED_FINAL.map(String::from).to_vec(), 9, None));
}

/// Ports store_tests.go RunTestList (cacher_test.go TestList), the row
/// "rv = list.ResourceVersion, no resourceVersionMatch, limit 1": Kubernetes
/// serves it with legacy Exact semantics (`waitUntilFreshAndList`: match
/// unset, limit > 0, RV not "0") and echoes 9 in the response and token.
/// That rule reads the apiserver's HTTP parameters, so the server in front
/// of the cache applies it (see the mapping conventions) and passes Exact;
/// the library's own unset match is NotOlderThan, as its contract says.
#[test]
fn list_unset_match_with_limit_is_legacy_exact() {
    let c = seed_multi_level();
    let req = ListRequest::new().field_selector(ns("second")).limit(1).resource_version(CONTINUE_RV);
    let p = list(&c, req.clone().resource_version_match(ResourceVersionMatch::Exact));
    assert_eq!((items(&p), p.resource_version, token_rv(&p)), (vec!["second/bar@3".to_owned()], 9, 9));
    let unset = list(&c, req);
    assert_eq!((unset.resource_version, token_rv(&unset)), (CURRENT_RV, CURRENT_RV));
}

/// Ports store_tests.go RunTestList (cacher_test.go TestList), the
/// continue-token format: `Encode("second/bar\x00", currentRV)`, byte for
/// byte (base64url without padding of `{"v":..,"rv":..,"start":..}` with
/// the last returned key plus NUL).
#[test]
fn list_continue_token_is_byte_exact() {
    let c = seed_multi_level();
    let p = list(&c, ListRequest::new().field_selector(ns("second")).limit(1).resource_version(CURRENT_RV));
    assert_eq!(items(&p), ["second/bar@3"]);
    assert_eq!(p.continue_token, Some(k8s_token(CURRENT_RV as i64, "second/bar\u{0}")));
}

/// Ports store_tests.go RunTestList (cacher_test.go TestList), the Exact
/// history rows: Exact at initialRV is empty; at each createdPods[k] the
/// objects that existed then; at updatedPod the updated first/bar and the
/// other five; at continueRV the final five; at continueRV+1 (the unrelated
/// bump) the same five, echoing 10; at continueRV+2 TooLargeResourceVersion.
/// Also an Exact resourceVersion that left the window is 410.
#[test]
fn list_exact_serves_history_snapshots() {
    let c = seed_multi_level();
    let exact = |rv| ListRequest::new().resource_version(rv).resource_version_match(ResourceVersionMatch::Exact);
    let p = list(&c, exact(INITIAL_RV));
    assert_eq!((items(&p), p.resource_version), (Vec::<String>::new(), INITIAL_RV));
    let created = ["first/bar@2", "second/bar@3", "second/foo@4", "third/barfoo@5", "third/foo@6", "second/baz@7"];
    for (k, rv) in CREATED_RVS.into_iter().enumerate() {
        let mut want: Vec<&str> = created[..=k].to_vec();
        want.sort();
        let p = list(&c, exact(rv));
        assert_eq!((items(&p), p.resource_version), (want.iter().map(|s| s.to_string()).collect(), rv), "k={k}");
    }
    let p = list(&c, exact(UPDATED_RV));
    assert_eq!(
        items(&p),
        ["first/bar@8", "second/bar@3", "second/baz@7", "second/foo@4", "third/barfoo@5", "third/foo@6"]
    );
    assert_eq!(p.resource_version, UPDATED_RV);
    for rv in [CONTINUE_RV, CONTINUE_RV + 1] {
        let p = list(&c, exact(rv));
        assert_eq!((items(&p), p.resource_version), (SEEDED_FINAL.map(String::from).to_vec(), rv));
    }
    let err = c.list_page(&exact(CONTINUE_RV + 2).timeout(SHORT)).unwrap_err();
    assert_eq!(err, too_large(CONTINUE_RV + 2, CURRENT_RV));

    // Out of the window: a small window, relisted at 1, then 3 writes.
    let small = WatchCache::builder().capacity(2).max_capacity(2).build().unwrap();
    small.replace(vec![Object::new("a", &b"a"[..])], 1).unwrap();
    for rv in 2..=4 {
        small.update(Object::new("a", format!("a{rv}").into_bytes()), rv).unwrap();
    }
    let err = small.list_page(&exact(1)).unwrap_err();
    assert_eq!(err, expired(1, 2));
    assert_eq!((err.code(), err.reason()), (410, "Expired"));
}

/// Ports store_tests.go RunTestList (cacher_test.go TestList), continue
/// tokens carrying historic resourceVersions, written by the apiserver
/// (last key + NUL): each reads the snapshot at its resourceVersion from its
/// key on; a pregenerated token whose start has no NUL is inclusive, also
/// with resourceVersion "0".
#[test]
fn list_continue_with_historic_tokens() {
    let c = seed_multi_level();
    let cont =
        |rv: u64, start: &str, limit| ListRequest::new().limit(limit).continue_token(k8s_token(rv as i64, start));
    // ("first/bar\0", createdPods[1]), limit 1: second/bar, nothing more.
    let p = list(&c, cont(CREATED_RVS[1], "first/bar\u{0}", 1));
    assert_eq!((items(&p), p.resource_version, p.continue_token.clone()), (vec!["second/bar@3".to_owned()], 3, None));
    // At createdPods[4], limit 1: second/bar and a token at 6 for 3 more.
    let p = list(&c, cont(CREATED_RVS[4], "first/bar\u{0}", 1));
    assert_eq!((items(&p), p.resource_version, token_rv(&p)), (vec!["second/bar@3".to_owned()], 6, 6));
    let rest = list(&c, ListRequest::new().continue_token(p.continue_token.unwrap()));
    assert_eq!(
        (items(&rest), rest.continue_token),
        (vec!["second/foo@4".to_owned(), "third/barfoo@5".to_owned(), "third/foo@6".to_owned()], None)
    );
    // ("second/bar\0", createdPods[5]), limit 2: baz still there.
    let p = list(&c, cont(CREATED_RVS[5], "second/bar\u{0}", 2));
    assert_eq!(
        (items(&p), p.resource_version, token_rv(&p)),
        (vec!["second/baz@7".to_owned(), "second/foo@4".to_owned()], 7, 7)
    );
    let rest = list(&c, ListRequest::new().continue_token(p.continue_token.unwrap()));
    assert_eq!(
        (items(&rest), rest.continue_token),
        (vec!["third/barfoo@5".to_owned(), "third/foo@6".to_owned()], None)
    );
    // ("second/foo\0", updatedPod), limit 4: the rest, no token.
    let p = list(&c, cont(UPDATED_RV, "second/foo\u{0}", 4));
    assert_eq!(
        (items(&p), p.resource_version, p.continue_token),
        (vec!["third/barfoo@5".to_owned(), "third/foo@6".to_owned()], 8, None)
    );
    // A pregenerated token starting at "second/foo" (inclusive), limit 1, on
    // /pods/second/; with resourceVersion "0" too.
    for rv0 in [false, true] {
        let mut req = cont(CURRENT_RV, "second/foo", 1).field_selector(ns("second"));
        if rv0 {
            req = req.resource_version(0);
        }
        let p = list(&c, req);
        assert_eq!((items(&p), p.resource_version), (vec!["second/foo@4".to_owned()], CURRENT_RV), "rv0={rv0}");
        if let Some(t) = p.continue_token {
            let rest = list(&c, ListRequest::new().continue_token(t).field_selector(ns("second")));
            assert_eq!((items(&rest), rest.continue_token), (Vec::<String>::new(), None));
        }
    }
}

/// Ports store_tests.go RunTestList (cacher_test.go TestList), continue
/// tokens with resourceVersion -1: a consistent read at the current
/// resourceVersion from the token's key: ("first/bar\0", -1) gives the 4
/// later items at currentRV; with limit 2 second/bar, second/foo and a
/// token at currentRV.
#[test]
fn list_continue_token_with_negative_rv_is_a_consistent_read() {
    let c = seed_multi_level();
    let tok = k8s_token(-1, "first/bar\u{0}");
    let p = list(&c, ListRequest::new().continue_token(tok.clone()));
    assert_eq!(items(&p), ["second/bar@3", "second/foo@4", "third/barfoo@5", "third/foo@6"]);
    assert_eq!((p.resource_version, p.continue_token.clone()), (CURRENT_RV, None));
    let p = list(&c, ListRequest::new().limit(2).continue_token(tok));
    assert_eq!(
        (items(&p), p.resource_version, token_rv(&p)),
        (vec!["second/bar@3".to_owned(), "second/foo@4".to_owned()], 10, 10)
    );
}

/// Ports store_tests.go RunTestList (cacher_test.go TestList), selector
/// rows: pages are filled by scanning until `limit` matches; a token is
/// there when the scan stopped at the limit with keys left, even if none
/// matches; NotOlderThan and "0" serve the current state; a consistent read
/// of an empty prefix reports currentRV.
#[test]
fn list_selectors_across_pages() {
    let c = seed_multi_level();
    let by =
        |sel: &str, limit| ListRequest::new().field_selector(fields(sel)).limit(limit).resource_version(CURRENT_RV);
    let p = list(&c, by("metadata.name=barfoo", 1));
    assert_eq!(items(&p), ["third/barfoo@5"]);
    assert!(p.continue_token.is_some(), "the scan stopped at the limit with keys left");
    let p = list(&c, by("metadata.name=barfoo", 2));
    assert_eq!((items(&p), p.continue_token), (vec!["third/barfoo@5".to_owned()], None));
    let p = list(&c, by("metadata.name=bar", 2));
    assert_eq!(items(&p), ["first/bar@8", "second/bar@3"]);
    assert!(p.continue_token.is_some());
    let p = list(&c, by("metadata.name=foo", 2));
    assert_eq!((items(&p), p.continue_token), (vec!["second/foo@4".to_owned(), "third/foo@6".to_owned()], None));
    for limit in [1, 2] {
        let req = ListRequest::new()
            .field_selector(fields("metadata.name=foo"))
            .limit(limit)
            .continue_token(k8s_token(CONTINUE_RV as i64, "third/barfoo"));
        let p = list(&c, req);
        assert_eq!((items(&p), p.resource_version, p.continue_token), (vec!["third/foo@6".to_owned()], 9, None));
    }
    let p = list(
        &c,
        ListRequest::new()
            .field_selector(fields("spec.nodeName=fakeNode"))
            .resource_version(CONTINUE_RV)
            .resource_version_match(ResourceVersionMatch::NotOlderThan),
    );
    assert_eq!((items(&p), p.resource_version), (vec!["first/bar@8".to_owned()], CURRENT_RV));
    let p = list(&c, ListRequest::new().field_selector(fields("metadata.name=baz")).resource_version(CURRENT_RV));
    assert_eq!(items(&p), Vec::<String>::new());
    for req in [ListRequest::new(), ListRequest::new().resource_version(CURRENT_RV)] {
        assert_eq!(items(&list(&c, req)), SEEDED_FINAL);
    }
    let p = list(&c, ListRequest::new().field_selector(ns("empty")).resource_version(CURRENT_RV));
    assert_eq!((items(&p), p.resource_version), (Vec::<String>::new(), CURRENT_RV));
    let p = list(&c, ListRequest::new().field_selector(ns("empty")));
    assert_eq!((items(&p), p.resource_version), (Vec::<String>::new(), CURRENT_RV));
    let p = list(&c, ListRequest::new().field_selector(fields("metadata.namespace=first,metadata.name=bar")));
    assert_eq!(items(&p), ["first/bar@8"]);
}

/// Ports store_tests.go RunTestListPaging (cacher_test.go TestListPaging):
/// paging with limit 1 takes exactly 4 calls and sees test-0..3; a write
/// after the second page is not visible (every page is the first page's
/// snapshot).
#[test]
fn list_paging_is_served_from_the_first_page_snapshot() {
    let c = cache();
    for i in 0..4u64 {
        c.add(pod("paging", &format!("test-{i}"), "v1"), i + 1).unwrap();
    }
    let consistent = c.resource_version();
    let mut names = Vec::new();
    let mut calls = 0;
    let mut token: Option<String> = None;
    loop {
        let req = match token.take() {
            Some(t) => ListRequest::new().limit(1).continue_token(t),
            None => ListRequest::new().limit(1).resource_version(consistent),
        };
        let p = list(&c, req);
        calls += 1;
        assert_eq!(p.resource_version, consistent);
        names.extend(p.items.iter().map(|i| i.key().to_owned()));
        if calls == 2 {
            c.add(pod("paging", "test-5", "v1"), 5).unwrap();
        }
        match p.continue_token {
            Some(t) => token = Some(t),
            None => break,
        }
        assert!(calls < 10, "paging does not end");
    }
    assert_eq!(calls, 4);
    assert_eq!(names, ["paging/test-0", "paging/test-1", "paging/test-2", "paging/test-3"]);
}

/// Ports store_tests.go RunTestListContinuation (cacher_test.go
/// TestListContinuation): limit 1 gives first/bar and a token; the token
/// with no limit gives the other two; the same token again with limit 1
/// gives second/bar and a second token, which gives second/foo. Every page
/// reports the first page's resourceVersion.
#[test]
fn list_continuation_tokens_are_reusable() {
    let c = cache();
    for (i, (n, name)) in [("first", "bar"), ("second", "bar"), ("second", "foo")].into_iter().enumerate() {
        c.add(pod(n, name, "v1"), i as u64 + 1).unwrap();
    }
    let current = c.resource_version();
    let p = list(&c, ListRequest::new().limit(1).resource_version(current));
    assert_eq!((items(&p), p.resource_version), (vec!["first/bar@1".to_owned()], current));
    let tok = p.continue_token.expect("a token");
    let p = list(&c, ListRequest::new().continue_token(tok.clone()));
    assert_eq!(
        (items(&p), p.resource_version, p.continue_token),
        (vec!["second/bar@2".to_owned(), "second/foo@3".to_owned()], current, None)
    );
    let p = list(&c, ListRequest::new().limit(1).continue_token(tok));
    assert_eq!((items(&p), p.resource_version), (vec!["second/bar@2".to_owned()], current));
    let p = list(&c, ListRequest::new().limit(1).continue_token(p.continue_token.expect("a second token")));
    assert_eq!((items(&p), p.resource_version, p.continue_token), (vec!["second/foo@3".to_owned()], current, None));
}

/// Ports store_tests.go RunTestListContinuationWithFilter (cacher_test.go
/// TestListContinuationWithFilter): `metadata.name!=bar`, limit 2: 1/foo,
/// 3/foo and a token, then 4/foo and none; both at the current
/// resourceVersion.
#[test]
fn list_continuation_with_filter_fills_pages() {
    let c = cache();
    for (i, (n, name)) in [("1", "foo"), ("2", "bar"), ("3", "foo"), ("4", "foo")].into_iter().enumerate() {
        c.add(pod(n, name, "v1"), i as u64 + 1).unwrap();
    }
    let current = c.resource_version();
    let sel = fields("metadata.name!=bar");
    let p = list(&c, ListRequest::new().limit(2).field_selector(sel.clone()).resource_version(current));
    assert_eq!((items(&p), p.resource_version), (vec!["1/foo@1".to_owned(), "3/foo@3".to_owned()], current));
    let p =
        list(&c, ListRequest::new().limit(2).field_selector(sel).continue_token(p.continue_token.expect("a token")));
    assert_eq!((items(&p), p.resource_version, p.continue_token), (vec!["4/foo@4".to_owned()], current, None));
}

/// Ports store_tests.go RunTestConsistentList (cacher_test.go
/// TestConsistentList), steps with resourceVersion "0" and "": "0" may lag
/// (here W=5 while the upstream is at 6); "" waits until the cache has seen
/// the upstream's resourceVersion (delivered by a progress notification)
/// and reports exactly it; a later "0" reflects that sync.
#[test]
fn consistent_list_reads_at_the_upstream_resource_version() {
    let c = cache();
    c.add(pod("default", "foo", "v1"), 5).unwrap();
    let mut upstream = 6; // increaseRV, not yet seen by the cache
    let empty = || ListRequest::new().field_selector(ns("empty"));
    let p = list(&c, empty().resource_version(0));
    assert!(p.resource_version <= 5);
    assert_eq!(p.resource_version, 5);
    let p = thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(20));
            c.bookmark(upstream).unwrap();
        });
        list(&c, empty().resource_version(upstream).timeout(WAIT))
    });
    assert_eq!(p.resource_version, upstream);
    let cache_sync = p.resource_version;
    upstream += 1;
    let p = list(&c, empty().resource_version(0));
    assert_eq!(p.resource_version, cache_sync);
    assert!(upstream > cache_sync);
}

/// Ports store_tests.go RunTestConsistentList (cacher_test.go
/// TestConsistentList), the step with a continue token at resourceVersion
/// -1: a consistent read reporting the upstream's resourceVersion, which a
/// later "0" list then reflects.
#[test]
fn consistent_list_with_minus_one_continue_token() {
    let c = cache();
    c.add(pod("default", "foo", "v1"), 5).unwrap();
    c.bookmark(7).unwrap();
    let p = list(&c, ListRequest::new().field_selector(ns("empty")).continue_token(k8s_token(-1, "empty/\u{0}")));
    assert_eq!(p.resource_version, 7);
    let p = list(&c, ListRequest::new().field_selector(ns("empty")).resource_version(0));
    assert_eq!(p.resource_version, 7);
}

/// Ports cacher_whitebox_test.go TestComputeListLimit and (its cache-side
/// answer) TestGetListNonRecursiveCacheBypass: limit 0 means none; a limit
/// with RV "" or "100" is honoured; RV "0" ignores the limit and serves
/// everything from the cache, without a token.
#[test]
fn list_limit_is_ignored_at_resource_version_zero() {
    let c = seed_multi_level();
    for limit in [1, 500] {
        let p = list(&c, ListRequest::new().limit(limit).resource_version(0));
        assert_eq!((items(&p), p.continue_token), (SEEDED_FINAL.map(String::from).to_vec(), None), "limit={limit}");
    }
    let p = list(&c, ListRequest::new().limit(0).resource_version(CURRENT_RV));
    assert_eq!((items(&p), p.continue_token), (SEEDED_FINAL.map(String::from).to_vec(), None));
    for rv in [CURRENT_RV, CONTINUE_RV] {
        let p = list(&c, ListRequest::new().limit(1).resource_version(rv));
        assert_eq!(items(&p), ["first/bar@8"], "rv={rv}");
        assert!(p.continue_token.is_some());
    }
}

/// Ports cacher_whitebox_test.go TestGetListCacheBypass, as the checklist of
/// valid option combinations: every combination that passes Kubernetes'
/// validation is answered by the cache (those Kubernetes delegates to etcd
/// included: continue tokens, RV "1" with a limit, RV "1" Exact); the
/// invalid ones (a resourceVersion other than "0" with continue, Exact with
/// "0" or with continue) are 400.
#[test]
fn list_accepts_every_valid_option_combination() {
    let c = cache();
    c.replace(vec![pod("ns", "a", "v1"), pod("ns", "b", "v1")], 1).unwrap();
    c.add(pod("ns", "c", "v1"), 2).unwrap();
    let tok_on_rev1 =
        list(&c, ListRequest::new().limit(1).resource_version(1).resource_version_match(ResourceVersionMatch::Exact))
            .continue_token
            .expect("a token on rev 1");
    for rv in [0u64, 1, 2] {
        for m in [ResourceVersionMatch::NotOlderThan, ResourceVersionMatch::Exact] {
            for cont in [None, Some(tok_on_rev1.clone())] {
                for limit in [0usize, 1, 500] {
                    let mut req = ListRequest::new().resource_version(rv).resource_version_match(m).limit(limit);
                    if let Some(t) = &cont {
                        req = req.continue_token(t.clone());
                    }
                    let exact = m == ResourceVersionMatch::Exact;
                    // Kubernetes forbids Exact with "0", and a continue
                    // token with a resourceVersion other than "0" or with a
                    // match. (NotOlderThan is also the unset match here, so
                    // "0" + token + NotOlderThan is the valid unset row.)
                    let exact_at_zero = exact && rv == 0;
                    let bad_continue = cont.is_some() && (rv != 0 || exact);
                    let valid = !exact_at_zero && !bad_continue;
                    match c.list_page(&req) {
                        Ok(p) => {
                            assert!(valid, "{req:?} must be rejected");
                            let want_rv = if cont.is_some() {
                                1
                            } else if exact {
                                rv
                            } else {
                                2
                            };
                            assert_eq!(p.resource_version, want_rv, "{req:?}");
                        }
                        Err(e) => {
                            assert!(!valid, "{req:?} must be served: {e:?}");
                            assert!(matches!(e, WatchError::InvalidArgument(_)), "{req:?}: {e:?}");
                        }
                    }
                }
            }
        }
    }
}

/// Ports store_btree_test.go TestStoreListOrdered, TestStoreListPrefix and
/// TestStoreSnapshotter: lists are key-ordered whatever the insertion
/// order; a start key `k\0` resumes after `k`; snapshots at 10, 20, 30, 40
/// answer Exact reads with the greatest one `<=` the resourceVersion (9:
/// none, 410; 11: 10's; 22: 20's); after the window drops 10 and 20 they
/// are 410; after a reset (relist) all are.
#[test]
fn list_ordering_prefix_start_and_snapshot_floor() {
    let clock = Arc::new(ManualClock::new());
    let c = WatchCache::builder().capacity(2).max_capacity(2).clock(clock).build().unwrap();
    c.replace(vec![Object::new("foo3", &b"3"[..]), Object::new("foo1", &b"1"[..])], 10).unwrap();
    c.add(Object::new("foo2", &b"2@20"[..]), 20).unwrap();
    c.update(Object::new("foo2", &b"2@30"[..]), 30).unwrap();
    assert_eq!(items(&list(&c, ListRequest::new())), ["foo1@10", "foo2@30", "foo3@10"]);
    let from = |start: &str| items(&list(&c, ListRequest::new().continue_token(k8s_token(30, start))));
    assert_eq!(from("foo1"), ["foo1@10", "foo2@30", "foo3@10"]);
    assert_eq!(from("foo2"), ["foo2@30", "foo3@10"]);
    assert_eq!(from("foo1\u{0}"), ["foo2@30", "foo3@10"]);
    assert_eq!(from("foo2\u{0}"), ["foo3@10"]);

    let exact = |rv| ListRequest::new().resource_version(rv).resource_version_match(ResourceVersionMatch::Exact);
    assert_eq!(c.list_page(&exact(9)).unwrap_err(), expired(9, 10));
    for (rv, want) in [
        (10, vec!["foo1@10", "foo3@10"]),
        (11, vec!["foo1@10", "foo3@10"]),
        (22, vec!["foo1@10", "foo2@20", "foo3@10"]),
    ] {
        let p = list(&c, exact(rv));
        assert_eq!((items(&p), p.resource_version), (want.iter().map(|s| s.to_string()).collect(), rv), "rv={rv}");
    }
    assert_eq!(c.list_page(&exact(100).timeout(SHORT)).unwrap_err(), too_large(100, 30));
    // The window drops 20 (RemoveLess(30)).
    c.update(Object::new("foo2", &b"2@40"[..]), 40).unwrap();
    for rv in [10, 20, 22] {
        assert_eq!(c.list_page(&exact(rv)).unwrap_err(), expired(rv, 29), "rv={rv}");
    }
    assert_eq!(items(&list(&c, exact(30))), ["foo1@10", "foo2@30", "foo3@10"]);
    assert_eq!(items(&list(&c, exact(40))), ["foo1@10", "foo2@40", "foo3@10"]);
    // Reset.
    c.replace(Vec::new(), 50).unwrap();
    for rv in [30, 40] {
        assert_eq!(c.list_page(&exact(rv)).unwrap_err(), expired(rv, 50), "rv={rv}");
    }
}

// ---------------------------------------------------------------------------
// 4. Too large, too old, wait until fresh
// ---------------------------------------------------------------------------

/// Ports watch_cache_test.go TestWaitUntilFreshAndListTimeout (FromStorage
/// and FromCache): with foo@2 and a progress notification at 3, waiting for
/// 4 fails with 504 TooLargeResourceVersion{4, 3} after the timeout, not
/// earlier; a later bar@4 changes nothing. Documented difference: the text
/// has no "Timeout: " prefix.
#[test]
fn wait_until_fresh_times_out_with_too_large() {
    let c = cache();
    let timeout = Duration::from_millis(300);
    thread::scope(|s| {
        s.spawn(|| {
            // While the waiter waits: writes that wake it but do not reach 4.
            thread::sleep(Duration::from_millis(20));
            c.add(pod("ns", "foo", "v1"), 2).unwrap();
            c.bookmark(3).unwrap();
        });
        let start = Instant::now();
        let err = c.wait_until_fresh(4, timeout).unwrap_err();
        assert!(start.elapsed() >= timeout, "gave up early: {:?}", start.elapsed());
        assert_eq!(err, too_large(4, 3));
        assert_eq!(
            (err.code(), err.reason(), err.cause(), err.retry_after_seconds()),
            (504, "Timeout", Some("ResourceVersionTooLarge"), Some(1))
        );
        assert_eq!(err.to_string(), "Too large resource version: 4, current: 3");
        let start = Instant::now();
        let err = c.list_page(&ListRequest::new().resource_version(4).timeout(timeout)).unwrap_err();
        assert!(start.elapsed() >= timeout);
        assert_eq!(err, too_large(4, 3));
    });
    c.add(pod("ns", "bar", "v1"), 4).unwrap();
    c.wait_until_fresh(4, Duration::ZERO).unwrap();
}

/// Ports watch_cache_test.go TestWaitUntilFreshAndList: a list at 5 waits
/// while pod1@2, pod2@3, pod3@5 arrive and reports 5; with no selector 3
/// items; `label=value1` (indexed) 2; `spec.nodeName=node2` (indexed) 1; a
/// label nothing indexes still filters by scan. (Which index serves is not
/// observable here.)
#[test]
fn list_waits_until_fresh_then_serves_indexes() {
    let c = WatchCache::builder().fields(FIELDS).index("label:label").index("field:spec.nodeName").build().unwrap();
    let mk =
        |name: &str, node: &str, value: &str| pod("ns", name, "v1").field("spec.nodeName", node).label("label", value);
    let (all, rv) = thread::scope(|s| {
        s.spawn(|| {
            for (name, node, value, rv) in
                [("pod1", "node1", "value1", 2), ("pod2", "node1", "value1", 3), ("pod3", "node2", "value2", 5)]
            {
                thread::sleep(Duration::from_millis(10));
                c.add(mk(name, node, value), rv).unwrap();
            }
        });
        c.list_with_timeout(5, &everything(), &everything(), WAIT).unwrap()
    });
    assert_eq!(rv, 5);
    assert_eq!(all.iter().map(|i| i.key()).collect::<Vec<_>>(), ["ns/pod1", "ns/pod2", "ns/pod3"]);
    let keys = |l: &Selector, f: &Selector| {
        let (items, rv) = c.list(5, l, f).unwrap();
        assert_eq!(rv, 5);
        items.iter().map(|i| i.key().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(keys(&Selector::parse("label=value1").unwrap(), &everything()), ["ns/pod1", "ns/pod2"]);
    assert_eq!(keys(&everything(), &fields("spec.nodeName=node2")), ["ns/pod3"]);
    assert_eq!(
        keys(&Selector::parse("not-exist-label").unwrap(), &fields("spec.nodeName=node2")),
        Vec::<String>::new()
    );
    assert_eq!(keys(&Selector::parse("!not-exist-label").unwrap(), &everything()), ["ns/pod1", "ns/pod2", "ns/pod3"]);
}

/// Ports watch_cache_test.go TestWaitUntilFreshAndListFromCache: pod1@2 and
/// then only a progress notification at 3 make a list at 3 succeed with
/// resourceVersion 3 and 1 item.
#[test]
fn progress_notification_makes_the_cache_fresh() {
    let c = cache();
    let (items, rv) = thread::scope(|s| {
        s.spawn(|| {
            c.add(pod("ns", "pod1", "v1"), 2).unwrap();
            thread::sleep(Duration::from_millis(10));
            c.bookmark(3).unwrap();
        });
        c.list_with_timeout(3, &everything(), &everything(), WAIT).unwrap()
    });
    assert_eq!((items.len(), rv), (1, 3));
    assert_eq!(items[0].key(), "ns/pod1");
}

/// Ports watch_cache_test.go TestWaitUntilFreshAndGet and
/// TestReflectorForWatchCache: a get at 5 waits for bar@5 (after foo@2) and
/// finds it; a list at 0 on a fresh cache returns at once with 0; after a
/// relist at 10, a list at 10 reports 10.
#[test]
fn get_waits_until_fresh_and_relist_makes_fresh() {
    let c = cache();
    let got = thread::scope(|s| {
        s.spawn(|| {
            c.add(pod("ns", "foo", "v1"), 2).unwrap();
            thread::sleep(Duration::from_millis(10));
            c.add(pod("ns", "bar", "v1"), 5).unwrap();
        });
        c.get_with_timeout("ns/bar", 5, WAIT).unwrap()
    });
    let got = got.expect("found");
    assert_eq!((got.key(), got.resource_version(), got.object()), ("ns/bar", 5, &b"ns/bar:v1"[..]));

    let fresh = cache();
    let start = Instant::now();
    let (items, rv) = fresh.list(0, &everything(), &everything()).unwrap();
    assert_eq!((items.len(), rv), (0, 0));
    assert!(start.elapsed() < Duration::from_secs(1));
    fresh.replace(vec![pod("ns", "a", "v1")], 10).unwrap();
    let (items, rv) = fresh.list_with_timeout(10, &everything(), &everything(), SHORT).unwrap();
    assert_eq!((items.len(), rv), (1, 10));
}

/// Ports watch_cache_test.go TestEvents: a window fixed at 5 events, no
/// relist. pod@3: since 1 expired (1 < 3-1), since 2 gives ADDED@3 without a
/// previous object. @4, @5: since 1 expired, since 3 gives two MODIFIED with
/// previous objects @3, @4. @6..@9 (window 5..9): since 3 expired, since 4
/// gives @5..@9. DELETE@10: since 9 gives DELETED with object @10 and
/// previous @9.
#[test]
fn events_since_over_a_fixed_window() {
    let clock = Arc::new(ManualClock::new());
    let c = WatchCache::builder().capacity(5).max_capacity(5).clock(clock.clone()).build().unwrap();
    let p = |rv: u64| Object::new("ns/pod", format!("pod@{rv}").into_bytes());
    let since = |rv| -> Vec<(EventType, u64, String, Option<String>)> {
        c.events_since(rv)
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e.event_type(),
                    e.resource_version(),
                    String::from_utf8_lossy(e.object()).into_owned(),
                    e.prev_object().map(|b| String::from_utf8_lossy(b).into_owned()),
                )
            })
            .collect()
    };
    let s = |t: &str| t.to_owned();
    c.add(p(3), 3).unwrap();
    assert_eq!(c.events_since(1).unwrap_err(), expired(1, 2));
    assert_eq!(since(2), [(EventType::Added, 3, s("pod@3"), None)]);
    for rv in [4, 5] {
        clock.advance(Duration::from_secs(1));
        c.update(p(rv), rv).unwrap();
    }
    assert_eq!(c.events_since(1).unwrap_err(), expired(1, 2));
    assert_eq!(
        since(3),
        [
            (EventType::Modified, 4, s("pod@4"), Some(s("pod@3"))),
            (EventType::Modified, 5, s("pod@5"), Some(s("pod@4")))
        ]
    );
    for rv in 6..=9 {
        clock.advance(Duration::from_secs(1));
        c.update(p(rv), rv).unwrap();
    }
    assert_eq!(c.events_since(3).unwrap_err(), expired(3, 4));
    assert_eq!(since(4).iter().map(|e| e.1).collect::<Vec<_>>(), [5, 6, 7, 8, 9]);
    c.delete(p(10), 10).unwrap();
    assert_eq!(since(9), [(EventType::Deleted, 10, s("pod@10"), Some(s("pod@9")))]);
}

/// Ports watch_cache_test.go TestMarker: a window of 3 relisted at 9 with
/// pod1, pod2: since 8 is "too old resource version: 8 (9)"; since 9 is
/// empty; after pods@12, since 9 is exactly that event.
#[test]
fn relist_marker_expires_older_resource_versions() {
    let c = WatchCache::builder().capacity(3).max_capacity(3).build().unwrap();
    c.replace(vec![Object::new("ns/pod1", &b"pod1@5"[..]), Object::new("ns/pod2", &b"pod2@9"[..])], 9).unwrap();
    let err = c.events_since(8).unwrap_err();
    assert_eq!(err, expired(8, 9));
    assert_eq!(err.to_string(), "too old resource version: 8 (9)");
    assert!(c.events_since(9).unwrap().is_empty());
    c.add(Object::new("ns/pods", &b"pods@12"[..]), 12).unwrap();
    let ev = c.events_since(9).unwrap();
    assert_eq!(ev.iter().map(show).collect::<Vec<_>>(), ["ADDED@12 ns/pods item@12 pods@12"]);
}

/// Ports cacher_whitebox_test.go TestEmptyWatchEventCache: a cache
/// initialised from a list at R (5 pods, no events): a watch at R-1 is 410
/// Expired; at R and R+1 it is established and silent. Documented
/// difference: the 410 is `watch`'s `Err`, not an in-stream ERROR event.
#[test]
fn watch_on_an_empty_event_history() {
    let c = cache();
    let r = 5;
    c.replace((1..=5).map(|i| pod("test-ns", &format!("pod-{i}"), "v1")), r).unwrap();
    let err = c.watch(r - 1, &everything(), &ns("test-ns"), WatchOptions::new()).unwrap_err();
    assert_eq!(err, expired(r - 1, r));
    assert_eq!((err.code(), err.reason()), (410, "Expired"));
    for rv in [r, r + 1] {
        let w = c.watch(rv, &everything(), &ns("test-ns"), WatchOptions::new()).unwrap();
        assert_eq!(w.next_timeout(Duration::from_millis(100)).unwrap(), None, "rv={rv}");
        assert_eq!(w.close_reason(), None);
    }
}

/// Ports store_tests.go RunTestList (cacher_test.go TestList) rows "rejects
/// resource version set too high" and "future resource version,
/// match=Exact": both are 504 TooLargeResourceVersion{N, current} with
/// retry-after 1, after the freshness wait. Documented difference: the text
/// is "Too large resource version: N, current: C" without "Timeout: ".
#[test]
fn list_future_resource_version_is_too_large() {
    let c = seed_multi_level();
    for (rv, m) in
        [(i64::MAX as u64, ResourceVersionMatch::NotOlderThan), (CONTINUE_RV + 2, ResourceVersionMatch::Exact)]
    {
        let start = Instant::now();
        let err =
            c.list_page(&ListRequest::new().resource_version(rv).resource_version_match(m).timeout(SHORT)).unwrap_err();
        assert!(start.elapsed() >= SHORT);
        assert_eq!(err, too_large(rv, CURRENT_RV));
        assert_eq!(
            (err.code(), err.reason(), err.cause(), err.retry_after_seconds()),
            (504, "Timeout", Some("ResourceVersionTooLarge"), Some(1))
        );
        assert_eq!(err.to_string(), format!("Too large resource version: {rv}, current: {CURRENT_RV}"));
    }
}

/// Ports cacher_whitebox_test.go TestConsistentReadFallback, the cache-side
/// rows: cache and storage both at 42 serve the consistent list at 42
/// without blocking; cache at 2 and storage at 42 cannot reach 42 in the
/// timeout. Kubernetes then falls back to etcd (not ported: no delegation);
/// this cache answers 504 TooLargeResourceVersion{42, 2}.
#[test]
fn consistent_read_when_cache_lags() {
    let c = cache();
    c.add(pod("ns", "a", "v1"), 42).unwrap();
    let start = Instant::now();
    let p = list(&c, ListRequest::new().resource_version(42).timeout(WAIT));
    assert_eq!((items(&p), p.resource_version), (vec!["ns/a@42".to_owned()], 42));
    assert!(start.elapsed() < Duration::from_secs(1));

    let lag = cache();
    lag.add(pod("ns", "a", "v1"), 2).unwrap();
    let start = Instant::now();
    let err = lag.list_page(&ListRequest::new().resource_version(42).timeout(SHORT)).unwrap_err();
    assert!(start.elapsed() >= SHORT);
    assert_eq!(err, too_large(42, 2));
}
