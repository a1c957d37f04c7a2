"""asyncio: `Group.aget`, `Flight.ado`, `async for` over a watcher,
`Watcher.anext`, `WatchCache.await_until_fresh` and `alist`.

No thread waits for a task: a pending wait is a completion hook that wakes
the task's future through `loop.call_soon_threadsafe`. The tests check that
by counting threads. Every test runs its loop under a deadline
(`run`), so a lost wake-up fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

import edgecache

T = TypeVar("T")
DEADLINE = 60.0


def run(main: Callable[[], Coroutine[Any, Any, T]], timeout: float = DEADLINE) -> T:
    """`asyncio.run(main())`, failing the test after `timeout` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(main(), timeout)

    return asyncio.run(bounded())


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Yields to the loop until `predicate` holds; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.001)


# --- Group.aget --------------------------------------------------------------


def test_aget_hit_miss_and_sync_getter(group_name: str) -> None:
    calls: list[str] = []

    def getter(key: str) -> bytes:
        calls.append(key)
        return key.upper().encode()

    g = edgecache.Group(group_name, 1 << 20, getter)

    async def main() -> None:
        assert await g.aget("pods") == b"PODS"
        assert await g.aget(b"pods") == b"PODS"
        assert g.get("pods") == b"PODS"

    run(main)
    assert calls == ["pods"]
    s = g.stats()
    assert (s.gets, s.cache_hits, s.loads, s.local_loads) == (3, 2, 1, 1)


def test_aget_awaits_an_async_getter_and_one_returning_a_coroutine(group_name: str) -> None:
    async def fetch(key: str) -> str:
        await asyncio.sleep(0.01)
        return "värde:" + key

    a = edgecache.Group(group_name, 1 << 20, fetch)  # type: ignore[arg-type]
    b = edgecache.Group(group_name + "-b", 1 << 20, lambda key: fetch(key))  # type: ignore[arg-type, return-value]
    try:

        async def main() -> None:
            assert await a.aget("k") == "värde:k".encode()
            assert await b.aget("k") == "värde:k".encode()
            # A coroutine is also a task's: create_task takes aget's.
            assert await asyncio.create_task(a.aget("j")) == b"v\xc3\xa4rde:j"

        run(main)
    finally:
        b.close()


def test_ten_thousand_tasks_one_load_no_threads(group_name: str) -> None:
    n = 10_000
    calls = 0

    async def main() -> None:
        release = asyncio.Event()

        async def getter(key: str) -> bytes:
            nonlocal calls
            calls += 1
            await release.wait()
            return b"one value"

        g = edgecache.Group(group_name, 1 << 20, getter)  # type: ignore[arg-type]
        threads_before = threading.active_count()
        tasks = [asyncio.create_task(g.aget("key")) for _ in range(n)]
        await until(lambda: g.stats().loads == n)
        await asyncio.sleep(0.05)
        assert threading.active_count() == threads_before, "a thread per wait?"
        assert not any(t.done() for t in tasks)
        release.set()
        results = await asyncio.gather(*tasks)
        assert results == [b"one value"] * n
        assert threading.active_count() == threads_before

    run(main)
    assert calls == 1


def test_cancelled_waiters_do_not_cancel_the_shared_load(group_name: str) -> None:
    n = 10_000
    calls = 0

    async def main() -> None:
        release = asyncio.Event()
        entered = asyncio.Event()

        async def getter(key: str) -> bytes:
            nonlocal calls
            calls += 1
            entered.set()
            await release.wait()
            return b"v"

        g = edgecache.Group(group_name, 1 << 20, getter)  # type: ignore[arg-type]
        leader = asyncio.create_task(g.aget("key"))
        await asyncio.wait_for(entered.wait(), 10)
        waiters = [asyncio.create_task(g.aget("key")) for _ in range(n)]
        await until(lambda: g.stats().loads == n + 1)
        await asyncio.sleep(0.05)
        for t in waiters[::2]:
            t.cancel()
        await asyncio.sleep(0.05)
        release.set()
        rest = await asyncio.gather(leader, *waiters[1::2])
        assert rest == [b"v"] * (1 + n // 2)
        for t in waiters[::2]:
            assert t.cancelled()

    run(main)
    assert calls == 1


def test_a_cancelled_leader_hands_the_load_to_a_waiter(group_name: str) -> None:
    calls = 0

    async def main() -> None:
        entered = asyncio.Event()

        async def getter(key: str) -> bytes:
            nonlocal calls
            calls += 1
            if calls == 1:
                entered.set()
                await asyncio.sleep(3600)  # until cancelled
            return b"from the second load"

        g = edgecache.Group(group_name, 1 << 20, getter)  # type: ignore[arg-type]
        leader = asyncio.create_task(g.aget("k"))
        await asyncio.wait_for(entered.wait(), 10)
        waiters = [asyncio.create_task(g.aget("k")) for _ in range(100)]
        await until(lambda: g.stats().loads == 101)
        leader.cancel()
        results = await asyncio.gather(*waiters)
        assert results == [b"from the second load"] * 100
        with pytest.raises(asyncio.CancelledError):
            await leader

    run(main)
    assert calls == 2


def test_async_leader_publishes_to_blocking_waiters_and_back(group_name: str) -> None:
    """An aget leader's result reaches `get` callers on other threads; a
    `get` leader on another thread wakes aget waiters (the hook runs on that
    thread)."""
    calls = 0
    thread_started = threading.Event()
    thread_release = threading.Event()

    def sync_getter(key: str) -> bytes:
        nonlocal calls
        calls += 1
        thread_started.set()
        assert thread_release.wait(10)
        return b"sync:" + key.encode()

    g = edgecache.Group(group_name, 1 << 20, sync_getter)
    out: list[object] = []

    # 1. A thread leads; tasks wait.
    t = threading.Thread(target=lambda: out.append(g.get("a")), daemon=True)
    t.start()
    assert thread_started.wait(10)

    async def tasks_wait() -> list[bytes]:
        waiters = [asyncio.create_task(g.aget("a")) for _ in range(50)]
        await until(lambda: g.stats().loads == 51)
        threading.Timer(0.05, thread_release.set).start()
        return await asyncio.gather(*waiters)

    assert run(tasks_wait) == [b"sync:a"] * 50
    t.join(10)
    assert out == [b"sync:a"]

    # 2. A task leads (an async getter of another group); threads wait.
    release = threading.Event()

    async def async_getter(key: str) -> bytes:
        while not release.is_set():
            await asyncio.sleep(0.005)
        return b"async:" + key.encode()

    h = edgecache.Group(group_name + "-h", 1 << 20, async_getter)  # type: ignore[arg-type]
    got: list[object] = []
    try:

        async def task_leads() -> bytes:
            leader = asyncio.create_task(h.aget("b"))
            await until(lambda: h.stats().loads == 1)
            threads = [threading.Thread(target=lambda: got.append(h.get("b")), daemon=True) for _ in range(20)]
            for th in threads:
                th.start()
            await until(lambda: h.stats().loads == 21)
            release.set()
            v = await leader
            for th in threads:
                th.join(10)
            return v

        assert run(task_leads) == b"async:b"
        assert got == [b"async:b"] * 20
        assert h.stats().local_loads == 1
    finally:
        h.close()


def test_getter_exception_reaches_every_task(group_name: str) -> None:
    class NotFound(Exception):
        pass

    async def main() -> None:
        release = asyncio.Event()

        async def getter(key: str) -> bytes:
            await release.wait()
            raise NotFound(key)

        g = edgecache.Group(group_name, 1 << 20, getter)  # type: ignore[arg-type]
        tasks = [asyncio.create_task(g.aget("k")) for _ in range(20)]
        await until(lambda: g.stats().loads == 20)
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(type(r) is NotFound for r in results)
        assert all(r is results[0] for r in results), "the same exception object"
        assert g.cache_stats().items == 0

    run(main)


def test_aget_no_value_and_closed(group_name: str) -> None:
    async def none(key: str) -> None:
        return None

    g = edgecache.Group(group_name, 1000, none)  # type: ignore[arg-type]

    async def main() -> None:
        with pytest.raises(edgecache.NoValue):
            await g.aget("k")
        g.close()
        with pytest.raises(edgecache.Closed):
            await g.aget("k")

    run(main)


def test_aget_recursion_in_the_task_chain_raises_recursive_load(group_name: str) -> None:
    async def main() -> None:
        async def getter(key: str) -> bytes:
            if key == "direct":
                return await g.aget(key)
            if key == "child":
                # A task the getter starts inherits its context: still the chain.
                return await asyncio.create_task(g.aget(key))
            if key == "blocking":
                return g.get(key)  # blocks the loop that runs this load
            return b"leaf"

        g = edgecache.Group(group_name, 1000, getter)  # type: ignore[arg-type]
        for key in ("direct", "child", "blocking"):
            with pytest.raises(edgecache.RecursiveLoad):
                await asyncio.wait_for(g.aget(key), 10)
        # Not recursion: an unrelated task waiting for the same key.
        assert await g.aget("leaf") == b"leaf"

    run(main)


def test_two_loops_on_two_threads_share_one_load(group_name: str) -> None:
    calls = 0
    lock = threading.Lock()

    def getter(key: str) -> bytes:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(0.3)
        return b"shared"

    g = edgecache.Group(group_name, 1000, getter)
    out: list[object] = []

    def loop_thread() -> None:
        async def main() -> list[bytes]:
            return await asyncio.gather(*(g.aget("k") for _ in range(10)))

        out.append(run(main))

    threads = [threading.Thread(target=loop_thread, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert out == [[b"shared"] * 10] * 2
    assert calls == 1


def test_bad_aget_arguments_raise_at_the_call(group_name: str) -> None:
    g = edgecache.Group(group_name, 1000, lambda k: b"v")
    with pytest.raises(TypeError, match="key must be str or bytes"):
        g.aget(1)  # type: ignore[arg-type]
    f = edgecache.Flight()
    with pytest.raises(TypeError, match="fn must be callable"):
        f.ado("k", 3)  # type: ignore[arg-type]


def test_a_hit_is_a_done_awaitable_a_task_can_run(group_name: str) -> None:
    g = edgecache.Group(group_name, 1000, lambda k: b"v")
    g.get("k")
    hit = g.aget("k")
    assert asyncio.iscoroutine(hit) and not isinstance(hit, type(test_a_hit_is_a_done_awaitable_a_task_can_run))
    assert asyncio.run(hit) == b"v"  # asyncio.run takes it like a coroutine

    async def main() -> list[bytes]:
        return await asyncio.gather(g.aget("k"), asyncio.create_task(g.aget("k")))

    assert run(main) == [b"v", b"v"]


def test_leader_task_whose_getter_raises_keyboard_interrupt_hands_over(group_name: str) -> None:
    """The getter of an aget leader raises KeyboardInterrupt (Ctrl-C landing
    in it): asyncio.run ends with it, and the threads waiting for the load
    take it over."""
    calls = 0
    lock = threading.Lock()

    def getter(key: str) -> bytes:
        nonlocal calls
        with lock:
            calls += 1
            n = calls
        if n == 1:
            wait_for_loads(g, 11)
            raise KeyboardInterrupt
        return b"second"

    g = edgecache.Group(group_name, 1000, getter)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(g.get("k")), daemon=True) for _ in range(10)]
    with pytest.raises(KeyboardInterrupt):
        # Not `run`: wait_for would turn the interrupt into a cancellation.
        asyncio.run(_lead_then(g, threads))
    for t in threads:
        t.join(10)
    assert got == [b"second"] * 10
    assert calls == 2


async def _lead_then(g: edgecache.Group, threads: list[threading.Thread]) -> bytes:
    coro = g.aget("k")  # takes the lead here, at the call, before the threads start
    for t in threads:
        t.start()
    return await coro


def wait_for_loads(g: edgecache.Group, n: int) -> None:
    deadline = time.monotonic() + 10
    while g.stats().loads < n:
        assert time.monotonic() < deadline, "the waiters did not join"
        time.sleep(0.005)
    time.sleep(0.1)


def test_a_wake_up_for_a_closed_loop_is_dropped_quietly(group_name: str) -> None:
    """A task gives up on a load (its loop then closes); the load ends later,
    on another thread, and runs the task's hook against the closed loop."""
    release = threading.Event()
    started = threading.Event()

    def getter(key: str) -> bytes:
        started.set()
        assert release.wait(10)
        return b"late"

    g = edgecache.Group(group_name, 1000, getter)
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(g.get("k")), daemon=True)
    t.start()
    assert started.wait(10)

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(g.aget("k"), 0.05)

    run(main)  # the loop is closed when this returns
    release.set()
    t.join(10)
    assert out == [b"late"]
    assert run(lambda: g.aget("k")) == b"late"  # type: ignore[arg-type, return-value]


# --- Flight.ado --------------------------------------------------------------


def test_ado_one_call_for_every_task() -> None:
    f = edgecache.Flight()
    calls = 0

    async def main() -> None:
        release = asyncio.Event()
        obj = object()

        async def load() -> object:
            nonlocal calls
            calls += 1
            await release.wait()
            return obj

        tasks = [asyncio.create_task(f.ado("k", load)) for _ in range(1000)]
        await asyncio.sleep(0.05)
        release.set()
        results = await asyncio.gather(*tasks)
        assert all(v is obj and shared for v, shared in results)
        # Free again; a plain function works too.
        assert await f.ado("k", lambda: 5) == (5, False)

    run(main)
    assert calls == 1


def test_ado_cancelled_leader_hands_the_call_to_a_waiter() -> None:
    f = edgecache.Flight()
    ran: list[str] = []

    async def main() -> None:
        entered = asyncio.Event()

        async def stuck() -> str:
            ran.append("leader")
            entered.set()
            await asyncio.sleep(3600)
            return "never"

        async def quick() -> str:
            ran.append("waiter")
            # Long enough for every other waiter to join this call (a call
            # that has ended is not joined: a later caller starts anew).
            await asyncio.sleep(0.2)
            return "from a waiter"

        leader = asyncio.create_task(f.ado("k", stuck))
        await asyncio.wait_for(entered.wait(), 10)
        waiters = [asyncio.create_task(f.ado("k", quick)) for _ in range(50)]
        await asyncio.sleep(0.05)
        leader.cancel()
        results = await asyncio.gather(*waiters)
        assert results == [("from a waiter", True)] * 50
        with pytest.raises(asyncio.CancelledError):
            await leader

    run(main)
    assert ran == ["leader", "waiter"]


def test_ado_exception_and_recursion() -> None:
    f = edgecache.Flight()

    class Boom(Exception):
        pass

    async def main() -> None:
        async def boom() -> object:
            await asyncio.sleep(0.01)
            raise Boom()

        results = await asyncio.gather(*(f.ado("k", boom) for _ in range(10)), return_exceptions=True)
        assert all(type(r) is Boom for r in results) and all(r is results[0] for r in results)

        async def recursive() -> object:
            return await f.ado("r", recursive)

        with pytest.raises(edgecache.RecursiveLoad):
            await asyncio.wait_for(f.ado("r", recursive), 10)

        def blocking() -> object:
            return f.do("b", lambda: 1)  # on the loop's thread, while this task leads "b"

        with pytest.raises(edgecache.RecursiveLoad):
            await asyncio.wait_for(f.ado("b", blocking), 10)

    run(main)


# --- Watcher -------------------------------------------------------------------


def test_async_for_over_a_watcher_while_a_thread_writes() -> None:
    wc = edgecache.WatchCache(capacity=1000)
    wc.replace([], 1)
    n = 200

    def writer() -> None:
        for rv in range(2, 2 + n):
            wc.add(f"k{rv}", b"x", rv)
            if rv % 20 == 0:
                time.sleep(0.005)

    async def main() -> list[int]:
        w = wc.watch(1)
        threads_before = threading.active_count()
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        seen: list[int] = []
        async for ev in w:
            seen.append(ev.resource_version)
            if len(seen) == n:
                break
        t.join(10)
        assert threading.active_count() <= threads_before
        w.close()
        return seen

    assert run(main) == list(range(2, 2 + n))


def test_async_for_ends_when_the_owner_closes_and_raises_other_closes() -> None:
    wc = edgecache.WatchCache()
    wc.replace([], 1)

    async def main() -> None:
        w = wc.watch(1)
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, wc.add, "a", b"1", 2)
        loop.call_later(0.1, w.close)
        seen = [ev.key async for ev in w]
        assert seen == ["a"]

        w2 = wc.watch(2, buffer=1)
        threading.Timer(0.05, lambda: [wc.add("b", b"", 3), wc.add("c", b"", 4)]).start()
        got: list[str] = []
        with pytest.raises(edgecache.Closed) as exc:
            async for ev in w2:
                got.append(ev.key)
        assert got == ["b"] and exc.value.reason == "fell_behind"

    run(main)


def test_anext_timeout_returns_none_and_the_watcher_stays_usable() -> None:
    wc = edgecache.WatchCache()
    w = wc.watch(0)

    async def main() -> None:
        t0 = time.monotonic()
        assert await w.anext(timeout=0.1) is None
        assert 0.09 <= time.monotonic() - t0 < 5
        assert await w.anext(timeout=0) is None
        # Many timed-out reads: nothing piles up, nothing breaks.
        for _ in range(200):
            assert await w.anext(timeout=0.0001) is None
        threading.Timer(0.05, wc.add, ("a", b"1", 1)).start()
        ev = await w.anext(timeout=10)
        assert ev is not None and ev.key == "a"
        w.close()
        with pytest.raises(edgecache.Closed):
            await w.anext(timeout=1)

    run(main)


def test_anext_delivers_periodic_bookmarks() -> None:
    wc = edgecache.WatchCache(bookmark_interval=0.1)
    wc.replace([], 5)

    async def main() -> None:
        w = wc.watch(5, bookmarks=True)
        ev = await w.anext(timeout=5)
        assert ev is not None and ev.type == "BOOKMARK" and ev.resource_version == 5
        w.close()

    run(main)


def test_cancelled_anext_leaves_the_watcher_usable() -> None:
    wc = edgecache.WatchCache()
    w = wc.watch(0)

    async def main() -> None:
        task = asyncio.create_task(w.anext())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        wc.add("a", b"1", 1)
        ev = await w.anext(timeout=5)
        assert ev is not None and ev.key == "a"

        # A read cancelled before it ran took nothing.
        wc.add("b", b"2", 2)
        early = asyncio.create_task(w.anext())
        early.cancel()
        with pytest.raises(asyncio.CancelledError):
            await early
        ev = await w.anext(timeout=5)
        assert ev is not None and ev.key == "b"
        # Nor did one that was never awaited.
        wc.add("c", b"3", 3)
        w.anext(timeout=5).close()
        ev = await w.anext(timeout=5)
        assert ev is not None and ev.key == "c"

    run(main)
    w.close()


# --- WatchCache: await_until_fresh, alist ---------------------------------------


def test_await_until_fresh_success_timeout_and_close() -> None:
    wc = edgecache.WatchCache()
    wc.replace([], 1)

    async def main() -> None:
        await wc.await_until_fresh(1)  # already there
        threading.Timer(0.1, wc.add, ("a", b"1", 10)).start()
        t0 = time.monotonic()
        await wc.await_until_fresh(10, timeout=10)
        assert time.monotonic() - t0 < 5
        t0 = time.monotonic()
        with pytest.raises(edgecache.TooLargeResourceVersion) as exc:
            await wc.await_until_fresh(20, timeout=0.2)
        assert 0.19 <= time.monotonic() - t0 < 5
        assert (exc.value.requested, exc.value.current) == (20, 10)
        assert exc.value.code == 504 and exc.value.retry_after_seconds == 1
        with pytest.raises(edgecache.TooLargeResourceVersion):
            await wc.await_until_fresh(20, timeout=0)
        # Many tasks, one writer.
        waits = [asyncio.create_task(wc.await_until_fresh(30, timeout=None)) for _ in range(100)]
        await asyncio.sleep(0.05)
        wc.add("b", b"2", 30)
        await asyncio.gather(*waits)
        # A close wakes a waiter with Closed.
        pending = asyncio.create_task(wc.await_until_fresh(40, timeout=None))
        await asyncio.sleep(0.05)
        wc.close()
        with pytest.raises(edgecache.Closed):
            await pending

    run(main)


def test_cancelled_await_until_fresh() -> None:
    wc = edgecache.WatchCache()

    async def main() -> None:
        task = asyncio.create_task(wc.await_until_fresh(5, timeout=None))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        wc.add("a", b"1", 5)
        await wc.await_until_fresh(5)

    run(main)


def test_alist_waits_for_freshness_then_lists() -> None:
    wc = edgecache.WatchCache(indexes=["label:app"])
    wc.add("ns/a", b"A", 1, labels={"app": "web"})
    wc.add("ns/b", b"B", 2, labels={"app": "db"})

    async def main() -> None:
        items, rv = await wc.alist()
        assert [i.key for i in items] == ["ns/a", "ns/b"] and rv == 2
        threading.Timer(0.1, wc.add, ("ns/c", b"C", 3), {"labels": {"app": "web"}}).start()
        items, rv = await wc.alist(3, label_selector={"app": "web"}, timeout=10)
        assert [i.key for i in items] == ["ns/a", "ns/c"] and rv == 3
        with pytest.raises(edgecache.TooLargeResourceVersion):
            await wc.alist(9, timeout=0.05)
        with pytest.raises(edgecache.InvalidSelector):
            wc.alist(0, label_selector="app in (")  # checked at the call
        with pytest.raises(ValueError):
            wc.alist(0, timeout=-1)

    run(main)


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda wc, w: wc.await_until_fresh(1, timeout=-1), ValueError),
        (lambda wc, w: wc.await_until_fresh(-1), ValueError),
        (lambda wc, w: w.anext(timeout=-0.5), ValueError),
        (lambda wc, w: w.anext(timeout=float("nan")), ValueError),
    ],
)
def test_bad_async_arguments_raise_at_the_call(call: Callable[..., object], exc: type[Exception]) -> None:
    wc = edgecache.WatchCache()
    w = wc.watch(0)
    with pytest.raises(exc):
        call(wc, w)
    w.close()


# --- Ctrl-C ----------------------------------------------------------------------

CTRL_C_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import edgecache

    async def slow(key):
        print("loading", flush=True)
        await asyncio.sleep(3600)
        return b"never"

    g = edgecache.Group("ctrl-c", 1000, slow)

    async def main(role):
        if role == "waiter":
            asyncio.create_task(g.aget("k"))  # leads the load
            await asyncio.sleep(0)
        await g.aget("k")

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("role", ["leader", "waiter"])
def test_ctrl_c_during_asyncio_run_ends_the_program(role: str) -> None:
    """SIGINT to a program in `asyncio.run(main())`, `main` awaiting a slow
    load (as its leader, or waiting for another task's): the program ends
    with KeyboardInterrupt, promptly, instead of hanging."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, role],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "the program did not start its load within 20 s"
        line = proc.stdout.readline()
        assert line.strip() == "loading", line
        time.sleep(0.1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert "KeyboardInterrupt" in err, err
    assert proc.returncode != 0
    assert elapsed < 5, f"exited {elapsed:.1f} s after SIGINT"
    assert "Fatal" not in err and "FATAL" not in err, err


def test_aget_called_from_another_thread_marks_the_loop_not_the_caller(group_name: str) -> None:
    """`run_coroutine_threadsafe(g.aget(k), loop)`: the load runs on the
    loop's thread, so the recursion mark is the loop's. A sync get of the key
    on the calling thread afterwards is no recursion (it used to raise
    RecursiveLoad)."""
    g = edgecache.Group(group_name, 1 << 20, lambda k: k.upper())
    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    try:
        fut = asyncio.run_coroutine_threadsafe(g.aget("k"), loop)
        assert fut.result(timeout=10) == b"K"
        g.remove("k")
        assert g.get("k") == b"K"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        t.join(timeout=10)
        loop.close()
        g.close()
