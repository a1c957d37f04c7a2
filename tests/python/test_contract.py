"""The contract every binding keeps, from tests/contract/cases.tsv (its
header explains the format): each row's subject and input, run from Python,
must show the outcome of the row's `python` column.

Each subject has a probe that *observes* an outcome label (it does not
assume one): the test asserts the label equals the table's. A row whose
subject has no probe fails, so the table cannot grow past this runner
silently; `n/a` rows are skipped, with the reason. Where a subject has an
asyncio form too (`await_until_fresh`, `anext`, `aget`), the probe checks
that it shows the same outcome as the blocking form.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import edgecache

from conftest import run_threads, wait_for

CASES = Path(__file__).resolve().parents[1] / "contract" / "cases.tsv"
COLUMNS = ["id", "subject", "input", "rust", "python", "c", "go"]
# Long enough to see "did not wait", short enough that a wait is obvious.
PROMPT = 0.5


def load_cases() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in CASES.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            header = fields
            assert header == COLUMNS, f"unexpected header in {CASES}: {header}"
            continue
        assert len(fields) == len(header), f"malformed row in {CASES}: {line!r}"
        rows.append(dict(zip(header, fields)))
    assert rows, f"no cases in {CASES}"
    return rows


def value_of(input: str) -> int | None:
    """A row's input: None for `unset`, else the number."""
    return None if input == "unset" else int(input)


_names = iter(range(1 << 30))


def fresh_group_name() -> str:
    return f"contract-{next(_names)}-{time.monotonic_ns()}"


def run_async(coro_fn: Callable[[], object], timeout: float = 30.0) -> object:
    async def bounded() -> object:
        return await asyncio.wait_for(coro_fn(), timeout)  # type: ignore[arg-type]

    return asyncio.run(bounded())


# --- probes: each returns the observed outcome label -------------------------


def probe_cache_budget(input: str) -> str:
    try:
        c = edgecache.Cache(value_of(input))  # type: ignore[arg-type]
    except ValueError:
        return "invalid"
    kept = c.set("k", b"v")
    return "ok" if kept and c.get("k") == b"v" else "disabled"


def probe_group_budget(input: str) -> str:
    calls = 0

    def getter(key: str) -> bytes:
        nonlocal calls
        calls += 1
        return b"v"

    name = fresh_group_name()
    try:
        g = edgecache.Group(name, value_of(input), getter)  # type: ignore[arg-type]
    except ValueError:
        assert edgecache.get_group(name) is None, "a rejected group must not be registered"
        return "invalid"
    try:
        assert g.get("k") == b"v" and g.get("k") == b"v"  # loads still work
        return "disabled" if calls == 2 and g.cache_stats().items == 0 else "ok"
    finally:
        g.close()


def _ttl_outcome(set_and_get: Callable[[float | None], bytes | None], input: str) -> str:
    ttl = value_of(input)
    try:
        first = set_and_get(None if ttl is None else float(ttl))
    except ValueError:
        return "invalid"
    assert first == b"v"
    time.sleep(0.05)
    return "never_expires" if ttl is None else "ok"


def probe_cache_ttl(input: str) -> str:
    c = edgecache.Cache(1000)

    def set_and_get(ttl: float | None) -> bytes | None:
        c.set("k", b"v", ttl=ttl)
        return c.get("k")

    out = _ttl_outcome(set_and_get, input)
    if out == "never_expires":
        assert c.get("k") == b"v"
    return out


def probe_group_ttl(input: str) -> str:
    calls = 0

    def getter(key: str) -> bytes:
        nonlocal calls
        calls += 1
        return b"v"

    groups: list[edgecache.Group] = []

    def set_and_get(ttl: float | None) -> bytes | None:
        name = fresh_group_name()
        try:
            g = edgecache.Group(name, 1000, getter, ttl=ttl)
        except ValueError:
            assert edgecache.get_group(name) is None
            raise
        groups.append(g)
        return g.get("k")

    try:
        out = _ttl_outcome(set_and_get, input)
        if out == "never_expires":
            assert groups[0].get("k") == b"v" and calls == 1
        return out
    finally:
        for g in groups:
            g.close()


def probe_watch_buffer(input: str) -> str:
    wc = edgecache.WatchCache(capacity=2000)
    wc.replace([], 1)
    n = value_of(input)
    try:
        w = wc.watch(1) if n is None else wc.watch(1, buffer=n)
    except ValueError:
        return "invalid"
    # The documented default is 1024 unread events: the 1025th closes it.
    for rv in range(2, 2 + 1024):
        wc.add(f"k{rv}", b"x", rv)
    held_1024 = w.close_reason is None
    wc.add("one-more", b"x", 2 + 1024)
    fell = w.close_reason == "fell_behind"
    w.close()
    if n is None:
        return "default" if held_1024 and fell else "ok"
    return "ok"


def probe_flight_timeout(input: str) -> str:
    f = edgecache.Flight()
    started, release = threading.Event(), threading.Event()

    def load() -> str:
        started.set()
        release.wait(10)
        return "v"

    leader = threading.Thread(target=lambda: f.do("k", load), daemon=True)
    leader.start()
    try:
        assert started.wait(10)
        t0 = time.monotonic()
        try:
            f.do("k", load, timeout=value_of(input))
        except ValueError:
            return "invalid"
        except edgecache.Timeout:
            return "no_wait" if time.monotonic() - t0 < PROMPT else "waits"
        return "waits"
    finally:
        release.set()
        leader.join(10)


def probe_fresh_timeout(input: str) -> str:
    wc = edgecache.WatchCache()
    timeout = value_of(input)

    def observe(wait: Callable[[], object]) -> str:
        t0 = time.monotonic()
        try:
            wait()
        except ValueError:
            return "invalid"
        except edgecache.TooLargeResourceVersion:
            return "no_wait" if time.monotonic() - t0 < PROMPT else "waits"
        return "waits"

    sync = observe(lambda: wc.wait_until_fresh(10, timeout=timeout))
    aio = observe(lambda: run_async(lambda: wc.await_until_fresh(10, timeout=timeout)))
    assert sync == aio, f"wait_until_fresh: {sync}, await_until_fresh: {aio}"
    return sync


def probe_next_timeout(input: str) -> str:
    wc = edgecache.WatchCache()
    w = wc.watch(0)
    timeout = value_of(input)

    def observe(read: Callable[[], object]) -> str:
        t0 = time.monotonic()
        try:
            ev = read()
        except ValueError:
            return "invalid"
        assert ev is None
        return "no_wait" if time.monotonic() - t0 < PROMPT else "waits"

    sync = observe(lambda: w.next(timeout=timeout))
    aio = observe(lambda: run_async(lambda: w.anext(timeout=timeout)))
    w.close()
    assert sync == aio, f"next: {sync}, anext: {aio}"
    return sync


def probe_getter_sets_nothing(input: str) -> str:
    g = edgecache.Group(fresh_group_name(), 1000, lambda key: None)  # type: ignore[arg-type, return-value]
    try:
        outcomes = set()
        for get in (lambda: g.get("k"), lambda: run_async(lambda: g.aget("k"))):
            try:
                get()
                outcomes.add("ok")
            except edgecache.NoValue:
                outcomes.add("no_value")
        assert len(outcomes) == 1, outcomes
        assert g.cache_stats().items == 0
        return outcomes.pop()
    finally:
        g.close()


N_WAITERS = 20


def _leader_and_waiters(getter_first: Callable[[], bytes]) -> tuple[BaseException | bytes, list[object], int]:
    """A group whose first getter call runs `getter_first` once N_WAITERS
    other threads wait for it; later calls return b"v". Returns what the
    leader's caller got, what the waiters got, and the getter calls."""
    calls = 0
    lock = threading.Lock()
    entered = threading.Event()
    name = fresh_group_name()

    def getter(key: str) -> bytes:
        nonlocal calls
        with lock:
            calls += 1
            first = calls == 1
        if first:
            entered.set()
            wait_for(lambda: g.stats().loads >= 1 + N_WAITERS)
            time.sleep(0.1)  # let the last waiter get into its wait
            return getter_first()
        return b"v"

    g = edgecache.Group(name, 1000, getter)
    leader_out: list[BaseException | bytes] = []

    def lead() -> None:
        try:
            leader_out.append(g.get("k"))
        except BaseException as e:  # noqa: BLE001 - the probe inspects it
            leader_out.append(e)

    t = threading.Thread(target=lead, daemon=True)
    t.start()
    try:
        assert entered.wait(10)
        waiters: list[object] = []

        def wait(i: int) -> None:
            try:
                waiters.append(g.get("k"))
            except BaseException as e:  # noqa: BLE001
                waiters.append(e)

        run_threads(N_WAITERS, wait)
        t.join(10)
        return leader_out[0], waiters, calls
    finally:
        g.close()


def probe_leader_leaves(input: str) -> str:
    def leave() -> bytes:
        # On this (not the main) thread it is an exception like any other,
        # caught below; it stands for Ctrl-C arriving inside the getter.
        raise KeyboardInterrupt

    leader, waiters, calls = _leader_and_waiters(leave)
    if isinstance(leader, KeyboardInterrupt) and waiters == [b"v"] * N_WAITERS and calls == 2:
        return "waiter_retries"
    if all(isinstance(w, KeyboardInterrupt) for w in waiters):
        return "reaches_all"
    return f"unexpected: leader {leader!r}, waiters {set(map(repr, waiters))}, calls {calls}"


def probe_leader_error(input: str) -> str:
    class Boom(Exception):
        pass

    def fail() -> bytes:
        raise Boom("no")

    leader, waiters, calls = _leader_and_waiters(fail)
    if isinstance(leader, Boom) and all(w is leader for w in waiters) and calls == 1:
        return "reaches_all"
    if waiters == [b"v"] * N_WAITERS:
        return "waiter_retries"
    return f"unexpected: leader {leader!r}, waiters {set(map(repr, waiters))}, calls {calls}"


def probe_getter_recursive(input: str) -> str:
    out: list[BaseException | bytes] = []

    def getter(key: str) -> bytes:
        try:
            return g.get(key)  # its own key, on its own thread
        except edgecache.RecursiveLoad:
            out.append(edgecache.RecursiveLoad())
            raise

    g = edgecache.Group(fresh_group_name(), 1000, getter)

    def call() -> None:
        try:
            out.append(g.get("k"))
        except BaseException as e:  # noqa: BLE001
            out.append(e)

    # A thread, so a regression (a deadlock) fails the test instead of
    # hanging it.
    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(10)
    try:
        if t.is_alive():
            return "deadlock"
        inner, outer = out
        return "recursive_load" if isinstance(outer, edgecache.RecursiveLoad) else f"unexpected: {out}"
    finally:
        g.close()


PROBES: dict[str, Callable[[str], str]] = {
    "cache.budget": probe_cache_budget,
    "group.budget": probe_group_budget,
    "cache.ttl": probe_cache_ttl,
    "group.ttl": probe_group_ttl,
    "watch.buffer": probe_watch_buffer,
    "flight.timeout": probe_flight_timeout,
    "fresh.timeout": probe_fresh_timeout,
    "watcher.next_timeout": probe_next_timeout,
    "getter.sets_nothing": probe_getter_sets_nothing,
    "leader.leaves": probe_leader_leaves,
    "leader.error": probe_leader_error,
    "getter.recursive": probe_getter_recursive,
}
# Subjects Python cannot express; their rows must say n/a.
NOT_EXPRESSIBLE = {
    # A Python getter cannot panic in Rust (a Rust panic inside one becomes
    # LoaderPanicked, an Exception: the leader.error case).
    "leader.panic",
}

CASE_ROWS = load_cases()


def test_every_subject_is_known() -> None:
    unknown = {r["subject"] for r in CASE_ROWS} - PROBES.keys() - NOT_EXPRESSIBLE
    assert not unknown, f"cases.tsv has subjects this runner does not know: {sorted(unknown)}"


@pytest.mark.parametrize("case", CASE_ROWS, ids=[r["id"] for r in CASE_ROWS])
def test_case(case: dict[str, str]) -> None:
    subject, expected = case["subject"], case["python"]
    if subject in NOT_EXPRESSIBLE:
        assert expected == "n/a", f"{case['id']}: Python cannot express {subject}, but the table says {expected}"
        pytest.skip(f"{subject}: not expressible in Python")
    probe = PROBES.get(subject)
    if probe is None:
        pytest.fail(f"{case['id']}: unknown subject {subject!r}")
    if expected == "n/a":
        pytest.skip(f"{case['id']}: n/a for Python")
    assert probe(case["input"]) == expected, case["id"]
