"""Type stubs of the compiled module edgecache._native (checked against it
with ``python -m mypy.stubtest edgecache._native``)."""

import builtins
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final, final

from typing_extensions import Self

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
    "_panic",
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

class Error(Exception):
    """Base class of the errors edgecache raises itself."""

class ResourceExpired(Error):
    """The resourceVersion is older than the watch cache's window (HTTP 410):
    list again. ``requested`` is the resourceVersion asked for, ``oldest``
    the smallest one the cache still accepted (both set when edgecache
    raises it)."""

    code: ClassVar[int]
    reason: str
    """The apiserver's ``Status.reason``: ``"Expired"``."""
    cause: None
    retry_after_seconds: None
    requested: int | None
    oldest: int | None

class TooLargeResourceVersion(Error):
    """The watch cache did not reach the resourceVersion in time (HTTP 504):
    retry after ``retry_after_seconds``. ``requested`` is the
    resourceVersion asked for, ``current`` the cache's when the wait gave
    up (both set when edgecache raises it)."""

    code: ClassVar[int]
    retry_after_seconds: ClassVar[int]
    reason: str
    """The apiserver's ``Status.reason``: ``"Timeout"``."""
    cause: str
    """The apiserver's cause type: ``"ResourceVersionTooLarge"``."""
    requested: int | None
    current: int | None

class InvalidSelector(Error, ValueError):
    """A selector that does not parse, or a field selector on a field the
    watch cache does not extract (HTTP 400). Also a ``ValueError``."""

    code: ClassVar[int]

class RecursiveLoad(Error):
    """A getter loaded its own key from its own group."""

class StoreLocked(Error):
    """Another opener holds the on-disk store at this path."""

class StoreCorrupt(Error):
    """The on-disk store at this path is damaged."""

class Timeout(Error, TimeoutError):
    """A wait for a load in flight ran out of time."""

class LoaderPanicked(Error):
    """A loader or getter panicked in Rust."""

class Closed(Error):
    """The object is closed; ``reason`` says why."""

    code: ClassVar[int]
    reason: str | None

@final
class Flight:
    """Runs a function once for all callers that ask for one key at once."""

    def __new__(cls) -> Self: ...
    def do(self, key: _Key, fn: Callable[[], Any], timeout: _Seconds | None = None) -> tuple[Any, bool]:
        """Calls ``fn()`` or joins the call in flight for ``key``; returns ``(value, shared)``."""
    def forget(self, key: _Key) -> bool:
        """Detaches ``key`` from its call in flight; later callers start a new one."""

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

def _panic(message: str) -> None:
    """Test hook: panics in Rust (raising pyo3's PanicException)."""
