"""edgecache from Python, next to the caches a Python user would otherwise
pick, in one process and one run, with the ratios printed.

    tests/python/run.sh --bench          # builds, installs, runs this (make bench-python)
    .venv/bin/python bench/python/bench.py [--rounds N] [--quick] [--table PATH]

Part 1, hits (one thread): every key is in every cache, and a round calls
`get` on each of 1,000 keys in turn, 200 times. Variants are timed round-robin
(so a burst of load from elsewhere hits all of them alike) and each keeps its
fastest round; ns/call is that round's time over its calls, loop included.
The ratio is the variant's ns/call over `functools.lru_cache`'s: below 1 is
faster than `lru_cache`.

Part 1b, hits from asyncio (one task on one loop): a round calls each of the
1,000 keys in turn, 20 times, from a coroutine; `Group.aget` is awaited, and
so are the asyncio caches a user would otherwise pick (`async-lru`,
`aiocache`) when they are installed (they are optional: a missing one is
listed as such). The ratio is over `Group.get` called from the same
coroutine.

Part 2, stampede: 100 threads ask for one missing key at the same moment
(released together by a barrier); the loader sleeps 50 ms. Reported: how
many times the loader ran, and the wall time from the release to the last
thread's answer (median of the repeats).

Everything printed also goes to target/bench/python.txt (--table), which
`make bench` prints at the end with the other suites' tables.

Results and the machine: docs/benchmarks.md, section 4.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TextIO

import cachebox
import cachetools

import edgecache

KEYS = [f"default/pod-{i:06d}" for i in range(1000)]
VALUE = b"v" * 128
CALLS_PER_ROUND = 200 * len(KEYS)

# Where say() writes: stdout, and the table file once main() has opened it.
OUT: list[TextIO] = [sys.stdout]
DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "target" / "bench" / "python.txt"


def say(text: str) -> None:
    for f in OUT:
        print(text, file=f, flush=True)


# --- part 1: hits ------------------------------------------------------------


def make_hit_variants() -> dict[str, Callable[[str], object]]:
    """Each entry is a one-argument lookup that hits for every key."""

    @functools.lru_cache(maxsize=4096)
    def lru(key: str) -> bytes:
        return VALUE

    ct = cachetools.LRUCache(maxsize=4096)
    ct_lock = threading.Lock()

    def cachetools_locked(key: str) -> object:
        with ct_lock:
            return ct.get(key)

    @cachetools.cached(cachetools.LRUCache(maxsize=4096), lock=threading.Lock())
    def cachetools_cached(key: str) -> bytes:
        return VALUE

    cb = cachebox.LRUCache(maxsize=4096)

    @cachebox.cached(cachebox.LRUCache(maxsize=4096))
    def cachebox_cached(key: str) -> bytes:
        return VALUE

    ec = edgecache.Cache(1 << 20)
    group = edgecache.get_group("python-bench") or edgecache.Group("python-bench", 1 << 20, lambda k: VALUE)

    for k in KEYS:
        lru(k)
        ct[k] = VALUE
        cachetools_cached(k)
        cb[k] = VALUE
        cachebox_cached(k)
        ec.set(k, VALUE)
        group.get(k)
    assert ec.stats().items == len(KEYS) and group.cache_stats().items == len(KEYS)

    return {
        "functools.lru_cache (decorated fn)": lru,
        "cachetools.LRUCache.get + Lock": cachetools_locked,
        "cachetools @cached(lock=Lock)": cachetools_cached,
        "cachebox.LRUCache.get": cb.get,
        "cachebox @cached": cachebox_cached,
        "edgecache.Cache.get": ec.get,
        "edgecache.Group.get": group.get,
        "(dict.get, for scale)": dict.fromkeys(KEYS, VALUE).get,
    }


def time_round(fn: Callable[[str], object]) -> float:
    keys = KEYS
    t0 = time.perf_counter_ns()
    for _ in range(200):
        for k in keys:
            fn(k)
    return (time.perf_counter_ns() - t0) / CALLS_PER_ROUND


def bench_hits(rounds: int) -> None:
    variants = make_hit_variants()
    best = {name: float("inf") for name in variants}
    for name, fn in variants.items():  # warm-up
        time_round(fn)
    for _ in range(rounds):
        for name, fn in variants.items():
            best[name] = min(best[name], time_round(fn))
    base = best["functools.lru_cache (decorated fn)"]
    say(f"\n## Hits: {len(KEYS)} str keys, {len(VALUE)}-byte values, one thread, best of {rounds} rounds\n")
    say(f"| {'variant':<36} | {'ns/call':>8} | {'÷ lru_cache':>11} |")
    say(f"|{'-' * 38}|{'-' * 9}:|{'-' * 12}:|")
    for name, ns in best.items():
        say(f"| {name:<36} | {ns:8.1f} | {ns / base:11.2f} |")


# --- part 1b: hits from asyncio ------------------------------------------------


ASYNC_PASSES = 20
ASYNC_CALLS_PER_ROUND = ASYNC_PASSES * len(KEYS)


def make_async_hit_variants() -> tuple[dict[str, tuple[Callable[[str], object], bool]], list[str], list[str]]:
    """Each entry is (lookup, awaited?), hitting for every key; then the
    optional libraries compared (with their versions) and those that are
    not installed."""
    group = edgecache.get_group("python-bench-aio") or edgecache.Group("python-bench-aio", 1 << 20, lambda k: VALUE)
    for k in KEYS:
        group.get(k)
    variants: dict[str, tuple[Callable[[str], object], bool]] = {
        "edgecache.Group.get (not awaited)": (group.get, False),
        "await edgecache.Group.aget": (group.aget, True),
    }
    present: list[str] = []
    missing: list[str] = []
    try:
        from async_lru import alru_cache

        @alru_cache(maxsize=4096)
        async def alru(key: str) -> bytes:
            return VALUE

        variants["await async_lru @alru_cache"] = (alru, True)
        present.append(f"async-lru {version('async-lru')}")
    except ImportError:
        missing.append("async-lru")
    try:
        from aiocache import SimpleMemoryCache

        aio_cache = SimpleMemoryCache()
        variants["await aiocache SimpleMemoryCache.get"] = (aio_cache.get, True)
        present.append(f"aiocache {version('aiocache')}")
    except ImportError:
        aio_cache = None
        missing.append("aiocache")
    table = dict.fromkeys(KEYS, VALUE)

    async def dict_get(key: str) -> object:
        return table.get(key)

    variants["(await async def dict.get, for scale)"] = (dict_get, True)

    async def fill() -> None:
        for k in KEYS:
            for name, (fn, awaited) in variants.items():
                if awaited and "aiocache" not in name:
                    await fn(k)  # type: ignore[misc]
            if aio_cache is not None:
                await aio_cache.set(k, VALUE)
        assert await group.aget(KEYS[0]) == VALUE

    asyncio.run(fill())
    return variants, present, missing


async def time_round_async(fn: Callable[[str], object], awaited: bool) -> float:
    keys = KEYS
    t0 = time.perf_counter_ns()
    if awaited:
        for _ in range(ASYNC_PASSES):
            for k in keys:
                await fn(k)  # type: ignore[misc]
    else:
        for _ in range(ASYNC_PASSES):
            for k in keys:
                fn(k)
    return (time.perf_counter_ns() - t0) / ASYNC_CALLS_PER_ROUND


def bench_async_hits(rounds: int) -> None:
    variants, present, missing = make_async_hit_variants()
    best = {name: float("inf") for name in variants}

    async def run() -> None:
        for fn, awaited in variants.values():  # warm-up
            await time_round_async(fn, awaited)
        for _ in range(rounds):
            for name, (fn, awaited) in variants.items():
                best[name] = min(best[name], await time_round_async(fn, awaited))

    asyncio.run(run())
    base = best["edgecache.Group.get (not awaited)"]
    say(f"\n## Hits from asyncio: one task, one loop, best of {rounds} rounds\n")
    say(f"| {'variant':<40} | {'ns/call':>8} | {'÷ Group.get':>11} |")
    say(f"|{'-' * 42}|{'-' * 9}:|{'-' * 12}:|")
    for name, ns in best.items():
        say(f"| {name:<40} | {ns:8.1f} | {ns / base:11.2f} |")
    if present:
        say(f"\n{', '.join(present)}")
    if missing:
        say(f"\nnot installed, so not compared: {', '.join(missing)}")


# --- part 2: stampede ----------------------------------------------------------

THREADS = 100
LOAD_SECONDS = 0.05


def stampede_variants() -> dict[str, Callable[[Callable[[str], bytes]], Callable[[str], object]]]:
    """Each entry wraps a fresh loader into a fresh cached lookup."""

    def lru(load: Callable[[str], bytes]) -> Callable[[str], object]:
        return functools.lru_cache(maxsize=128)(load)

    def ct_lock(load: Callable[[str], bytes]) -> Callable[[str], object]:
        return cachetools.cached(cachetools.LRUCache(maxsize=128), lock=threading.Lock())(load)

    def ct_condition(load: Callable[[str], bytes]) -> Callable[[str], object]:
        return cachetools.cached(cachetools.LRUCache(maxsize=128), condition=threading.Condition())(load)

    def cb(load: Callable[[str], bytes]) -> Callable[[str], object]:
        return cachebox.cached(cachebox.LRUCache(maxsize=128))(load)

    n = 0

    def group(load: Callable[[str], bytes]) -> Callable[[str], object]:
        nonlocal n
        n += 1
        return edgecache.Group(f"python-bench-stampede-{n}", 1 << 20, load).get

    def flight(load: Callable[[str], bytes]) -> Callable[[str], object]:
        f = edgecache.Flight()
        return lambda key: f.do(key, lambda: load(key))

    return {
        "functools.lru_cache": lru,
        "cachetools @cached(lock=Lock)": ct_lock,
        "cachetools @cached(condition=Condition)": ct_condition,
        "cachebox @cached": cb,
        "edgecache.Group.get": group,
        "edgecache.Flight.do": flight,
    }


def stampede_once(wrap: Callable[[Callable[[str], bytes]], Callable[[str], object]]) -> tuple[int, float]:
    calls = 0
    lock = threading.Lock()

    def load(key: str) -> bytes:
        nonlocal calls
        with lock:
            calls += 1
        time.sleep(LOAD_SECONDS)
        return VALUE

    get = wrap(load)
    barrier = threading.Barrier(THREADS + 1)
    done: list[float] = []

    def worker() -> None:
        barrier.wait(30)
        assert get("the-key") is not None
        done.append(time.perf_counter())

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    barrier.wait(30)
    t0 = time.perf_counter()
    for t in threads:
        t.join(60)
    assert len(done) == THREADS, "a thread did not finish"
    return calls, max(done) - t0


def bench_stampede(repeats: int) -> None:
    say(
        f"\n## Stampede: {THREADS} threads, one missing key, a {LOAD_SECONDS * 1000:.0f} ms loader, "
        f"median of {repeats}\n"
    )
    say(f"| {'variant':<40} | {'loader calls':>12} | {'wall ms':>8} |")
    say(f"|{'-' * 42}|{'-' * 13}:|{'-' * 9}:|")
    for name, wrap in stampede_variants().items():
        runs = [stampede_once(wrap) for _ in range(repeats)]
        calls = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs) * 1000
        spread = f"{min(c for c, _ in runs)}-{max(c for c, _ in runs)}"
        shown = f"{calls:g}" if spread.split("-")[0] == spread.split("-")[1] else f"{calls:g} ({spread})"
        say(f"| {name:<40} | {shown:>12} | {wall:8.1f} |")
    for n in range(1, repeats * 2 + 1):
        g = edgecache.get_group(f"python-bench-stampede-{n}")
        if g is not None:
            g.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7, help="timed rounds per hit variant (default 7)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per stampede variant (default 5)")
    ap.add_argument("--quick", action="store_true", help="2 rounds and 1 repeat, to check the script runs")
    ap.add_argument(
        "--table",
        default=str(DEFAULT_TABLE),
        help=f"also write the output here (default {DEFAULT_TABLE}; empty: nowhere)",
    )
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.repeats = 2, 1
    if args.table:
        table = Path(args.table)
        table.parent.mkdir(parents=True, exist_ok=True)
        OUT.append(table.open("w", encoding="utf-8"))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    say("# edgecache Python benchmark")
    say(
        f"\nPython {platform.python_version()} ({sys.implementation.name}), {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start"
    )
    say(
        f"edgecache {edgecache.__version__}, cachetools {version('cachetools')}, "
        f"cachebox {version('cachebox')}"
    )
    bench_hits(args.rounds)
    bench_async_hits(args.rounds)
    bench_stampede(args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    say(f"\nload average {load:.2f} at end")


if __name__ == "__main__":
    main()
