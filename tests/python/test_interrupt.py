"""Ctrl-C while blocked: every wait releases the GIL and checks for signals
at least every 100 ms, so `KeyboardInterrupt` arrives within 200 ms.

`_thread.interrupt_main()` raises the same `KeyboardInterrupt` a terminal's
Ctrl-C does (it simulates SIGINT for the main thread). The 200 ms bound is
part of the binding's contract, so it is asserted here.
"""

from __future__ import annotations

import threading

import edgecache

from conftest import interrupt_latency

BOUND = 0.2


class Held:
    """A load in another thread that stays in flight until released."""

    def __init__(self, start: object) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=start, args=(self,), daemon=True)
        self.thread.start()
        assert self.started.wait(10)

    def load(self) -> bytes:
        self.started.set()
        self.release.wait(10)
        return b"v"

    def end(self) -> None:
        self.release.set()
        self.thread.join(10)


def test_ctrl_c_interrupts_a_flight_waiter() -> None:
    f = edgecache.Flight()
    held = Held(lambda h: f.do("k", h.load))
    try:
        latency = interrupt_latency(lambda: f.do("k", held.load, timeout=5))
    finally:
        held.end()
    assert latency < BOUND, f"KeyboardInterrupt took {latency:.3f} s"
    # The load went on for the others and the flight is usable.
    assert f.do("k", lambda: "next") == ("next", False)


def test_ctrl_c_interrupts_a_watcher_next() -> None:
    wc = edgecache.WatchCache()
    w = wc.watch(0)
    latency = interrupt_latency(lambda: w.next(timeout=5))
    assert latency < BOUND, f"KeyboardInterrupt took {latency:.3f} s"
    # The watcher is still usable.
    wc.add("a", b"1", 1)
    assert w.next(timeout=1).key == "a"  # type: ignore[union-attr]


def test_ctrl_c_interrupts_an_iteration_over_a_watcher() -> None:
    wc = edgecache.WatchCache()
    w = wc.watch(0)
    latency = interrupt_latency(lambda: next(w))
    w.close()
    assert latency < BOUND, f"KeyboardInterrupt took {latency:.3f} s"


def test_ctrl_c_interrupts_wait_until_fresh() -> None:
    wc = edgecache.WatchCache()
    latency = interrupt_latency(lambda: wc.wait_until_fresh(10, timeout=5))
    assert latency < BOUND, f"KeyboardInterrupt took {latency:.3f} s"


def test_ctrl_c_interrupts_list_and_get_waiting_for_freshness() -> None:
    wc = edgecache.WatchCache()
    for block in (lambda: wc.list(10, timeout=5), lambda: wc.get("k", 10, timeout=5)):
        latency = interrupt_latency(block)
        assert latency < BOUND, f"KeyboardInterrupt took {latency:.3f} s"


def test_ctrl_c_interrupts_a_group_get_waiting_for_another_threads_load(group_name: str) -> None:
    loads: list[Held] = []

    def getter(key: str) -> bytes:
        return loads[0].load()

    g = edgecache.Group(group_name, 1000, getter)

    def start(h: Held) -> None:
        loads.append(h)
        g.get("k")

    held = Held(start)
    try:
        latency = interrupt_latency(lambda: g.get("k"))
    finally:
        held.end()
    assert latency < BOUND, f"KeyboardInterrupt took {latency:.3f} s"
    assert g.get("k") == b"v"
    assert g.stats().local_loads == 1
