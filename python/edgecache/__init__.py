"""edgecache: a Rust caching core for edge agents.

- :class:`Flight` runs one load per key, however many threads ask at once
  (Go's singleflight).
- :class:`Cache` is a byte-bounded LRU of ``bytes``; :class:`Group` is
  groupcache's named cache behind a getter, with statistics.
- :class:`WatchCache` keeps a window of watch events by resourceVersion and
  the current state, so a reconnecting client resumes instead of relisting.

The values live in Rust, outside the Python heap, and every wait (for
another thread's load, for freshness, for a watch event) releases the GIL
and can be interrupted with Ctrl-C.

asyncio: ``await group.aget(key)``, ``await flight.ado(key, fn)``,
``async for event in watcher``, ``await watcher.anext(timeout)``,
``await cache.await_until_fresh(rv)`` and ``await cache.alist(...)`` wait
without a thread each, on any running loop.
"""

from ._native import (
    HOT_CACHE,
    MAIN_CACHE,
    Cache,
    CacheStats,
    Closed,
    Error,
    Event,
    Flight,
    Group,
    InvalidSelector,
    Item,
    ListPage,
    LoaderPanicked,
    NoValue,
    RecursiveLoad,
    ResourceExpired,
    Stats,
    StoreCorrupt,
    StoreLocked,
    Timeout,
    TooLargeResourceVersion,
    WatchCache,
    Watcher,
    __version__,
    get_group,
)

__all__ = [
    "HOT_CACHE",
    "MAIN_CACHE",
    "Cache",
    "CacheStats",
    "Closed",
    "Error",
    "Event",
    "Flight",
    "Group",
    "InvalidSelector",
    "Item",
    "ListPage",
    "LoaderPanicked",
    "NoValue",
    "RecursiveLoad",
    "ResourceExpired",
    "Stats",
    "StoreCorrupt",
    "StoreLocked",
    "Timeout",
    "TooLargeResourceVersion",
    "WatchCache",
    "Watcher",
    "__version__",
    "get_group",
]
