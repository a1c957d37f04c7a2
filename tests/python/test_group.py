"""edgecache.Group, Stats and get_group."""

from __future__ import annotations

import threading
import time

import pytest

import edgecache
from edgecache import _native

from conftest import run_threads, wait_for

N = 200


def test_get_loads_once_then_hits(group_name: str) -> None:
    calls: list[str] = []

    def getter(key: str) -> bytes:
        calls.append(key)
        return key.upper().encode()

    g = edgecache.Group(group_name, 1 << 20, getter)
    assert g.get("pods") == b"PODS"
    assert g.get(b"pods") == b"PODS"
    assert calls == ["pods"]
    s = g.stats()
    assert isinstance(s, edgecache.Stats)
    assert (s.gets, s.cache_hits, s.loads, s.loads_deduped, s.local_loads, s.local_load_errs) == (2, 1, 1, 1, 1, 0)
    assert (s.peer_loads, s.peer_errors, s.server_requests) == (0, 0, 0)
    main = g.cache_stats(edgecache.MAIN_CACHE)
    assert (main.items, main.bytes) == (1, 8)
    assert g.cache_stats(edgecache.HOT_CACHE).items == 0
    assert g.cache_stats() == g.cache_stats(edgecache.MAIN_CACHE)
    assert g.name == group_name
    assert g.cache_bytes == 1 << 20


def test_getter_may_return_str_and_gets_str_keys(group_name: str) -> None:
    seen: list[object] = []

    def getter(key: str) -> str:
        seen.append(key)
        return "värde"

    g = edgecache.Group(group_name, 1000, getter)
    assert g.get(b"k") == "värde".encode()
    assert g.get(b"\xff") == "värde".encode()
    assert seen == ["k", "\udcff"]  # non-UTF-8 bytes arrive surrogate-escaped


def test_200_threads_one_getter_call(group_name: str) -> None:
    calls = 0
    lock = threading.Lock()
    results: list[bytes] = []

    def getter(key: str) -> bytes:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.05)
        return b"value-of-" + key.encode()

    g = edgecache.Group(group_name, 1 << 20, getter)
    barrier = threading.Barrier(N)

    def worker(i: int) -> None:
        barrier.wait(30)
        results.append(g.get("one-key"))

    run_threads(N, worker)
    assert calls == 1
    assert results == [b"value-of-one-key"] * N
    s = g.stats()
    assert s.gets == N
    assert s.loads_deduped == 1 and s.local_loads == 1
    assert s.cache_hits + s.loads == N


def test_getter_exception_reaches_every_waiter_and_nothing_is_cached(group_name: str) -> None:
    calls = 0
    entered = 0
    lock = threading.Lock()
    errors: list[BaseException] = []

    class NotFound(KeyError):
        pass

    def getter(key: str) -> bytes:
        nonlocal calls
        calls += 1
        wait_for(lambda: entered >= N)
        time.sleep(0.1)
        raise NotFound(f"no such object: {key}")

    g = edgecache.Group(group_name, 1 << 20, getter)

    def worker(i: int) -> None:
        nonlocal entered
        with lock:
            entered += 1
        try:
            g.get("k")
        except BaseException as e:  # noqa: BLE001 - inspected below
            errors.append(e)

    run_threads(N, worker)
    assert calls == 1
    assert len(errors) == N
    first = errors[0]
    assert type(first) is NotFound and first.args == ("no such object: k",)
    assert all(e is first for e in errors)
    assert g.cache_stats().items == 0
    assert g.stats().local_load_errs == 1
    # The key is free: the next get calls the getter again.
    with pytest.raises(NotFound):
        g.get("k")
    assert calls == 2


def test_getter_returning_a_wrong_type(group_name: str) -> None:
    g = edgecache.Group(group_name, 1000, lambda k: 42)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="getter must return bytes or str, not int"):
        g.get("k")


def test_getter_panic_becomes_loader_panicked(group_name: str) -> None:
    g = edgecache.Group(group_name, 1000, _native._panic)  # type: ignore[arg-type]
    with pytest.raises(edgecache.LoaderPanicked, match="getter panicked"):
        g.get("boom")
    assert g.stats().local_load_errs == 1
    assert g.cache_stats().items == 0


def test_a_waiter_is_interrupted_by_nothing_else_and_gil_is_released(group_name: str) -> None:
    """While one thread waits for another's load, a third runs Python."""
    started, release = threading.Event(), threading.Event()

    def getter(key: str) -> bytes:
        started.set()
        release.wait(10)
        return b"v"

    g = edgecache.Group(group_name, 1000, getter)
    t = threading.Thread(target=g.get, args=("k",))
    t.start()
    assert started.wait(10)
    ticks = 0
    stop = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            sum(range(100))

    tk = threading.Thread(target=ticker)
    tk.start()
    threading.Timer(0.3, release.set).start()
    before = ticks
    assert g.get("k") == b"v"
    progress = ticks - before
    stop.set()
    tk.join(10)
    t.join(10)
    assert progress > 100


def test_remove_and_ttl(group_name: str) -> None:
    n = 0

    def getter(key: str) -> bytes:
        nonlocal n
        n += 1
        return str(n).encode()

    g = edgecache.Group(group_name, 1000, getter, ttl=0.05)
    assert g.get("k") == b"1"
    assert g.get("k") == b"1"
    assert g.remove("k") is True
    assert g.remove("k") is False
    assert g.get("k") == b"2"
    time.sleep(0.1)
    assert g.get("k") == b"3"  # expired, loaded again


def test_registry(group_name: str) -> None:
    assert edgecache.get_group(group_name) is None
    g = edgecache.Group(group_name, 1000, lambda k: b"v")
    found = edgecache.get_group(group_name)
    assert found is not None and found.name == group_name
    assert found.get("x") == b"v"
    assert g.stats() == found.stats()  # one group, two handles
    with pytest.raises(edgecache.Error, match="already registered"):
        edgecache.Group(group_name, 1000, lambda k: b"w")
    g.close()
    g.close()  # idempotent
    assert g.closed and found.closed
    assert edgecache.get_group(group_name) is None
    with pytest.raises(edgecache.Closed) as exc:
        found.get("x")
    assert exc.value.reason == "group_closed"
    # The name is free again.
    g2 = edgecache.Group(group_name, 1000, lambda k: b"again")
    assert edgecache.get_group(group_name).get("x") == b"again"  # type: ignore[union-attr]
    g2.close()


def test_zero_budget_loads_every_time_but_deduplicated(group_name: str) -> None:
    n = 0

    def getter(key: str) -> bytes:
        nonlocal n
        n += 1
        return b"v"

    g = edgecache.Group(group_name, 0, getter)
    g.get("k")
    g.get("k")
    assert n == 2
    assert g.cache_stats().items == 0


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda n: edgecache.Group(n, -5, lambda k: b""), ValueError, "cache_bytes must not be negative, got -5"),
        (lambda n: edgecache.Group(n, 1.0, lambda k: b""), TypeError, "cache_bytes must be an int, not float"),
        (lambda n: edgecache.Group(n, 10, b"x"), TypeError, "getter must be callable, not bytes"),
        (lambda n: edgecache.Group(42, 10, lambda k: b""), TypeError, "name must be str, not int"),
        (lambda n: edgecache.Group(n, 10, lambda k: b"", ttl=0), ValueError, "ttl must be greater than 0"),
        (lambda n: edgecache.Group(n, 10, lambda k: b"", ttl=[]), TypeError, "ttl must be a number of seconds"),
        (lambda n: edgecache.get_group(b"x"), TypeError, "name must be str, not bytes"),
    ],
)
def test_bad_constructor_arguments(group_name: str, call, exc, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=message):
        call(group_name)
    assert edgecache.get_group(group_name) is None


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda g: g.get(1), TypeError, "key must be str or bytes, not int"),
        (lambda g: g.remove([]), TypeError, "key must be str or bytes, not list"),
        (lambda g: g.cache_stats(3), ValueError, r"which must be MAIN_CACHE \(1\) or HOT_CACHE \(2\), not 3"),
        (lambda g: g.cache_stats(-1), ValueError, "which must not be negative"),
        (lambda g: g.cache_stats("main"), TypeError, "which must be an int, not str"),
    ],
)
def test_bad_method_arguments(group_name: str, call, exc, message) -> None:  # type: ignore[no-untyped-def]
    g = edgecache.Group(group_name, 100, lambda k: b"v")
    with pytest.raises(exc, match=message):
        call(g)
