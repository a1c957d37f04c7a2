"""edgecache.Flight: one call per key however many threads ask."""

from __future__ import annotations

import threading
import time

import pytest

import edgecache
from edgecache import _native

from conftest import run_threads, wait_for

N = 200


class Entered:
    """Counts the threads that are about to call in, so a loader can hold
    its call open until every one of them has joined it."""

    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def add(self) -> None:
        with self.lock:
            self.n += 1

    def wait(self, n: int) -> None:
        wait_for(lambda: self.n >= n)
        # The last thread counted itself just before calling: give it time
        # to get into the call.
        time.sleep(0.1)


def test_do_returns_value_and_shared() -> None:
    f = edgecache.Flight()
    assert f.do("k", lambda: [1, 2]) == ([1, 2], False)
    obj = object()
    value, shared = f.do(b"k", lambda: obj)
    assert value is obj  # any Python object, passed through as is
    assert shared is False


def test_200_threads_one_call() -> None:
    f = edgecache.Flight()
    entered = Entered()
    calls = 0
    results: list[tuple[object, bool]] = []
    sentinel = object()

    def load() -> object:
        nonlocal calls
        calls += 1
        entered.wait(N)
        return sentinel

    def worker(i: int) -> None:
        entered.add()
        results.append(f.do("one-key", load))

    run_threads(N, worker)
    assert calls == 1
    assert len(results) == N
    assert all(v is sentinel and shared for v, shared in results)
    # The key is free again: the next call runs the loader.
    assert f.do("one-key", load) == (sentinel, False)
    assert calls == 2


def test_exception_reaches_every_waiter_and_nothing_is_kept() -> None:
    f = edgecache.Flight()
    entered = Entered()
    calls = 0
    errors: list[BaseException] = []

    class Boom(ValueError):
        pass

    def load() -> object:
        nonlocal calls
        calls += 1
        entered.wait(N)
        raise Boom("upstream said no")

    def worker(i: int) -> None:
        entered.add()
        try:
            f.do("k", load)
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    run_threads(N, worker)
    assert calls == 1
    assert len(errors) == N
    first = errors[0]
    assert type(first) is Boom and str(first) == "upstream said no"
    assert all(e is first for e in errors), "every waiter gets the same exception object"
    # Nothing was cached and the key is free: the loader runs again.
    assert f.do("k", lambda: "ok") == ("ok", False)


def test_waiter_timeout_does_not_disturb_the_load() -> None:
    f = edgecache.Flight()
    release = threading.Event()
    started = threading.Event()
    out: list[object] = []

    def load() -> str:
        started.set()
        release.wait(10)
        return "done"

    leader = threading.Thread(target=lambda: out.append(f.do("k", load)))
    leader.start()
    assert started.wait(10)
    t0 = time.monotonic()
    with pytest.raises(edgecache.Timeout) as exc:
        f.do("k", load, timeout=0.1)
    waited = time.monotonic() - t0
    assert isinstance(exc.value, TimeoutError)
    assert isinstance(exc.value, edgecache.Error)
    assert 0.09 <= waited < 5
    # A zero timeout gives up at once.
    with pytest.raises(edgecache.Timeout):
        f.do("k", load, timeout=0)
    release.set()
    leader.join(10)
    # The leader's result is intact; `shared` is true because others joined
    # (even though they gave up).
    assert out == [("done", True)]


def test_gil_is_released_while_waiting() -> None:
    """A thread runs Python code while the main thread waits for a load."""
    f = edgecache.Flight()
    release = threading.Event()
    started = threading.Event()
    ticks = 0
    stop = threading.Event()

    def load() -> str:
        started.set()
        release.wait(10)
        return "v"

    def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1  # pure Python: needs the GIL
            sum(range(100))

    leader = threading.Thread(target=lambda: f.do("k", load))
    leader.start()
    assert started.wait(10)
    t = threading.Thread(target=ticker)
    t.start()
    threading.Timer(0.3, release.set).start()
    before = ticks
    assert f.do("k", load, timeout=10) == ("v", True)
    progress = ticks - before
    stop.set()
    t.join(10)
    leader.join(10)
    assert progress > 100, f"the ticker only ran {progress} times while the main thread waited"


def test_forget_starts_a_new_call_and_spares_the_successor() -> None:
    f = edgecache.Flight()
    rel1, rel2 = threading.Event(), threading.Event()
    in1, in2 = threading.Event(), threading.Event()
    out: dict[str, object] = {}

    def load1() -> str:
        in1.set()
        rel1.wait(10)
        return "first"

    def load2() -> str:
        in2.set()
        rel2.wait(10)
        return "second"

    t1 = threading.Thread(target=lambda: out.__setitem__("t1", f.do("k", load1)))
    t1.start()
    assert in1.wait(10)
    assert f.forget("k") is True
    assert f.forget("k") is False
    t2 = threading.Thread(target=lambda: out.__setitem__("t2", f.do("k", load2)))
    t2.start()
    assert in2.wait(10)
    # The forgotten call ends; it must not remove its successor.
    rel1.set()
    t1.join(10)
    t3 = threading.Thread(target=lambda: out.__setitem__("t3", f.do("k", lambda: "third")))
    t3.start()
    time.sleep(0.1)
    rel2.set()
    t2.join(10)
    t3.join(10)
    assert out["t1"] == ("first", False)
    assert out["t2"] == ("second", True)
    assert out["t3"] == ("second", True)


def test_rust_panic_becomes_loader_panicked_for_everyone() -> None:
    f = edgecache.Flight()
    entered = Entered()
    errors: list[BaseException] = []

    def load() -> object:
        entered.wait(8)
        _native._panic("the loader broke")
        return None

    def worker(i: int) -> None:
        entered.add()
        try:
            f.do("k", load)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    run_threads(8, worker)
    assert len(errors) == 8
    for e in errors:
        assert type(e) is edgecache.LoaderPanicked, repr(e)
        assert "the loader broke" in str(e)
    # The key is free again.
    assert f.do("k", lambda: 1) == (1, False)


def test_str_and_bytes_keys_are_the_same_key() -> None:
    f = edgecache.Flight()
    release = threading.Event()
    started = threading.Event()

    def load() -> str:
        started.set()
        release.wait(10)
        return "v"

    t = threading.Thread(target=lambda: f.do("ключ", load))
    t.start()
    assert started.wait(10)
    threading.Timer(0.1, release.set).start()
    assert f.do("ключ".encode(), lambda: "other", timeout=10) == ("v", True)
    t.join(10)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda f: f.do(1, lambda: 1), TypeError, "key must be str or bytes, not int"),
        (lambda f: f.do(bytearray(b"k"), lambda: 1), TypeError, "key must be str or bytes, not bytearray"),
        (lambda f: f.do("k", 3), TypeError, "fn must be callable, not int"),
        (lambda f: f.do("k", lambda: 1, timeout=-1), ValueError, "timeout must not be negative"),
        (lambda f: f.do("k", lambda: 1, timeout="1"), TypeError, "number of seconds"),
        (lambda f: f.do("k", lambda: 1, timeout=float("nan")), ValueError, "NaN"),
        (lambda f: f.forget(None), TypeError, "key must be str or bytes, not NoneType"),
    ],
)
def test_bad_arguments(call, exc, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=message):
        call(edgecache.Flight())
