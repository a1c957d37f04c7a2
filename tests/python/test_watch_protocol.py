"""Today's Kubernetes list/watch protocol on edgecache.WatchCache: streaming
lists (send_initial_events), periodic and upstream bookmarks, paged lists
(list_page) and Kubernetes selector syntax.

Every wait is bounded; the waits for something that must not come are
short (tens of milliseconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import edgecache

from conftest import interrupt_latency


def summary(events: list[edgecache.Event | None]) -> list[tuple[str, str, int, bool]]:
    out = []
    for e in events:
        assert e is not None, "a read timed out"
        out.append((e.type, e.key, e.resource_version, e.initial_events_end))
    return out


def later(delay: float, fn: Callable[[], object]) -> threading.Thread:
    """Runs `fn` in another thread after `delay` seconds."""

    def run() -> None:
        time.sleep(delay)
        fn()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# ---- streaming list (send_initial_events) ---------------------------------


def test_streaming_list_sends_state_then_one_end_bookmark_then_changes() -> None:
    wc = edgecache.WatchCache()
    wc.add("b", b"b1", 1, labels={"app": "web"})
    wc.add("a", b"a1", 2, labels={"app": "web"})
    wc.add("c", b"c1", 3, labels={"app": "db"})
    wc.update("a", b"a2", 4, labels={"app": "web"})
    with wc.watch(0, label_selector="app=web", send_initial_events=True) as w:
        initial = [w.next(1) for _ in range(3)]
        assert summary(initial) == [
            ("ADDED", "a", 4, False),
            ("ADDED", "b", 4, False),
            ("BOOKMARK", "", 4, True),
        ]
        assert initial[0].object == b"a2"  # type: ignore[union-attr]
        assert initial[2].resource_version == wc.resource_version  # type: ignore[union-attr]
        wc.add("d", b"d1", 5, labels={"app": "web"})
        wc.add("e", b"e1", 6, labels={"app": "db"})  # not selected
        wc.update("b", b"b2", 7, labels={"app": "web"})
        assert summary([w.next(1), w.next(1)]) == [("ADDED", "d", 5, False), ("MODIFIED", "b", 7, False)]
        # No more bookmarks: the end marker comes even without bookmarks=True,
        # but nothing else does.
        assert w.next(0.05) is None


def test_streaming_list_at_an_older_rv_is_the_current_state_not_the_window() -> None:
    wc = edgecache.WatchCache()
    wc.add("a", b"a1", 1)
    wc.update("a", b"a2", 2)
    wc.add("b", b"b1", 3)
    with wc.watch(1, send_initial_events=True) as w:
        # "Not older than" 1: the state at 3, not the MODIFIED event at 2.
        assert summary([w.next(1) for _ in range(3)]) == [
            ("ADDED", "a", 3, False),
            ("ADDED", "b", 3, False),
            ("BOOKMARK", "", 3, True),
        ]
        assert w.next(0.02) is None
    # Without send_initial_events the same rv replays the window instead.
    with wc.watch(1) as w:
        assert summary([w.next(1), w.next(1)]) == [("MODIFIED", "a", 2, False), ("ADDED", "b", 3, False)]


def test_initial_events_end_is_false_on_every_other_event() -> None:
    wc = edgecache.WatchCache()
    wc.replace([("a", b"1")], 1)
    with wc.watch(1, bookmarks=True) as w:
        wc.add("b", b"2", 2)
        wc.bookmark(3)
        wc.delete("a", b"", 4)
        events = [w.next(1) for _ in range(3)]
        assert summary(events) == [
            ("ADDED", "b", 2, False),
            ("BOOKMARK", "", 3, False),
            ("DELETED", "a", 4, False),
        ]
    assert not any(e.initial_events_end for e in wc.events_since(0))


def test_streaming_list_with_a_future_rv_times_out_with_504() -> None:
    wc = edgecache.WatchCache()
    wc.add("a", b"1", 3)
    t0 = time.monotonic()
    with pytest.raises(edgecache.TooLargeResourceVersion) as exc:
        wc.watch(10, send_initial_events=True, timeout=0.1)
    assert time.monotonic() - t0 >= 0.09
    e = exc.value
    assert (e.requested, e.current, e.retry_after_seconds, e.code) == (10, 3, 1, 504)
    assert (e.reason, e.cause) == ("Timeout", "ResourceVersionTooLarge")
    assert str(e) == "Too large resource version: 10, current: 3"
    # Without send_initial_events a future rv is not waited for.
    wc.watch(10, timeout=0).close()


def test_streaming_list_with_a_future_rv_succeeds_when_a_write_arrives_in_time() -> None:
    wc = edgecache.WatchCache()
    wc.add("a", b"1", 3)
    # The writer is a Python thread: it can only run if the waiting watch
    # released the GIL.
    writer = later(0.05, lambda: wc.add("b", b"2", 10))
    t0 = time.monotonic()
    with wc.watch(10, send_initial_events=True, timeout=10) as w:
        assert time.monotonic() - t0 < 5
        assert summary([w.next(1) for _ in range(3)]) == [
            ("ADDED", "a", 10, False),
            ("ADDED", "b", 10, False),
            ("BOOKMARK", "", 10, True),
        ]
    writer.join(5)


def test_ctrl_c_interrupts_a_streaming_list_waiting_for_its_rv() -> None:
    wc = edgecache.WatchCache()
    latency = interrupt_latency(lambda: wc.watch(10, send_initial_events=True, timeout=5))
    assert latency < 0.2, f"KeyboardInterrupt took {latency:.3f} s"


# ---- bookmarks ------------------------------------------------------------


@pytest.mark.parametrize("where", ["cache", "watch"])
def test_periodic_bookmarks_reach_a_watcher_no_event_matches(where: str) -> None:
    if where == "cache":
        wc = edgecache.WatchCache(bookmark_interval=0.02)
        w = wc.watch(0, label_selector={"app": "web"}, bookmarks=True)
    else:
        wc = edgecache.WatchCache()
        w = wc.watch(0, label_selector={"app": "web"}, bookmarks=True, bookmark_interval=0.02)
    got: list[int] = []
    with w:
        for rv in range(1, 6):
            wc.add(f"k{rv}", b"x", rv, labels={"app": "db"})  # never selected
            ev = w.next(timeout=2)
            assert ev is not None, "no periodic bookmark within 2 s"
            assert (ev.type, ev.key, ev.object, ev.initial_events_end) == ("BOOKMARK", "", b"", False)
            got.append(ev.resource_version)
        # Each bookmark carries the cache's resourceVersion when it went
        # out: it advances with the writes and never goes backwards.
        assert got == [1, 2, 3, 4, 5]
        ev = w.next(timeout=2)
        assert ev is not None and (ev.type, ev.resource_version) == ("BOOKMARK", 5)


def test_bookmark_interval_zero_sends_only_the_upstreams_bookmarks() -> None:
    wc = edgecache.WatchCache(bookmark_interval=0.01)
    wc.add("a", b"1", 1)
    with wc.watch(1, bookmarks=True, bookmark_interval=0) as w:
        assert w.next(0.08) is None
        wc.bookmark(2)
        ev = w.next(1)
        assert ev is not None and (ev.type, ev.resource_version) == ("BOOKMARK", 2)
        assert w.next(0.05) is None
    wc0 = edgecache.WatchCache(bookmark_interval=0)
    wc0.add("a", b"1", 1)
    with wc0.watch(1, bookmarks=True) as w:
        assert w.next(0.08) is None


def test_an_upstream_bookmark_reaches_a_bookmarks_watcher_whatever_its_selector() -> None:
    wc = edgecache.WatchCache()  # periodic bookmarks every 60 s: none here
    wc.replace([], 1)
    marked = wc.watch(1, label_selector="app=none", bookmarks=True)
    plain = wc.watch(1)
    wc.bookmark(7)
    ev = marked.next(1)
    assert ev is not None and summary([ev]) == [("BOOKMARK", "", 7, False)]
    assert plain.next(0.02) is None
    marked.close()
    plain.close()


def test_no_bookmarks_without_bookmarks_true() -> None:
    wc = edgecache.WatchCache(bookmark_interval=0.01)
    wc.add("a", b"1", 1)
    with wc.watch(1, bookmark_interval=0.01) as w:
        wc.bookmark(2)
        assert w.next(0.1) is None
        wc.add("b", b"2", 3)
        ev = w.next(1)
        assert ev is not None and (ev.type, ev.resource_version) == ("ADDED", 3)


# ---- list_page ------------------------------------------------------------


def five() -> edgecache.WatchCache:
    wc = edgecache.WatchCache()
    for i in range(5):
        wc.add(f"k{i}", f"v{i}".encode(), i + 1)
    return wc


def test_list_page_pages_come_from_the_first_pages_snapshot() -> None:
    wc = five()
    first = wc.list_page(limit=2, resource_version=5)
    assert isinstance(first, edgecache.ListPage)
    assert [i.key for i in first.items] == ["k0", "k1"]
    assert first.resource_version == 5
    assert isinstance(first.continue_token, str) and first.continue_token
    # Writes between pages do not reach the later pages.
    wc.update("k2", b"changed", 6)
    wc.delete("k3", b"", 7)
    wc.add("k5", b"v5", 8)
    wc.add("k10", b"v10", 9)  # sorts between k1 and k2
    second = wc.list_page(limit=2, continue_token=first.continue_token)
    assert [(i.key, i.object, i.resource_version) for i in second.items] == [("k2", b"v2", 3), ("k3", b"v3", 4)]
    assert second.resource_version == 5
    assert isinstance(second.continue_token, str)
    third = wc.list_page(limit=2, continue_token=second.continue_token)
    assert [i.key for i in third.items] == ["k4"]
    assert third.resource_version == 5
    assert third.continue_token is None
    # A fresh listing sees the writes.
    now = wc.list_page(limit=10, resource_version=9)
    assert [i.key for i in now.items] == ["k0", "k1", "k10", "k2", "k4", "k5"]
    assert now.continue_token is None and now.resource_version == 9


def test_list_page_at_rv_zero_ignores_limit() -> None:
    wc = five()
    page = wc.list_page(limit=2)
    assert [i.key for i in page.items] == ["k0", "k1", "k2", "k3", "k4"]
    assert page.continue_token is None and page.resource_version == 5
    # No limit at a non-zero rv: also one page.
    for limit in (None, 0):
        page = wc.list_page(limit=limit, resource_version=3)
        assert len(page.items) == 5 and page.continue_token is None


def test_list_page_exact_gives_the_state_at_an_older_rv() -> None:
    wc = five()
    wc.update("k0", b"new", 6)
    wc.delete("k1", b"", 7)
    page = wc.list_page(resource_version=3, resource_version_match="Exact")
    assert [(i.key, i.object) for i in page.items] == [("k0", b"v0"), ("k1", b"v1"), ("k2", b"v2")]
    assert page.resource_version == 3 and page.continue_token is None
    # Paged, Exact: the next page comes from the same state.
    p1 = wc.list_page(limit=2, resource_version=3, resource_version_match="Exact")
    assert [i.key for i in p1.items] == ["k0", "k1"] and p1.continue_token is not None
    p2 = wc.list_page(limit=2, continue_token=p1.continue_token)
    assert [i.key for i in p2.items] == ["k2"] and p2.resource_version == 3
    # NotOlderThan (named, or unset without a limit) at 3 is the current state.
    for match in ("NotOlderThan", None):
        page = wc.list_page(resource_version=3, resource_version_match=match)
        assert [(i.key, i.object) for i in page.items] == [("k0", b"new"), ("k2", b"v2"), ("k3", b"v3"), ("k4", b"v4")]
        assert page.resource_version == 7
    # Unset is NotOlderThan with a limit too (SPEC's default).
    paged = wc.list_page(limit=2, resource_version=3)
    assert [(i.key, i.object) for i in paged.items] == [("k0", b"new"), ("k2", b"v2")]
    assert paged.resource_version == 7 and paged.continue_token is not None


def test_list_page_exact_with_rv_zero_is_an_invalid_argument() -> None:
    wc = five()
    with pytest.raises(ValueError, match="Exact requires a non-zero resource version") as exc:
        wc.list_page(resource_version_match="Exact")
    assert not isinstance(exc.value, edgecache.InvalidSelector)


def test_list_page_with_an_expired_token_raises_410() -> None:
    wc = edgecache.WatchCache(capacity=2, max_capacity=2)
    wc.replace([(f"k{i}", b"x") for i in range(5)], 10)
    first = wc.list_page(limit=2, resource_version=10)
    assert first.continue_token is not None
    for rv in (11, 12, 13):  # the window keeps 12 and 13: rv 10 has left it
        wc.add(f"n{rv}", b"y", rv)
    with pytest.raises(edgecache.ResourceExpired) as exc:
        wc.list_page(limit=2, continue_token=first.continue_token)
    e = exc.value
    assert (e.requested, e.oldest, e.code) == (10, 11, 410)
    assert (e.reason, e.cause, e.retry_after_seconds) == ("Expired", None, None)
    with pytest.raises(edgecache.ResourceExpired) as exc:
        wc.list_page(resource_version=10, resource_version_match="Exact")
    assert (exc.value.requested, exc.value.oldest) == (10, 11)


def test_list_page_waits_for_its_rv_without_holding_the_gil() -> None:
    wc = five()
    writer = later(0.05, lambda: wc.add("k9", b"v9", 9))
    page = wc.list_page(limit=2, resource_version=9, timeout=10)
    assert page.resource_version == 9 and [i.key for i in page.items] == ["k0", "k1"]
    writer.join(5)
    with pytest.raises(edgecache.TooLargeResourceVersion) as exc:
        wc.list_page(resource_version=20, timeout=0.05)
    assert (exc.value.requested, exc.value.current) == (20, 9)
    with pytest.raises(edgecache.TooLargeResourceVersion):
        wc.list_page(resource_version=20, resource_version_match="Exact", timeout=0)


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"limit": -1}, ValueError, "limit must not be negative"),
        ({"limit": "2"}, TypeError, "limit must be an int"),
        ({"continue_token": 5}, TypeError, "continue_token must be a str or None"),
        ({"continue_token": "not-a-token"}, ValueError, "continue key is not valid"),
        ({"resource_version_match": "Newest"}, ValueError, "resource_version_match must be"),
        ({"resource_version_match": 1}, TypeError, "resource_version_match must be a str or None"),
        ({"resource_version": -1}, ValueError, "resource_version must not be negative"),
        ({"timeout": -1}, ValueError, "timeout must not be negative"),
    ],
)
def test_list_page_bad_arguments(kwargs: dict[str, object], exc: type[Exception], message: str) -> None:
    wc = five()
    with pytest.raises(exc, match=message):
        wc.list_page(**kwargs)  # type: ignore[arg-type]


def test_list_page_token_with_a_resource_version_is_an_invalid_argument() -> None:
    wc = five()
    tok = wc.list_page(limit=2, resource_version=5).continue_token
    assert tok is not None
    with pytest.raises(ValueError, match="not allowed with continue"):
        wc.list_page(limit=2, continue_token=tok, resource_version=5)


# ---- selectors ------------------------------------------------------------


def labelled() -> edgecache.WatchCache:
    wc = edgecache.WatchCache(fields=["spec.nodeName", "metadata.name"])
    wc.add("a", b"a", 1, labels={"app": "web", "tier": "front"}, fields={"spec.nodeName": "n1"})
    wc.add("b", b"b", 2, labels={"app": "api"}, fields={"spec.nodeName": "n2"})
    wc.add("c", b"c", 3, labels={"app": "db", "canary": "true"}, fields={"spec.nodeName": "n1"})
    wc.add("d", b"d", 4)
    return wc


def selected(wc: edgecache.WatchCache, **selectors: str) -> list[str]:
    """The keys `list`, `list_page` and a streaming watch select; they must
    agree."""
    items, _ = wc.list(**selectors)  # type: ignore[arg-type]
    keys = [i.key for i in items]
    assert [i.key for i in wc.list_page(**selectors).items] == keys  # type: ignore[arg-type]
    with wc.watch(0, send_initial_events=True, **selectors) as w:  # type: ignore[arg-type]
        streamed = []
        while True:
            ev = w.next(1)
            assert ev is not None
            if ev.initial_events_end:
                break
            streamed.append(ev.key)
    assert streamed == keys
    return keys


@pytest.mark.parametrize(
    ("selector", "keys"),
    [
        ("app in (web,api)", ["a", "b"]),
        ("app notin (web, api)", ["c", "d"]),
        ("app", ["a", "b", "c"]),
        ("!app", ["d"]),
        ("app,!canary", ["a", "b"]),
        ("app=web", ["a"]),
        ("app==api", ["b"]),
        ("app!=web", ["b", "c", "d"]),
        ("", ["a", "b", "c", "d"]),
    ],
)
def test_label_selector_strings(selector: str, keys: list[str]) -> None:
    assert selected(labelled(), label_selector=selector) == keys


@pytest.mark.parametrize(
    ("selector", "keys"),
    [
        ("app!=web,app!=api", ["c", "d"]),
        ("app=web,app=api", []),
        ("app in (web,api),app notin (api)", ["a"]),
        ("app,app!=db", ["a", "b"]),
    ],
)
def test_repeated_label_keys_all_hold(selector: str, keys: list[str]) -> None:
    assert selected(labelled(), label_selector=selector) == keys


@pytest.mark.parametrize(
    ("selector", "keys"),
    [
        ("spec.nodeName!=n1", ["b", "d"]),  # an absent field counts as ""
        ("spec.nodeName=n1", ["a", "c"]),
        ("spec.nodeName==n2", ["b"]),
        ("spec.nodeName!=n1,spec.nodeName!=n2", ["d"]),
        ("spec.nodeName=", ["d"]),
    ],
)
def test_field_selector_strings(selector: str, keys: list[str]) -> None:
    assert selected(labelled(), field_selector=selector) == keys


def test_label_and_field_strings_together_and_a_dict_still_works() -> None:
    wc = labelled()
    assert selected(wc, label_selector="app", field_selector="spec.nodeName!=n2") == ["a", "c"]
    items, _ = wc.list(label_selector={"app": "web"}, field_selector={"spec.nodeName": "n1"})
    assert [i.key for i in items] == ["a"]


def test_a_watch_with_string_selectors_filters_live_events() -> None:
    wc = labelled()
    with wc.watch(4, label_selector="app in (web,db)", field_selector="spec.nodeName!=n1") as w:
        wc.add("e", b"e", 5, labels={"app": "web"}, fields={"spec.nodeName": "n3"})  # selected
        wc.add("f", b"f", 6, labels={"app": "web"}, fields={"spec.nodeName": "n1"})  # field excludes
        wc.add("g", b"g", 7, labels={"app": "api"}, fields={"spec.nodeName": "n3"})  # label excludes
        wc.update("e", b"e2", 8, labels={"app": "db"}, fields={"spec.nodeName": "n1"})  # leaves: DELETED
        assert summary([w.next(1), w.next(1)]) == [("ADDED", "e", 5, False), ("DELETED", "e", 8, False)]
        assert w.next(0.02) is None


@pytest.mark.parametrize("form", ["str", "dict"])
def test_a_field_the_cache_does_not_extract_raises_invalid_selector(form: str) -> None:
    wc = labelled()
    sel: str | dict[str, str] = "status.phase=Running" if form == "str" else {"status.phase": "Running"}
    calls: list[Callable[[], object]] = [
        lambda: wc.list(field_selector=sel),
        lambda: wc.list_page(field_selector=sel),
        lambda: wc.watch(0, field_selector=sel),
        lambda: wc.watch(4, field_selector=sel, send_initial_events=True),
    ]
    for call in calls:
        with pytest.raises(edgecache.InvalidSelector, match="status.phase") as exc:
            call()
        assert isinstance(exc.value, ValueError) and isinstance(exc.value, edgecache.Error)
    # Declared fields are fine, even on an empty cache.
    empty = edgecache.WatchCache(fields=["status.phase"])
    assert empty.list(field_selector=sel) == ([], 0)


def test_learned_fields_reject_a_field_no_write_carried() -> None:
    wc = edgecache.WatchCache()
    # Nothing carried a field yet: every name is accepted.
    assert wc.list(field_selector="status.phase=Running") == ([], 0)
    wc.add("a", b"a", 1, fields={"spec.nodeName": "n1"})
    assert [i.key for i in wc.list(field_selector="spec.nodeName=n1")[0]] == ["a"]
    with pytest.raises(edgecache.InvalidSelector, match="status.phase"):
        wc.list(field_selector="status.phase=Running")


def test_an_invalid_selector_does_not_wait_for_freshness() -> None:
    wc = labelled()
    t0 = time.monotonic()
    with pytest.raises(edgecache.InvalidSelector):
        wc.list(100, field_selector="status.phase=x", timeout=5)
    with pytest.raises(edgecache.InvalidSelector):
        wc.watch(100, field_selector="status.phase=x", send_initial_events=True, timeout=5)
    with pytest.raises(edgecache.InvalidSelector):
        wc.list_page(resource_version=100, field_selector="status.phase=x", timeout=5)
    assert time.monotonic() - t0 < 1


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"label_selector": "app in (web"}, "app in (web"),
        ({"label_selector": "app in ()"}, "must not be empty"),
        ({"label_selector": "app=web x"}, "expected a comma"),
        ({"label_selector": "-bad=1"}, "invalid label key"),
        ({"label_selector": "app=web,"}, "comma must be followed"),
        ({"field_selector": "novalue"}, "novalue"),
        ({"field_selector": "spec.nodeName in (n1)"}, "spec.nodeName in"),
        ({"field_selector": "a=\\q"}, "bad escape"),
    ],
)
def test_bad_selector_syntax_raises_invalid_selector(kwargs: dict[str, str], fragment: str) -> None:
    wc = labelled()
    calls: list[Callable[..., object]] = [wc.list, wc.list_page, lambda **kw: wc.watch(0, **kw)]
    for call in calls:
        with pytest.raises(edgecache.InvalidSelector) as exc:
            call(**kwargs)
        assert fragment in str(exc.value)
        assert isinstance(exc.value, ValueError)
    with pytest.raises(ValueError):  # catchable as the built-in
        wc.list(**kwargs)  # type: ignore[arg-type]
    assert wc.resource_version == 4 and len(wc) == 4


# ---- constructor and watch arguments ---------------------------------------

NOT_SECONDS: Any = "1"
NOT_STR: Any = 1


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: edgecache.WatchCache(bookmark_interval=-1), ValueError, "bookmark_interval must not be negative"),
        (lambda: edgecache.WatchCache(bookmark_interval=float("nan")), ValueError, "not NaN"),
        (lambda: edgecache.WatchCache(bookmark_interval=NOT_SECONDS), TypeError, "bookmark_interval must be a number"),
        (lambda: edgecache.WatchCache(fields="spec.nodeName"), TypeError, "not a single str"),
        (lambda: edgecache.WatchCache(fields=[NOT_STR]), TypeError, "fields must hold str"),
        (lambda: edgecache.WatchCache(fields=[""]), ValueError, "empty"),
        (lambda: edgecache.WatchCache().watch(0, bookmark_interval=-0.5), ValueError, "must not be negative"),
        (lambda: edgecache.WatchCache().watch(0, timeout=-1), ValueError, "timeout must not be negative"),
    ],
)
def test_bad_protocol_arguments(call: Callable[[], object], exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        call()


def test_constructor_keeps_its_positional_order() -> None:
    wc = edgecache.WatchCache(5, 10, 1000, ["label:app"], bookmark_interval=0.5, fields=["spec.nodeName"])
    assert "capacity=5" in repr(wc)
    with pytest.raises(TypeError):
        edgecache.WatchCache(5, 10, 1000, [], 0.5)  # type: ignore[misc]
    # An infinite interval means no periodic bookmarks; None the default.
    for every in (float("inf"), None):
        wc = edgecache.WatchCache(bookmark_interval=every)
        wc.add("a", b"1", 1)
        with wc.watch(1, bookmarks=True) as w:
            assert w.next(0.02) is None
