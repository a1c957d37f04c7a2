"""The asyncio half of edgecache: the coroutines behind ``Group.aget``,
``Flight.ado``, ``Watcher.anext`` and ``async for``,
``WatchCache.await_until_fresh`` and ``WatchCache.alist``.

The native methods check their arguments, answer at once when they can (a
hit, a cache already fresh: a done awaitable, ``_native._Ready``), and
otherwise return a coroutine of this module, which drives the extension's
non-blocking primitives:

- a load's ticket: ``Group._begin(key)`` gives the value's bytes (a hit), a
  ``_GroupLeader`` (this task loads) or a ``_GroupWaiter``;
  ``Flight._begin(key)`` a ``_FlightLeader`` or a ``_FlightWaiter``;
- a completion hook: ``waiter.on_ready(callback, *args)`` (and
  ``Watcher._on_ready``, ``WatchCache._on_fresh``) calls
  ``callback(*args)`` once, on whatever thread makes the result ready;
- a non-blocking read: ``waiter.try_result()``, ``Watcher._try_next()``.

A task that has to wait parks on a future of its own loop; the hook is
``loop.call_soon_threadsafe(_wake, future)``. No thread waits for a task,
and a wait works on any running loop.

Leaving is not failing: a leader whose getter raises something that is not an
``Exception`` (its task was cancelled, ``KeyboardInterrupt``) abandons the
load, and a waiter takes the key over. A waiting task that is cancelled just
stops waiting; the load goes on for the others.

Recursion: a task that leads a load puts a token in the context variable
``_leading`` (which the tasks it starts inherit) and in ``_active``; a task
about to wait for a load whose token is in its own ``_leading`` is waiting
for itself, and raises ``RecursiveLoad`` instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from . import _native
from ._errors import RecursiveLoad

__all__ = [
    "await_until_fresh",
    "alist",
    "flight_ado",
    "group_load",
    "watcher_anext",
    "watcher_next",
]

_Ticket = bytes | _native._GroupLeader | _native._GroupWaiter

# The loads the current task chain leads (their tokens).
_leading: contextvars.ContextVar[frozenset[object]] = contextvars.ContextVar(
    "edgecache_leading", default=frozenset()
)
# (owner identity, key) -> the token of the asyncio load in flight for it.
_active: dict[tuple[int, bytes], object] = {}


def _wake(fut: asyncio.Future[None]) -> None:
    """Resolves `fut` unless it is done already (its task was cancelled, or
    a timer got there first)."""
    if not fut.done():
        fut.set_result(None)


def _key_bytes(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else bytes(key)


def _check_recursive(ident: int, kb: bytes) -> None:
    token = _active.get((ident, kb))
    if token is not None and token in _leading.get():
        raise RecursiveLoad(
            "recursive load: the key is being loaded by this task's own getter (or a task it started), "
            "which would wait for itself"
        )


async def _parked(waiter: _native._GroupWaiter | _native._FlightWaiter, loop: asyncio.AbstractEventLoop) -> None:
    """Waits, without a thread, until `waiter`'s load has ended."""
    fut: asyncio.Future[None] = loop.create_future()
    waiter.on_ready(loop.call_soon_threadsafe, _wake, fut)
    await fut


class _Leading:
    """Marks the current task chain as leading a load of `kb` of `ident`,
    for as long as the `with` block runs."""

    __slots__ = ("key", "token", "reset")

    def __init__(self, ident: int, kb: bytes) -> None:
        self.key = (ident, kb)
        self.token = object()

    def __enter__(self) -> None:
        _active[self.key] = self.token
        self.reset = _leading.set(_leading.get() | {self.token})

    def __exit__(self, *exc: object) -> None:
        try:
            _leading.reset(self.reset)
        except ValueError:
            # A coroutine closed from another context (by the garbage
            # collector): that context is not ours to restore.
            pass
        if _active.get(self.key) is self.token:
            del _active[self.key]


# --- Group.aget ---------------------------------------------------------------


async def group_load(group: _native.Group, key: str | bytes, t: _Ticket) -> bytes:
    """`Group.aget` on a miss: `t` is the ticket `aget` took when called
    (a hit never gets here: it returns a done awaitable)."""
    loop = asyncio.get_running_loop()
    ident = group._ident
    kb = _key_bytes(key)
    while True:
        if type(t) is bytes:
            return t
        if isinstance(t, _native._GroupLeader):
            return await _group_lead(t, ident, kb)
        assert isinstance(t, _native._GroupWaiter)
        _check_recursive(ident, kb)
        await _parked(t, loop)
        r = t.try_result()
        if r is not None:
            return r
        # The leader left (its task was cancelled, or interrupted): take the
        # key again, maybe as the leader.
        t = group._rejoin(key)


async def _group_lead(leader: _native._GroupLeader, ident: int, kb: bytes) -> bytes:
    with _Leading(ident, kb):
        try:
            r = leader.start()
            if type(r) is not bytes and type(r) is not str and r is not None and inspect.isawaitable(r):
                r = await r
        except BaseException as e:
            # An Exception reaches every waiter; anything else abandons the
            # load. Raises `e` (or LoaderPanicked for a Rust panic) either way.
            leader.fail(e)
            raise
        return leader.complete(r)


# --- Flight.ado ---------------------------------------------------------------


async def flight_ado(flight: _native.Flight, key: str | bytes, fn: Callable[[], Any]) -> tuple[Any, bool]:
    loop = asyncio.get_running_loop()
    ident = flight._ident
    kb = _key_bytes(key)
    while True:
        t = flight._begin(key)
        if isinstance(t, _native._FlightLeader):
            return await _flight_lead(t, ident, kb, fn)
        _check_recursive(ident, kb)
        await _parked(t, loop)
        r = t.try_result()
        if r is not None:
            return r
        # Abandoned: begin again.


async def _flight_lead(leader: _native._FlightLeader, ident: int, kb: bytes, fn: Callable[[], Any]) -> tuple[Any, bool]:
    with _Leading(ident, kb):
        try:
            r = fn()
            if inspect.isawaitable(r):
                r = await r
        except BaseException as e:
            leader.fail(e)
            raise
        return leader.complete(r)


# --- Watcher ------------------------------------------------------------------


async def watcher_next(w: _native.Watcher, timeout: float | None) -> _native.Event | None:
    return await _next(w, timeout, False)


async def watcher_anext(w: _native.Watcher) -> _native.Event:
    ev = await _next(w, None, True)
    assert ev is not None
    return ev


async def _next(w: _native.Watcher, timeout: float | None, stop: bool) -> _native.Event | None:
    ev = w._try_next(stop)
    if ev is not None or timeout == 0:
        return ev
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        fut: asyncio.Future[None] = loop.create_future()
        rid, bookmark_in = w._on_ready(loop.call_soon_threadsafe, _wake, fut)
        wait = bookmark_in
        if deadline is not None:
            left = deadline - loop.time()
            wait = left if wait is None else min(wait, left)
        timer = None if wait is None else loop.call_later(max(wait, 0.0), _wake, fut)
        try:
            await fut
        finally:
            w._cancel_ready(rid)
            if timer is not None:
                timer.cancel()
        ev = w._try_next(stop)
        if ev is not None:
            return ev
        if deadline is not None and loop.time() >= deadline:
            return None


# --- WatchCache -----------------------------------------------------------------


async def await_until_fresh(wc: _native.WatchCache, resource_version: int, timeout: float | None) -> None:
    if timeout != 0:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        hid = wc._on_fresh(resource_version, loop.call_soon_threadsafe, _wake, fut)
        if hid is not None:
            timer = None if timeout is None else loop.call_later(timeout, _wake, fut)
            try:
                await fut
            finally:
                wc._cancel_fresh(hid)
                if timer is not None:
                    timer.cancel()
    # Fresh: returns. Timed out: raises TooLargeResourceVersion with the
    # cache's numbers. Closed: raises Closed.
    wc.wait_until_fresh(resource_version, 0)


async def alist(
    wc: _native.WatchCache,
    resource_version: int,
    label_selector: Mapping[str, str] | str | None,
    field_selector: Mapping[str, str] | str | None,
    timeout: float | None,
) -> tuple[list[_native.Item], int]:
    if resource_version:
        await await_until_fresh(wc, resource_version, timeout)
    return wc.list(resource_version, label_selector, field_selector, 0)
