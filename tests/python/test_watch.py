"""edgecache.WatchCache, Watcher, Event and Item."""

from __future__ import annotations

import threading
import time

import pytest

import edgecache


def rvs(events: list[edgecache.Event]) -> list[int]:
    return [e.resource_version for e in events]


def test_events_carry_type_key_objects_rv_labels_fields() -> None:
    wc = edgecache.WatchCache()
    wc.replace([], 10)
    wc.add("ns/a", b"a1", 11, labels={"app": "web"}, fields={"spec.nodeName": "n1"})
    wc.update(b"ns/a", b"a2", 12, labels={"app": "web"})
    wc.delete("ns/a", b"gone", 13)
    assert wc.resource_version == 13
    added, modified, deleted = wc.events_since(10)
    assert (added.type, modified.type, deleted.type) == ("ADDED", "MODIFIED", "DELETED")
    assert added.key == modified.key == deleted.key == "ns/a"
    assert (added.object, added.prev_object) == (b"a1", None)
    assert (modified.object, modified.prev_object) == (b"a2", b"a1")
    assert (deleted.object, deleted.prev_object) == (b"gone", b"a2")
    assert rvs([added, modified, deleted]) == [11, 12, 13]
    assert added.labels == {"app": "web"} and added.fields == {"spec.nodeName": "n1"}
    assert modified.fields == {}
    assert added == wc.events_since(10)[0] and added != modified
    assert wc.events_since(12) == [deleted]
    assert wc.events_since(13) == []
    # A resourceVersion the cache has not reached: nothing after it is known.
    assert wc.events_since(99) == []


def test_rv_zero_is_the_current_state_as_added_events() -> None:
    wc = edgecache.WatchCache()
    wc.add("b", b"2", 1)
    wc.add("a", b"1", 2)
    wc.update("b", b"3", 3)
    events = wc.events_since(0)
    assert [(e.type, e.key, e.object, e.resource_version) for e in events] == [
        ("ADDED", "a", b"1", 3),
        ("ADDED", "b", b"3", 3),
    ]
    assert len(wc) == 2


def test_window_overflow_gives_410() -> None:
    wc = edgecache.WatchCache(capacity=3, max_capacity=3)
    for rv in range(1, 7):
        wc.add(f"k{rv}", b"x", rv)
    assert rvs(wc.events_since(3)) == [4, 5, 6]  # rv == oldest - 1 still works
    with pytest.raises(edgecache.ResourceExpired) as exc:
        wc.events_since(2)  # rv < oldest - 1
    e = exc.value
    assert e.code == 410
    assert isinstance(e, edgecache.Error)
    assert "too old resource version" in str(e)
    assert (e.requested, e.oldest) == (2, 3)
    with pytest.raises(edgecache.ResourceExpired):
        wc.watch(1)


def test_max_bytes_bounds_the_window() -> None:
    wc = edgecache.WatchCache(capacity=100, max_bytes=50)
    wc.replace([], 1)
    for rv in range(2, 12):
        wc.add(f"k{rv:02d}", b"x" * 17, rv)  # 3 + 17 = 20 bytes counted each
    with pytest.raises(edgecache.ResourceExpired):
        wc.events_since(1)
    assert rvs(wc.events_since(9)) == [10, 11]  # two events = 40 bytes <= 50


def test_replace_resets_the_window() -> None:
    wc = edgecache.WatchCache()
    wc.add("old", b"o", 1)
    wc.add("older", b"o", 2)
    wc.replace([("ns/a", b"a", {"app": "web"}, None), ("ns/b", b"b"), ("ns/c", b"c", None, {"f": "1"})], 5)
    assert wc.resource_version == 5
    assert wc.events_since(5) == []
    with pytest.raises(edgecache.ResourceExpired):
        wc.events_since(4)
    items, rv = wc.list()
    assert rv == 5
    assert [(i.key, i.object, i.resource_version) for i in items] == [
        ("ns/a", b"a", 5),
        ("ns/b", b"b", 5),
        ("ns/c", b"c", 5),
    ]
    assert items[0].labels == {"app": "web"} and items[2].fields == {"f": "1"}
    # Any iterable of tuples works, a generator included.
    wc.replace(((f"g{i}", b"v") for i in range(3)), 6)
    assert len(wc) == 3


def test_wait_until_fresh_returns_once_the_rv_arrives() -> None:
    wc = edgecache.WatchCache()
    wc.add("a", b"1", 1)
    wc.wait_until_fresh(1)  # already fresh: returns at once
    threading.Timer(0.1, lambda: wc.add("b", b"2", 7)).start()
    t0 = time.monotonic()
    wc.wait_until_fresh(7, timeout=10)
    assert time.monotonic() - t0 < 5
    # A bookmark also makes the cache fresh.
    threading.Timer(0.05, lambda: wc.bookmark(9)).start()
    wc.wait_until_fresh(9, timeout=10)
    assert wc.resource_version == 9


def test_wait_until_fresh_times_out_with_504() -> None:
    wc = edgecache.WatchCache()
    wc.add("a", b"1", 3)
    t0 = time.monotonic()
    with pytest.raises(edgecache.TooLargeResourceVersion) as exc:
        wc.wait_until_fresh(100, timeout=0.1)
    assert time.monotonic() - t0 >= 0.09
    e = exc.value
    assert e.code == 504 and e.retry_after_seconds == 1
    assert (e.requested, e.current) == (100, 3)
    with pytest.raises(edgecache.TooLargeResourceVersion):
        wc.wait_until_fresh(100, timeout=0)
    with pytest.raises(edgecache.TooLargeResourceVersion):
        wc.list(100, timeout=0.05)
    with pytest.raises(edgecache.TooLargeResourceVersion):
        wc.get("a", 100, timeout=0.05)


@pytest.mark.parametrize("indexes", [(), ["label:app", "field:spec.nodeName"]])
def test_list_and_get_with_selectors(indexes: list[str]) -> None:
    wc = edgecache.WatchCache(indexes=indexes)
    wc.add("ns/a", b"a", 1, labels={"app": "web", "tier": "front"}, fields={"spec.nodeName": "n1"})
    wc.add("ns/b", b"b", 2, labels={"app": "web"}, fields={"spec.nodeName": "n2"})
    wc.add("ns/c", b"c", 3, labels={"app": "db"}, fields={"spec.nodeName": "n1"})

    def keys(**kw: object) -> list[str]:
        items, rv = wc.list(**kw)  # type: ignore[arg-type]
        assert rv == 3
        return [i.key for i in items]

    assert keys() == ["ns/a", "ns/b", "ns/c"]
    assert keys(label_selector={"app": "web"}) == ["ns/a", "ns/b"]
    assert keys(field_selector={"spec.nodeName": "n1"}) == ["ns/a", "ns/c"]
    assert keys(label_selector={"app": "web"}, field_selector={"spec.nodeName": "n1"}) == ["ns/a"]
    assert keys(label_selector={"app": "web", "tier": "front"}) == ["ns/a"]
    assert keys(label_selector={"app": "none"}) == []
    assert keys(resource_version=2) == ["ns/a", "ns/b", "ns/c"]
    item = wc.get("ns/b", 3)
    assert item is not None and (item.object, item.resource_version, item.labels) == (b"b", 2, {"app": "web"})
    assert wc.get("ns/zzz") is None
    assert wc.get("ns/a") == wc.get("ns/a")


def test_watch_backlog_then_live_events() -> None:
    wc = edgecache.WatchCache()
    wc.replace([("a", b"1")], 1)
    wc.update("a", b"2", 2)
    with wc.watch(1) as w:
        ev = w.next(timeout=1)
        assert ev is not None and (ev.type, ev.resource_version) == ("MODIFIED", 2)
        assert w.next(timeout=0.05) is None  # a timeout is not a close
        assert w.close_reason is None
        threading.Timer(0.05, lambda: wc.add("b", b"3", 3)).start()
        ev = w.next(timeout=10)
        assert ev is not None and (ev.type, ev.key, ev.resource_version) == ("ADDED", "b", 3)
    assert w.close_reason == "stopped"
    with pytest.raises(edgecache.Closed):
        w.next(timeout=0)


def test_watch_from_zero_starts_with_the_state() -> None:
    wc = edgecache.WatchCache()
    wc.add("a", b"1", 1)
    wc.add("b", b"1", 2)
    w = wc.watch(0)
    assert [(e.type, e.key, e.resource_version) for e in (w.next(1), w.next(1))] == [  # type: ignore[union-attr]
        ("ADDED", "a", 2),
        ("ADDED", "b", 2),
    ]
    w.close()


def test_watch_with_selectors_turns_changes_into_added_and_deleted() -> None:
    wc = edgecache.WatchCache(indexes=["label:app"])
    wc.replace([], 1)
    w = wc.watch(1, label_selector={"app": "web"})
    wc.add("a", b"1", 2, labels={"app": "db"})  # not for us
    wc.update("a", b"2", 3, labels={"app": "web"})  # starts matching: ADDED
    wc.update("a", b"3", 4, labels={"app": "web"})  # MODIFIED
    wc.update("a", b"4", 5, labels={"app": "db"})  # stops matching: DELETED
    got = [w.next(1) for _ in range(3)]
    assert [(e.type, e.resource_version, e.object) for e in got] == [  # type: ignore[union-attr]
        ("ADDED", 3, b"2"),
        ("MODIFIED", 4, b"3"),
        ("DELETED", 5, b"3"),
    ]
    assert w.next(timeout=0) is None
    w.close()


def test_slow_watcher_is_closed_with_a_reason_after_delivering_what_it_holds() -> None:
    wc = edgecache.WatchCache()
    wc.replace([], 1)
    w = wc.watch(1, buffer=2)
    for rv in range(2, 7):
        wc.add(f"k{rv}", b"x", rv)  # the writer never blocks
    assert w.close_reason == "fell_behind"
    assert w.pending == 2
    assert rvs([w.next(0), w.next(0)]) == [2, 3]  # type: ignore[list-item]
    with pytest.raises(edgecache.Closed) as exc:
        w.next(timeout=1)
    assert exc.value.reason == "fell_behind"
    assert "fell behind" in str(exc.value) and "buffer of 2 events" in str(exc.value)
    # Iteration does not end silently either.
    w2 = wc.watch(6, buffer=1)
    wc.add("x", b"x", 7)
    wc.add("y", b"y", 8)
    seen = []
    with pytest.raises(edgecache.Closed):
        for ev in w2:
            seen.append(ev.resource_version)
    assert seen == [7]


def test_relist_and_cache_close_end_watchers_with_their_reason() -> None:
    wc = edgecache.WatchCache()
    wc.replace([], 1)
    w = wc.watch(1)
    wc.add("a", b"1", 2)
    wc.replace([("a", b"2")], 5)
    assert w.next(1).resource_version == 2  # type: ignore[union-attr]
    with pytest.raises(edgecache.Closed) as exc:
        w.next(1)
    assert exc.value.reason == "relisted"

    w = wc.watch(5)
    wc.add("b", b"1", 6)
    wc.close()
    assert wc.closed
    assert w.next(1).resource_version == 6  # type: ignore[union-attr]
    with pytest.raises(edgecache.Closed) as exc:
        w.next(1)
    assert exc.value.reason == "cache_closed"
    for call in (lambda: wc.add("c", b"1", 7), lambda: wc.events_since(0), lambda: wc.wait_until_fresh(1)):
        with pytest.raises(edgecache.Closed) as exc:
            call()
        assert exc.value.reason == "cache_closed"
    wc.close()  # idempotent


def test_iteration_ends_when_the_owner_closes_the_watcher() -> None:
    wc = edgecache.WatchCache()
    wc.replace([], 1)
    w = wc.watch(1)
    wc.add("a", b"1", 2)
    threading.Timer(0.2, w.close).start()
    t0 = time.monotonic()
    seen = [ev.key for ev in w]  # blocks until the close from the timer
    assert seen == ["a"]
    assert time.monotonic() - t0 < 5


def test_close_wakes_a_blocked_reader_in_another_thread() -> None:
    wc = edgecache.WatchCache()
    w = wc.watch(0)
    out: list[BaseException] = []

    def reader() -> None:
        try:
            w.next(timeout=10)
        except edgecache.Closed as e:
            out.append(e)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.1)
    w.close()
    t.join(5)
    assert not t.is_alive() and len(out) == 1 and out[0].reason == "stopped"  # type: ignore[attr-defined]


def test_bookmarks() -> None:
    wc = edgecache.WatchCache()
    wc.replace([], 1)
    plain = wc.watch(1)
    marked = wc.watch(1, bookmarks=True)
    wc.bookmark(4)
    ev = marked.next(1)
    assert ev is not None and (ev.type, ev.key, ev.object, ev.resource_version) == ("BOOKMARK", "", b"", 4)
    assert plain.next(0) is None
    plain.close()
    marked.close()


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: edgecache.WatchCache(capacity=0), ValueError, "capacity must be at least 1"),
        (lambda: edgecache.WatchCache(capacity=-3), ValueError, "capacity must not be negative"),
        (lambda: edgecache.WatchCache(capacity="5"), TypeError, "capacity must be an int, not str"),
        (lambda: edgecache.WatchCache(10, max_capacity=5), ValueError, r"max_capacity \(5\) must be at least"),
        (lambda: edgecache.WatchCache(max_bytes=0), ValueError, "max_bytes must be at least 1"),
        (lambda: edgecache.WatchCache(max_bytes=-1), ValueError, "max_bytes must not be negative"),
        (lambda: edgecache.WatchCache(indexes="label:app"), TypeError, "not a single str"),
        (lambda: edgecache.WatchCache(indexes=[1]), TypeError, "indexes must hold str"),
        (lambda: edgecache.WatchCache(indexes=["app"]), ValueError, 'index "app": expected "label:<name>"'),
    ],
)
def test_bad_constructor_arguments(call, exc, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda wc: wc.add("k", b"v", 5), ValueError, "does not move forward: the cache is at 5"),
        (lambda wc: wc.add("k", b"v", -1), ValueError, "resource_version must not be negative"),
        (lambda wc: wc.add("k", b"v", 2**64), ValueError, "resource_version must be at most"),
        (lambda wc: wc.add("k", b"v", "6"), TypeError, "resource_version must be an int, not str"),
        (lambda wc: wc.add("", b"v", 6), ValueError, "key must not be empty"),
        (lambda wc: wc.add(6, b"v", 6), TypeError, "key must be str or bytes, not int"),
        (lambda wc: wc.add(b"\xff", b"v", 6), ValueError, "key must be valid UTF-8"),
        (lambda wc: wc.add("k", "v", 6), TypeError, "obj must be bytes, not str"),
        (lambda wc: wc.add("k", b"v", 6, labels={"a": 1}), TypeError, "labels must map str to str, found str: int"),
        (lambda wc: wc.add("k", b"v", 6, fields=["a"]), TypeError, "fields must be a dict of str to str"),
        (lambda wc: wc.replace([("k",)], 6), TypeError, r"items must hold \(key, obj, labels, fields\) tuples"),
        (lambda wc: wc.replace("abc", 6), TypeError, "items must be an iterable"),
        (lambda wc: wc.replace([], 4), ValueError, "older than the cache's 5"),
        (lambda wc: wc.events_since(None), TypeError, "resource_version must be an int, not NoneType"),
        (lambda wc: wc.list(label_selector=5), TypeError, "label_selector must be a str in Kubernetes selector"),
        (lambda wc: wc.list(field_selector=b"a=b"), TypeError, "field_selector must be a str in Kubernetes"),
        (lambda wc: wc.list(timeout=-1), ValueError, "timeout must not be negative"),
        (lambda wc: wc.wait_until_fresh(1, timeout="x"), TypeError, "number of seconds"),
        (lambda wc: wc.watch(0, buffer=0), ValueError, "buffer must be at least 1"),
        (lambda wc: wc.watch(0, buffer=-1), ValueError, "buffer must not be negative"),
        (lambda wc: wc.watch(0, field_selector={1: "x"}), TypeError, "field_selector must map str to str"),
        (lambda wc: wc.get(None), TypeError, "key must be str or bytes, not NoneType"),
    ],
)
def test_bad_method_arguments_leave_the_cache_intact(call, exc, message) -> None:  # type: ignore[no-untyped-def]
    wc = edgecache.WatchCache()
    wc.add("k", b"v", 5)
    with pytest.raises(exc, match=message):
        call(wc)
    assert wc.resource_version == 5 and len(wc) == 1 and wc.get("k").object == b"v"  # type: ignore[union-attr]
