"""The one in-memory LRU of the server: ``cachetools.LRUCache`` behind a lock. The derivative,
response, image-info, resolved-path, opened-level and stored-tile-index caches are all this."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import cachetools

Value = TypeVar("Value")


class SizedLRU(Generic[Value]):
    """Values by key within ``max_size`` as ``size_of`` counts them (bytes), or within ``max_size``
    entries without it; least recently used out first. Thread-safe; a value larger than the whole
    budget is not kept (and leaves the cache as it was)."""

    def __init__(self, max_size: int, size_of: Callable[[Value], int] | None = None) -> None:
        self.max_size = max_size
        self._entries: cachetools.LRUCache[Hashable, Value] = cachetools.LRUCache(max_size, getsizeof=size_of)
        self._lock = threading.Lock()

    @property
    def bytes_used(self) -> int:
        """The budget in use: bytes, or entries without ``size_of``."""
        with self._lock:
            return self._entries.currsize

    def keys(self) -> list[Hashable]:
        """The keys now held, in no particular order."""
        with self._lock:
            return list(self._entries.keys())

    def get(self, key: Hashable) -> Value | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: Hashable, value: Value) -> None:
        with self._lock:
            try:
                self._entries[key] = value
            except ValueError:  # larger than the whole budget
                pass

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)
