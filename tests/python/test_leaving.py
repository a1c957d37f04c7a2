"""A leader that leaves is not a leader that fails, and a load never waits
for itself (SPEC, "One contract in every language"), for the blocking API.

- A getter or loader that raises something that is not an `Exception`
  (`KeyboardInterrupt`, `SystemExit`) abandons its load: its caller gets
  that exception, and the waiters take the key over (one loads again).
  Before, every waiter got the leader's `KeyboardInterrupt`.
- A getter that gets its own key, directly or through other groups, on its
  own thread, gets `RecursiveLoad` at once. Each such test runs the call in
  a thread and joins it with a timeout, so a regression fails instead of
  hanging the suite.
- A getter that returns None fails the load with `NoValue`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import edgecache

from conftest import run_threads, wait_for

N = 200


def bounded(fn: Callable[[], object], timeout: float = 10.0) -> object:
    """Runs `fn` in a thread; returns its result or raises its exception;
    fails the test if it does not finish within `timeout` (a deadlock)."""
    out: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            out.append((True, fn()))
        except BaseException as e:  # noqa: BLE001 - re-raised below
            out.append((False, e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail(f"the call did not finish within {timeout} s (a deadlock?)")
    ok, value = out[0]
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return value


@pytest.mark.parametrize("leave", [KeyboardInterrupt, SystemExit])
def test_group_leader_that_leaves_hands_the_load_to_a_waiter(group_name: str, leave: type[BaseException]) -> None:
    calls = 0
    lock = threading.Lock()
    entered = threading.Event()

    def getter(key: str) -> bytes:
        nonlocal calls
        with lock:
            calls += 1
            n = calls
        if n == 1:
            entered.set()
            # Every waiter has joined this load before the leader leaves.
            wait_for(lambda: g.stats().loads >= N + 1)
            time.sleep(0.1)
            raise leave()
        time.sleep(0.05)
        return b"value"

    g = edgecache.Group(group_name, 1 << 20, getter)
    leader_got: list[BaseException | bytes] = []

    def lead() -> None:
        try:
            leader_got.append(g.get("k"))
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            leader_got.append(e)

    leader = threading.Thread(target=lead, daemon=True)
    leader.start()
    assert entered.wait(10)
    results: list[object] = []

    def wait(i: int) -> None:
        try:
            results.append(g.get("k"))
        except BaseException as e:  # noqa: BLE001
            results.append(e)

    run_threads(N, wait)
    leader.join(10)
    assert len(leader_got) == 1 and type(leader_got[0]) is leave, leader_got
    assert results == [b"value"] * N, {repr(r) for r in results}
    assert calls == 2, "exactly one more load"
    s = g.stats()
    assert s.local_loads == 1 and s.local_load_errs == 0
    assert g.get("k") == b"value" and calls == 2  # cached


def test_flight_leader_that_leaves_hands_the_call_to_a_waiter() -> None:
    f = edgecache.Flight()
    entered = threading.Event()
    joined = 0
    lock = threading.Lock()
    calls: list[str] = []

    def leaving() -> object:
        calls.append("leader")
        entered.set()
        # Every waiter is about to call in; give the last ones time to.
        wait_for(lambda: joined >= N)
        time.sleep(0.2)
        raise KeyboardInterrupt

    def loading() -> object:
        with lock:
            calls.append("waiter")
        time.sleep(0.05)
        return "from a waiter"

    leader_got: list[BaseException | tuple[object, bool]] = []

    def lead() -> None:
        try:
            leader_got.append(f.do("k", leaving))
        except BaseException as e:  # noqa: BLE001
            leader_got.append(e)

    leader = threading.Thread(target=lead, daemon=True)
    leader.start()
    assert entered.wait(10)
    results: list[object] = []

    def wait(i: int) -> None:
        nonlocal joined
        with lock:
            joined += 1
        try:
            results.append(f.do("k", loading, timeout=20))
        except BaseException as e:  # noqa: BLE001
            results.append(e)

    run_threads(N, wait)
    leader.join(10)
    assert len(leader_got) == 1 and type(leader_got[0]) is KeyboardInterrupt
    assert calls == ["leader", "waiter"], "exactly one waiter ran its own fn"
    assert len(results) == N
    assert all(r == ("from a waiter", True) for r in results), {repr(r) for r in results}


def test_flight_loader_exception_still_reaches_everyone() -> None:
    """Only leaving is special: an Exception is the load's result."""
    f = edgecache.Flight()

    class Boom(Exception):
        pass

    def load() -> object:
        raise Boom("x")

    with pytest.raises(Boom):
        f.do("k", load)


def test_recursive_group_get_raises_recursive_load(group_name: str) -> None:
    inner: list[BaseException] = []

    def getter(key: str) -> bytes:
        try:
            return g.get(key)
        except edgecache.RecursiveLoad as e:
            inner.append(e)
            raise

    g = edgecache.Group(group_name, 1000, getter)
    t0 = time.monotonic()
    with pytest.raises(edgecache.RecursiveLoad):
        bounded(lambda: g.get("k"))
    assert time.monotonic() - t0 < 5, "at once, not after a timeout"
    assert len(inner) == 1 and isinstance(inner[0], edgecache.Error)
    # The key is free and nothing was cached.
    assert g.cache_stats().items == 0


def test_recursive_get_through_another_group(group_name: str) -> None:
    def getter_a(key: str) -> bytes:
        return b"a:" + b.get(key)

    def getter_b(key: str) -> bytes:
        return b"b:" + a.get(key)  # back to a's load of the same key, same thread

    a = edgecache.Group(group_name, 1000, getter_a)
    b = edgecache.Group(group_name + "-b", 1000, getter_b)
    try:
        with pytest.raises(edgecache.RecursiveLoad):
            bounded(lambda: a.get("k"))
    finally:
        b.close()


def test_a_getter_may_get_other_keys_of_its_own_group(group_name: str) -> None:
    def getter(key: str) -> bytes:
        return b"v" if key == "leaf" else b"via " + g.get("leaf")

    g = edgecache.Group(group_name, 1000, getter)
    assert bounded(lambda: g.get("root")) == b"via v"


def test_recursive_flight_do_raises_recursive_load() -> None:
    f = edgecache.Flight()

    def load() -> object:
        return f.do("k", lambda: "inner")

    with pytest.raises(edgecache.RecursiveLoad):
        bounded(lambda: f.do("k", load))
    # Another key inside the load is fine.
    assert bounded(lambda: f.do("k", lambda: f.do("j", lambda: "j")[0])) == ("j", False)


def test_getter_returning_none_is_no_value(group_name: str) -> None:
    g = edgecache.Group(group_name, 1000, lambda k: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(edgecache.NoValue) as exc:
        g.get("k")
    assert isinstance(exc.value, TypeError) and isinstance(exc.value, edgecache.Error)
    assert g.stats().local_load_errs == 1 and g.cache_stats().items == 0
    # An empty value is a value.
    g2 = edgecache.Group(group_name + "-2", 1000, lambda k: b"")
    try:
        assert g2.get("k") == b""
    finally:
        g2.close()


def test_no_value_reaches_every_waiter(group_name: str) -> None:
    entered = threading.Event()
    calls = 0

    def getter(key: str) -> None:
        nonlocal calls
        calls += 1
        entered.set()
        wait_for(lambda: g.stats().loads >= 9)
        time.sleep(0.1)
        return None

    g = edgecache.Group(group_name, 1000, getter)  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            g.get("k")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    run_threads(9, worker)
    assert calls == 1
    assert len(errors) == 9 and all(type(e) is edgecache.NoValue for e in errors)


def test_async_getter_in_blocking_get_is_a_clear_type_error(group_name: str) -> None:
    async def getter(key: str) -> bytes:
        return b"v"

    g = edgecache.Group(group_name, 1000, getter)  # type: ignore[arg-type]
    with _no_warning(), pytest.raises(TypeError, match="aget"):
        g.get("k")


class _no_warning:
    """Fails if a 'coroutine was never awaited' RuntimeWarning is emitted."""

    def __enter__(self) -> None:
        import warnings

        self._cm = warnings.catch_warnings(record=True)
        self._log = self._cm.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc: object) -> None:
        import gc

        gc.collect()
        self._cm.__exit__(*exc)
        never_awaited = [w for w in self._log if "never awaited" in str(w.message)]
        assert not never_awaited, never_awaited
