"""The public names of `import edgecache`, the exception hierarchy, reprs."""

from __future__ import annotations

import re

import pytest

import edgecache
from edgecache import _native

PUBLIC = {
    "__version__",
    "Flight",
    "Cache",
    "CacheStats",
    "Group",
    "Stats",
    "get_group",
    "MAIN_CACHE",
    "HOT_CACHE",
    "WatchCache",
    "Watcher",
    "Event",
    "Item",
    "Error",
    "ResourceExpired",
    "TooLargeResourceVersion",
    "Timeout",
    "LoaderPanicked",
    "Closed",
    "InvalidSelector",
    "RecursiveLoad",
    "NoValue",
    "StoreLocked",
    "StoreCorrupt",
    "ListPage",
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(edgecache.__all__) == PUBLIC
    assert len(edgecache.__all__) == len(PUBLIC)
    for name in PUBLIC:
        assert getattr(edgecache, name) is getattr(_native, name)


def test_version_matches_the_crate() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", edgecache.__version__)
    from importlib.metadata import version

    assert version("edgecache") == edgecache.__version__


def test_cache_type_constants() -> None:
    assert edgecache.MAIN_CACHE == 1
    assert edgecache.HOT_CACHE == 2


def test_exception_hierarchy() -> None:
    E = edgecache
    assert issubclass(E.Error, Exception)
    for cls in (
        E.ResourceExpired,
        E.TooLargeResourceVersion,
        E.Timeout,
        E.LoaderPanicked,
        E.Closed,
        E.InvalidSelector,
        E.RecursiveLoad,
        E.NoValue,
        E.StoreLocked,
        E.StoreCorrupt,
    ):
        assert issubclass(cls, E.Error)
        assert cls.__module__ == "edgecache"
    assert issubclass(E.Timeout, TimeoutError)
    assert issubclass(E.InvalidSelector, ValueError)
    assert issubclass(E.NoValue, TypeError)
    # Defined in Python (edgecache/_errors.py), raised by the extension.
    from edgecache import _errors

    assert E.Error is _errors.Error and E.NoValue is _errors.NoValue
    assert (E.ResourceExpired.reason, E.ResourceExpired.cause, E.ResourceExpired.retry_after_seconds) == (
        "Expired",
        None,
        None,
    )
    assert (E.TooLargeResourceVersion.reason, E.TooLargeResourceVersion.cause) == (
        "Timeout",
        "ResourceVersionTooLarge",
    )
    assert E.ResourceExpired.code == 410
    assert E.TooLargeResourceVersion.code == 504
    assert E.TooLargeResourceVersion.retry_after_seconds == 1
    # Catchable as the built-in too.
    with pytest.raises(TimeoutError):
        raise E.Timeout("x")


def test_classes_live_in_edgecache_and_are_final() -> None:
    for cls in (edgecache.Flight, edgecache.Cache, edgecache.Group, edgecache.WatchCache, edgecache.Event):
        assert cls.__module__ == "edgecache"
        with pytest.raises(TypeError):

            class Sub(cls):  # type: ignore[misc, valid-type]
                pass


def test_reprs(group_name: str) -> None:
    assert repr(edgecache.Flight()) == "<edgecache.Flight in_flight=0>"
    c = edgecache.Cache(100)
    c.set("k", b"vv")
    assert repr(c) == "<edgecache.Cache max_bytes=100 items=1 bytes=3>"
    assert repr(c.stats()) == "CacheStats(bytes=3, items=1, gets=0, hits=0, evictions=0)"
    g = edgecache.Group(group_name, 1000, lambda k: b"v")
    assert repr(g) == f'<edgecache.Group name="{group_name}" cache_bytes=1000>'
    assert repr(g.stats()).startswith("Stats(gets=0, cache_hits=0, peer_loads=0,")
    g.close()
    assert repr(g).endswith(" closed>")
    wc = edgecache.WatchCache()
    wc.add("ns/a", b"x", 5)
    assert repr(wc) == "<edgecache.WatchCache resource_version=5 items=1 events=1 capacity=100 watchers=0>"
    (ev,) = wc.events_since(4)
    assert repr(ev) == 'Event(type="ADDED", key="ns/a", resource_version=5)'
    assert repr(wc.get("ns/a")) == 'Item(key="ns/a", resource_version=5)'
    w = wc.watch(5)
    assert repr(w) == "<edgecache.Watcher pending=0>"
    w.close()
    assert repr(w) == '<edgecache.Watcher pending=0 closed="stopped">'


def test_stats_objects_are_read_only_and_comparable() -> None:
    c = edgecache.Cache(100)
    s = c.stats()
    with pytest.raises(AttributeError):
        s.hits = 3  # type: ignore[misc]
    assert s == c.stats()
    c.get("x")
    assert s != c.stats()
