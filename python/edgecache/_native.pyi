"""Type stubs of the compiled module edgecache._native (checked against it
with ``python -m mypy.stubtest edgecache._native``)."""

import builtins
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from typing import Any, ClassVar, Final, Generic, TypeVar, final

from typing_extensions import Self

# The exception classes are defined in Python (edgecache/_errors.py); the
# extension imports them from there and exports them.
from ._errors import (
    Closed as Closed,
    Error as Error,
    InvalidSelector as InvalidSelector,
    LoaderPanicked as LoaderPanicked,
    NoValue as NoValue,
    RecursiveLoad as RecursiveLoad,
    ResourceExpired as ResourceExpired,
    StoreCorrupt as StoreCorrupt,
    StoreLocked as StoreLocked,
    Timeout as Timeout,
    TooLargeResourceVersion as TooLargeResourceVersion,
)

_T = TypeVar("_T")

__all__ = [
    "__version__",
    "MAIN_CACHE",
    "HOT_CACHE",
    "Error",
    "ResourceExpired",
    "TooLargeResourceVersion",
    "Timeout",
    "LoaderPanicked",
    "Closed",
    "InvalidSelector",
    "RecursiveLoad",
    "NoValue",
    "StoreLocked",
    "StoreCorrupt",
    "Flight",
    "Cache",
    "CacheStats",
    "Group",
    "Stats",
    "get_group",
    "WatchCache",
    "Watcher",
    "Event",
    "Item",
    "ListPage",
]

__version__: Final[str]

MAIN_CACHE: Final[int]
"""`Group.cache_stats` selector: the keys this process owns."""
HOT_CACHE: Final[int]
"""`Group.cache_stats` selector: popular keys owned by peers."""

_Key = str | bytes  # a cache key; a str stands for its UTF-8 bytes
_Seconds = float | int
_Labels = Mapping[str, str]
# A selector: equality pairs, or a str in Kubernetes syntax
# ("app in (web,api),!canary"; fields: "spec.nodeName!=n1").
_Selector = Mapping[str, str] | str
_ReplaceItem = (
    tuple[_Key, bytes]
    | tuple[_Key, bytes, _Labels | None]
    | tuple[_Key, bytes, _Labels | None, _Labels | None]
)

@final
class _Ready(Generic[_T]):
    """A done awaitable: what the asyncio methods return when they can answer at once."""

    def __await__(self) -> Generator[Any, None, _T]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> None: ...
    def send(self, _value: Any) -> None: ...
    def throw(self, typ: Any, val: Any = None, _tb: Any = None) -> None: ...
    def close(self) -> None: ...

@final
class Flight:
    """Runs a function once for all callers that ask for one key at once."""

    def __new__(cls) -> Self: ...
    def do(self, key: _Key, fn: Callable[[], Any], timeout: _Seconds | None = None) -> tuple[Any, bool]:
        """Calls ``fn()`` or joins the call in flight for ``key``; returns ``(value, shared)``."""
    def forget(self, key: _Key) -> bool:
        """Detaches ``key`` from its call in flight; later callers start a new one."""
    async def ado(self, key: _Key, fn: Callable[[], Awaitable[_T] | _T]) -> tuple[_T, bool]:
        """``do`` for asyncio: the leading task awaits ``fn()``; every task and thread asking meanwhile shares it."""
    def _begin(self, key: _Key) -> _FlightLeader | _FlightWaiter: ...
    @property
    def _ident(self) -> int: ...

@final
class _FlightLeader:
    """The leading caller of an asyncio call (``Flight.ado``)."""

    def complete(self, value: Any) -> tuple[Any, bool]: ...
    def fail(self, exc: BaseException) -> None: ...
    def abandon(self) -> None: ...

@final
class _FlightWaiter:
    """A caller waiting for another caller's call (``Flight.ado``)."""

    def on_ready(self, callback: Callable[..., object], *args: Any) -> None: ...
    def try_result(self) -> tuple[Any, bool] | None: ...

@final
class CacheStats:
    """The counters of one cache."""

    @property
    def bytes(self) -> int: ...
    @property
    def items(self) -> int: ...
    @property
    def gets(self) -> int: ...
    @property
    def hits(self) -> int: ...
    @property
    def evictions(self) -> int: ...

@final
class Cache:
    """A byte-bounded LRU cache of ``bytes``, safe to share between threads."""

    def __new__(cls, max_bytes: int) -> Self: ...
    def get(self, key: _Key) -> bytes | None: ...
    def set(self, key: _Key, value: bytes, ttl: _Seconds | None = None) -> bool: ...
    def remove(self, key: _Key) -> bool: ...
    def clear(self) -> None: ...
    def stats(self) -> CacheStats: ...
    @property
    def max_bytes(self) -> int: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: _Key, /) -> bool: ...

@final
class Stats:
    """A group's counters, as groupcache's ``Stats``."""

    @property
    def gets(self) -> int: ...
    @property
    def cache_hits(self) -> int: ...
    @property
    def peer_loads(self) -> int: ...
    @property
    def peer_errors(self) -> int: ...
    @property
    def loads(self) -> int: ...
    @property
    def loads_deduped(self) -> int: ...
    @property
    def local_loads(self) -> int: ...
    @property
    def local_load_errs(self) -> int: ...
    @property
    def server_requests(self) -> int: ...

@final
class Group:
    """A named cache that loads missing values through ``getter``, once per key."""

    def __new__(
        cls,
        name: str,
        cache_bytes: int,
        getter: Callable[[str], bytes | str],
        ttl: _Seconds | None = None,
    ) -> Self: ...
    def get(self, key: _Key) -> bytes: ...
    async def aget(self, key: _Key) -> bytes:
        """``get`` for asyncio: no thread waits for another caller's load."""
    def _begin(self, key: _Key) -> bytes | _GroupLeader | _GroupWaiter: ...
    def _rejoin(self, key: _Key) -> bytes | _GroupLeader | _GroupWaiter: ...
    @property
    def _ident(self) -> int: ...
    def remove(self, key: _Key) -> bool: ...
    def stats(self) -> Stats: ...
    def cache_stats(self, which: int = 1) -> CacheStats: ...
    def close(self) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def cache_bytes(self) -> int: ...
    @property
    def closed(self) -> bool: ...

def get_group(name: str) -> Group | None:
    """The registered group named ``name``, or None."""

@final
class _GroupLeader:
    """The caller that leads a load for ``Group.aget``."""

    def start(self) -> Any: ...
    def complete(self, result: Any) -> bytes: ...
    def fail(self, exc: BaseException) -> None: ...
    def abandon(self) -> None: ...

@final
class _GroupWaiter:
    """A caller waiting for another caller's load (``Group.aget``)."""

    def on_ready(self, callback: Callable[..., object], *args: Any) -> None: ...
    def try_result(self) -> bytes | None: ...

@final
class Event:
    """One watch event."""

    @property
    def type(self) -> str:
        """``"ADDED"``, ``"MODIFIED"``, ``"DELETED"`` or ``"BOOKMARK"``."""
    @property
    def key(self) -> str: ...
    @property
    def object(self) -> bytes: ...
    @property
    def prev_object(self) -> bytes | None: ...
    @property
    def resource_version(self) -> int: ...
    @property
    def initial_events_end(self) -> bool:
        """True only on the BOOKMARK that ends a streaming list's initial events."""
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def fields(self) -> dict[str, str]: ...
    def __eq__(self, other: builtins.object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Item:
    """One object of a watch cache's current state."""

    @property
    def key(self) -> str: ...
    @property
    def object(self) -> bytes: ...
    @property
    def resource_version(self) -> int: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def fields(self) -> dict[str, str]: ...
    def __eq__(self, other: builtins.object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class ListPage:
    """One page from ``WatchCache.list_page``."""

    @property
    def items(self) -> builtins.list[Item]:
        """The page's objects, in key order."""
    @property
    def resource_version(self) -> int:
        """The resourceVersion of the snapshot every page of the listing comes from."""
    @property
    def continue_token(self) -> str | None:
        """Pass it back for the next page; None on the last one. Opaque."""

@final
class Watcher:
    """A stream of events from ``WatchCache.watch``."""

    def next(self, timeout: _Seconds | None = None) -> Event | None: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Event: ...
    async def anext(self, timeout: _Seconds | None = None) -> Event | None:
        """``next`` for asyncio: no thread waits."""
    def __aiter__(self) -> Self: ...
    async def __anext__(self) -> Event: ...
    def _try_next(self, stop: bool = False) -> Event | None: ...
    def _on_ready(self, callback: Callable[..., object], *args: Any) -> tuple[int, float | None]: ...
    def _cancel_ready(self, id: int) -> bool: ...
    def close(self) -> None: ...
    @property
    def close_reason(self) -> str | None: ...
    @property
    def pending(self) -> int: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_exc: object) -> bool: ...

@final
class WatchCache:
    """A window of watch events by resourceVersion, plus the current state."""

    def __new__(
        cls,
        capacity: int | None = 100,
        max_capacity: int | None = None,
        max_bytes: int | None = None,
        indexes: Iterable[str] | None = (),
        *,
        bookmark_interval: _Seconds | None = 60.0,
        fields: Iterable[str] | None = None,
    ) -> Self: ...
    def add(
        self,
        key: _Key,
        obj: bytes,
        resource_version: int,
        labels: _Labels | None = None,
        fields: _Labels | None = None,
    ) -> None: ...
    def update(
        self,
        key: _Key,
        obj: bytes,
        resource_version: int,
        labels: _Labels | None = None,
        fields: _Labels | None = None,
    ) -> None: ...
    def delete(
        self,
        key: _Key,
        obj: bytes,
        resource_version: int,
        labels: _Labels | None = None,
        fields: _Labels | None = None,
    ) -> None: ...
    def replace(self, items: Iterable[_ReplaceItem], resource_version: int) -> None: ...
    def bookmark(self, resource_version: int) -> None: ...
    @property
    def resource_version(self) -> int: ...
    def events_since(self, resource_version: int) -> builtins.list[Event]: ...
    def wait_until_fresh(self, resource_version: int, timeout: _Seconds | None = 3.0) -> None: ...
    async def await_until_fresh(self, resource_version: int, timeout: _Seconds | None = 3.0) -> None:
        """``wait_until_fresh`` for asyncio: no thread waits."""
    async def alist(
        self,
        resource_version: int = 0,
        label_selector: _Selector | None = None,
        field_selector: _Selector | None = None,
        timeout: _Seconds | None = 3.0,
    ) -> tuple[builtins.list[Item], int]:
        """``list`` for asyncio: the freshness wait as ``await_until_fresh``."""
    def _on_fresh(self, resource_version: int, callback: Callable[..., object], *args: Any) -> int | None: ...
    def _cancel_fresh(self, id: int) -> bool: ...
    def list(
        self,
        resource_version: int = 0,
        label_selector: _Selector | None = None,
        field_selector: _Selector | None = None,
        timeout: _Seconds | None = 3.0,
    ) -> tuple[builtins.list[Item], int]:
        """The matching objects by key and the cache's resourceVersion, once it has seen ``resource_version``."""
    def list_page(
        self,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: int = 0,
        resource_version_match: str | None = None,
        label_selector: _Selector | None = None,
        field_selector: _Selector | None = None,
        timeout: _Seconds | None = 3.0,
    ) -> ListPage:
        """One page of at most ``limit`` matching objects, from the snapshot of the listing's first page."""
    def get(self, key: _Key, resource_version: int = 0, timeout: _Seconds | None = 3.0) -> Item | None: ...
    def watch(
        self,
        resource_version: int,
        label_selector: _Selector | None = None,
        field_selector: _Selector | None = None,
        *,
        send_initial_events: bool = False,
        bookmarks: bool = False,
        bookmark_interval: _Seconds | None = None,
        buffer: int = 1024,
        timeout: _Seconds | None = 3.0,
    ) -> Watcher:
        """A stream of the matching events after ``resource_version`` (or a streaming list)."""
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __len__(self) -> int: ...
