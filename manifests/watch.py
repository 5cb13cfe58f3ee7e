"""Values computed from files, kept until one of those files changes.

The folders the platform reads while serving (curator content, the built presentation folder, the
image root) change under a running server, but rarely. A value computed from them is kept with the
state of every file and folder it looked at, taken *before* it read them: a change made while it
was computing then shows as a difference on the next check, never as a stale value kept forever.
Checking costs one ``stat`` per watched path, reading nothing.

A file's state is (inode, size, mtime in ns): an editor that saves by renaming changes the inode, a
rewrite in place changes the mtime, and a folder's mtime changes when an entry is added, removed
or renamed in it. A folder swapped for a new one (``iiif-archive build`` does that) has a new inode.
File systems stamp mtimes from a coarse clock (one kernel tick, up to 10 ms), so a second change in
the tick of the kept ``stat`` would look like none: a path changed that recently is kept as
UNSETTLED and looked at again on the next check (git's "racily clean" files).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")
# Called with each file or folder a computation is about to read (before reading it).
Watch = Callable[[Path], None]


class FileState(NamedTuple):
    """What ``stat`` says about a path; all zero for a path that does not exist. A tuple, not a
    dataclass: a landing request compares hundreds of them."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> FileState:
        try:
            stat = os.stat(path)
        except OSError:
            return MISSING
        return cls(stat.st_ino, stat.st_size, stat.st_mtime_ns)


MISSING = FileState(0, 0, 0)
# Kept for a path whose mtime is too recent to trust; no stat ever returns it.
UNSETTLED = FileState(-1, -1, -1)
SETTLING_NS = 20_000_000


def state_to_keep(state: FileState) -> FileState:
    """What to compare a later ``FileState.of`` with: UNSETTLED while the mtime is within SETTLING_NS
    of now, so that a change in the same clock tick cannot go unseen."""
    return UNSETTLED if time.time_ns() - state.mtime_ns < SETTLING_NS else state


@dataclass(frozen=True)
class _Kept(Generic[T]):
    value: T | None
    error: Exception | None
    watched: tuple[tuple[str, FileState], ...]

    def is_current(self) -> bool:
        return all(FileState.of(path) == state for path, state in self.watched)


class Watched(Generic[T]):
    """``compute(watch)`` once, then again only when a path it passed to ``watch`` has changed.

    ``compute`` must call ``watch(path)`` for every folder it lists and every file it reads, before
    doing so. Errors of the ``kept_errors`` types are kept like values (a broken curator file stays
    broken until it is edited: it is not re-read on every request) and raised again. With
    ``recheck_after`` seconds, a value checked that recently is trusted without a ``stat``: for a
    value watching hundreds of paths, a change then shows within that time instead of at once.
    Thread-safe: one thread computes while the others wait for its result; a current value costs no lock.
    """

    def __init__(self, compute: Callable[[Watch], T], kept_errors: tuple[type[Exception], ...] = (),
                 recheck_after: float = 0.0) -> None:
        self._compute = compute
        self._kept_errors = kept_errors
        self._recheck_after = recheck_after
        self._kept: _Kept[T] | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> T:
        kept = self._kept
        if kept is None or self._changed(kept):
            with self._lock:
                kept = self._kept
                if kept is None or not kept.is_current():
                    kept = self._kept = self._recompute()
                    self._checked_at = time.monotonic()
        if kept.error is not None:
            raise kept.error.with_traceback(None)
        return kept.value  # type: ignore[return-value]

    def _changed(self, kept: _Kept[T]) -> bool:
        now = time.monotonic()
        if now - self._checked_at < self._recheck_after:
            return False
        if kept.is_current():
            self._checked_at = now
            return False
        return True

    def _recompute(self) -> _Kept[T]:
        watched: dict[str, FileState] = {}

        def watch(path: Path) -> None:
            name = os.fspath(path)
            if name not in watched:
                watched[name] = state_to_keep(FileState.of(name))

        try:
            value = self._compute(watch)
        except self._kept_errors as error:
            return _Kept(None, error, tuple(watched.items()))
        return _Kept(value, None, tuple(watched.items()))


def list_files(root: Path, suffixes: Collection[str], watch: Watch) -> list[Path]:
    """Files below ``root`` whose lower-case suffix is one of ``suffixes``, sorted; hidden files and
    folders (a leading dot) are left out and symlinked folders are not entered. Each folder is
    watched before it is listed, so a file added to any of them is noticed."""
    found: list[Path] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        watch(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(Path(entry.path))
            elif os.path.splitext(entry.name)[1].lower() in suffixes and not entry.is_dir():
                found.append(Path(entry.path))
    return sorted(found)
