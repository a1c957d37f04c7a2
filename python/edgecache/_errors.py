"""The exception classes of edgecache.

They live here, in Python, rather than being built by the extension module:
``Timeout`` derives from both ``Error`` and the built-in ``TimeoutError``
(``InvalidSelector`` and ``NoValue`` likewise), which a type made from Rust
with one base cannot. ``edgecache._native`` imports them from this module
when it loads and raises them; users import them from ``edgecache``, which is
what their ``__module__`` says.

This module imports nothing from the extension, so the extension can import
it while it initializes.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "ResourceExpired",
    "TooLargeResourceVersion",
    "Timeout",
    "LoaderPanicked",
    "InvalidSelector",
    "RecursiveLoad",
    "NoValue",
    "StoreLocked",
    "StoreCorrupt",
    "Closed",
]


class Error(Exception):
    """Base class of the errors edgecache raises itself."""

    __module__ = "edgecache"


class ResourceExpired(Error):
    """The requested resourceVersion is older than the watch cache's window
    (HTTP 410 Gone): events after it are gone, so list again.

    ``requested`` is the resourceVersion asked for, ``oldest`` the smallest
    one the cache still accepted at that moment. ``reason`` is the
    apiserver's ``Status.reason`` (``"Expired"``); there is no ``cause`` and
    no ``retry_after_seconds`` (relisting, not retrying, is the remedy)."""

    __module__ = "edgecache"
    code = 410
    reason: str = "Expired"
    cause: None = None
    retry_after_seconds: None = None
    requested: int | None = None
    oldest: int | None = None


class TooLargeResourceVersion(Error):
    """The watch cache did not reach the requested resourceVersion within the
    timeout (HTTP 504): retry after ``retry_after_seconds``.

    ``requested`` is the resourceVersion asked for, ``current`` the cache's
    when the wait gave up. ``reason`` is the apiserver's ``Status.reason``
    (``"Timeout"``) and ``cause`` its ``details.causes[0].type``
    (``"ResourceVersionTooLarge"``, what client-go's
    ``IsTooLargeResourceVersion`` looks for)."""

    __module__ = "edgecache"
    code = 504
    reason: str = "Timeout"
    cause: str = "ResourceVersionTooLarge"
    retry_after_seconds = 1
    requested: int | None = None
    current: int | None = None


class Timeout(Error, TimeoutError):
    """A wait for a load in flight ran out of time. The load goes on for the
    other callers. Also a built-in ``TimeoutError``."""

    __module__ = "edgecache"


class LoaderPanicked(Error):
    """A loader or getter panicked in Rust. Nothing was cached; the key is
    free for the next load."""

    __module__ = "edgecache"


class InvalidSelector(Error, ValueError):
    """A label or field selector that does not parse, or a field selector on
    a field the watch cache does not extract (the apiserver's "field label
    not supported"); the message names the offending part. HTTP 400. Also a
    built-in ``ValueError``."""

    __module__ = "edgecache"
    code = 400


class RecursiveLoad(Error):
    """A getter loaded its own key from its own group (directly or through a
    chain on the same thread or asyncio task): answered at once instead of
    deadlocking. The outer load goes on."""

    __module__ = "edgecache"


class NoValue(Error, TypeError):
    """A group's getter returned None: it produced no value. An empty
    ``bytes`` is a value; None is its absence. Nothing was cached; every
    caller that shared the load gets this. Also a built-in ``TypeError``
    (what a getter returning None raised before)."""

    __module__ = "edgecache"


class StoreLocked(Error):
    """Another opener holds the on-disk store at this path."""

    __module__ = "edgecache"


class StoreCorrupt(Error):
    """The on-disk store at this path is damaged."""

    __module__ = "edgecache"


class Closed(Error):
    """The object is closed. For a watcher, ``reason`` says why:
    ``"fell_behind"`` (it read too slowly; watch again from the last
    resourceVersion received), ``"relisted"`` (list again),
    ``"cache_closed"`` or ``"stopped"`` (its owner closed it). A closed
    group says ``"group_closed"``."""

    __module__ = "edgecache"
    code = 503
    reason: str | None = None
