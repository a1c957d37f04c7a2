"""Shared helpers for the edgecache pytest suite.

Every wait in these tests is bounded (a timeout or a deadline), and nothing
touches the network.
"""

from __future__ import annotations

import _thread
import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import edgecache

_names = itertools.count()


@pytest.fixture
def group_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A group name no other test uses; the group is closed afterwards."""
    name = f"{request.node.name}-{next(_names)}"
    yield name
    g = edgecache.get_group(name)
    if g is not None:
        g.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Polls `predicate` until it holds; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout} s")
        time.sleep(0.005)


def run_threads(n: int, target: Callable[[int], None], timeout: float = 30.0) -> None:
    """Runs `target(i)` on `n` threads and joins them, failing on a hang."""
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            pytest.fail(f"a thread did not finish within {timeout} s")


def interrupt_latency(block: Callable[[], object], delay: float = 0.33) -> float:
    """Runs `block` in the main thread, sends it Ctrl-C (`interrupt_main`)
    after `delay` seconds, and returns how long after that the
    `KeyboardInterrupt` arrived. `block` must wait for longer than `delay`
    (give it a timeout of a few seconds, so a binding that ignores signals
    fails the test instead of hanging it). The default delay is not a
    multiple of the binding's 50 ms wake-up slice, so the signal lands in
    the middle of a slice rather than just before its end."""
    assert threading.current_thread() is threading.main_thread()
    sent: list[float] = []

    def interrupter() -> None:
        time.sleep(delay)
        sent.append(time.monotonic())
        _thread.interrupt_main()

    t = threading.Thread(target=interrupter, daemon=True)
    t.start()
    try:
        try:
            block()
        except KeyboardInterrupt:
            return time.monotonic() - sent[0]
        # `block` returned: let the pending interrupt arrive here, where it
        # cannot escape into the test runner.
        try:
            t.join(5)
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass
        pytest.fail("the wait returned instead of raising KeyboardInterrupt")
    finally:
        t.join(5)
