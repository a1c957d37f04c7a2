"""edgecache.Cache: a byte-bounded LRU of bytes."""

from __future__ import annotations

import threading
import time

import pytest

import edgecache

from conftest import run_threads


def test_set_get_remove_len_contains() -> None:
    c = edgecache.Cache(1 << 20)
    assert c.get("a") is None
    assert c.set("a", b"1") is True
    assert c.get("a") == b"1"
    assert type(c.get("a")) is bytes
    assert "a" in c and b"a" in c and "b" not in c
    assert len(c) == 1
    assert c.remove("a") is True
    assert c.remove("a") is False
    assert c.get("a") is None and len(c) == 0
    assert c.max_bytes == 1 << 20


def test_str_key_is_its_utf8_bytes() -> None:
    c = edgecache.Cache(1000)
    c.set("ключ", b"v")
    assert c.get("ключ".encode()) == b"v"
    assert c.stats().bytes == len("ключ".encode()) + 1


def test_entry_cost_and_lru_eviction() -> None:
    c = edgecache.Cache(100)
    for i in range(3):
        c.set(f"k{i}", b"x" * 28)  # 2 + 28 = 30 bytes each
    assert c.stats().bytes == 90
    c.get("k0")  # k0 becomes the most recently used; k1 is the oldest
    c.set("k3", b"x" * 28)
    assert c.get("k1") is None
    assert [c.get(k) is not None for k in ("k0", "k2", "k3")] == [True, True, True]
    s = c.stats()
    assert s.bytes == 90 and s.items == 3 and s.evictions == 1
    assert s.bytes <= c.max_bytes


def test_replace_does_not_double_count() -> None:
    c = edgecache.Cache(100)
    c.set("k", b"x" * 50)
    c.set("k", b"y" * 60)
    assert c.stats().bytes == 61
    assert c.stats().items == 1
    assert c.get("k") == b"y" * 60


def test_value_larger_than_the_budget_is_not_kept() -> None:
    c = edgecache.Cache(10)
    c.set("k", b"small")
    assert c.set("k", b"x" * 100) is False
    assert c.get("k") is None  # the old value is not served either
    assert c.stats().bytes == 0


def test_zero_budget_disables_caching() -> None:
    c = edgecache.Cache(0)
    assert c.set("k", b"v") is False
    assert c.get("k") is None
    assert len(c) == 0


def test_ttl_expires() -> None:
    c = edgecache.Cache(1000)
    c.set("short", b"v", ttl=0.05)
    c.set("long", b"v", ttl=60)
    c.set("never", b"v", ttl=None)
    c.set("inf", b"v", ttl=float("inf"))
    assert c.get("short") == b"v"
    time.sleep(0.1)
    assert c.get("short") is None
    assert "short" not in c
    assert c.get("long") == b"v" and c.get("never") == b"v" and c.get("inf") == b"v"


def test_stats_counters() -> None:
    c = edgecache.Cache(1000)
    c.set("a", b"1")
    c.get("a")
    c.get("a")
    c.get("missing")
    s = c.stats()
    assert (s.gets, s.hits, s.items, s.bytes, s.evictions) == (3, 2, 1, 2, 0)
    assert isinstance(s, edgecache.CacheStats)
    c.clear()
    assert len(c) == 0 and c.stats().gets == 3


def test_threads_share_one_cache() -> None:
    c = edgecache.Cache(4096)
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        barrier.wait(10)
        for j in range(2000):
            key = f"k{(i * 7 + j) % 200}"
            c.set(key, key.encode() * 3)
            v = c.get(key)
            assert v is None or v == key.encode() * 3
            if j % 50 == 0:
                c.remove(key)

    run_threads(8, worker)
    assert c.stats().bytes <= 4096


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: edgecache.Cache(-1), ValueError, "max_bytes must not be negative, got -1"),
        (lambda: edgecache.Cache(2**63), ValueError, "max_bytes must be at most"),
        (lambda: edgecache.Cache(-(2**70)), ValueError, "max_bytes must not be negative"),
        (lambda: edgecache.Cache(1.5), TypeError, "max_bytes must be an int, not float"),
        (lambda: edgecache.Cache("10"), TypeError, "max_bytes must be an int, not str"),
        (lambda: edgecache.Cache(True), TypeError, "max_bytes must be an int, not bool"),
        (lambda: edgecache.Cache(10).set("k", "v"), TypeError, "value must be bytes, not str"),
        (lambda: edgecache.Cache(10).set("k", 1), TypeError, "value must be bytes, not int"),
        (lambda: edgecache.Cache(10).set(1.0, b"v"), TypeError, "key must be str or bytes, not float"),
        (lambda: edgecache.Cache(10).set("k", b"v", ttl=0), ValueError, "ttl must be greater than 0"),
        (lambda: edgecache.Cache(10).set("k", b"v", ttl=-2.5), ValueError, "ttl must be greater than 0"),
        (lambda: edgecache.Cache(10).set("k", b"v", ttl="1"), TypeError, "ttl must be a number of seconds"),
        (lambda: edgecache.Cache(10).set("k", b"v", ttl=float("nan")), ValueError, "NaN"),
        (lambda: edgecache.Cache(10).get(None), TypeError, "key must be str or bytes, not NoneType"),
        (lambda: edgecache.Cache(10).remove(3), TypeError, "key must be str or bytes, not int"),
        (lambda: 3 in edgecache.Cache(10), TypeError, "key must be str or bytes, not int"),
        (lambda: edgecache.Cache(), TypeError, "max_bytes"),
    ],
)
def test_bad_arguments(call, exc, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=message):
        call()


def test_bad_arguments_leave_the_cache_intact() -> None:
    c = edgecache.Cache(100)
    c.set("k", b"v")
    with pytest.raises(ValueError):
        c.set("k", b"w", ttl=-1)
    assert c.get("k") == b"v"


def test_a_ttl_below_a_nanosecond_is_the_shortest_ttl_not_a_panic() -> None:
    # It used to round to zero and trip the core's zero-TTL check (a
    # PanicException).
    c = edgecache.Cache(1 << 10)
    c.set("k", b"v", ttl=1e-12)
    g = edgecache.Group("test_cache/tiny-ttl", 1 << 10, lambda k: b"v", ttl=1e-12)
    try:
        assert g.get("k") == b"v"
    finally:
        g.close()
