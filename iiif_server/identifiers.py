"""Identifier -> master file below the image root, with proven containment.

The identifier is the master's path below the root without its extension (``maps/hanoi-1873``
for ``maps/hanoi-1873.tif``). It reaches us percent-decoded exactly once (``%2F`` -> ``/``); a
double-encoded form stays literal and so names no file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from iiif_server.errors import BadRequest, NotFound

# Order decides which master wins when several share a stem: pyramidal formats first.
MASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".jpx", ".j2k", ".jpg", ".jpeg", ".png", ".webp", ".gif")
MAX_IDENTIFIER_LENGTH = 1024


def check_identifier(identifier: str) -> tuple[str, ...]:
    """Return the identifier's path segments, or refuse anything that could name another place."""
    if not identifier:
        raise BadRequest("identifier is empty")
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        raise BadRequest(f"identifier is longer than {MAX_IDENTIFIER_LENGTH} characters")
    if "\x00" in identifier or "\\" in identifier:
        raise BadRequest("identifier contains a forbidden character")
    segments = tuple(identifier.split("/"))
    for segment in segments:
        if segment in ("", ".", ".."):
            raise BadRequest("identifier has an empty, '.' or '..' path segment")
        if segment.startswith("."):
            raise BadRequest("identifier segments must not start with '.'")
    return segments


def resolve_master_path(real_root: str, identifier: str,
                        suffixes: tuple[str, ...] = MASTER_SUFFIXES) -> tuple[str, os.stat_result]:
    """The real path of the master file for ``identifier`` inside the root whose real path
    (``os.path.realpath``) is ``real_root``, and the file's status; NotFound if none, even if one
    exists elsewhere. The root is resolved by the caller, once: its path walks every folder from /."""
    segments = check_identifier(identifier)
    stem = os.path.join(real_root, *segments)
    for suffix in suffixes:
        for candidate in (stem + suffix, stem + suffix.upper()):
            status = _link_status(candidate)
            if status is None:
                continue
            # Below a real root, a path of plain names without a symlink is its own real path: the
            # usual case, proven with a system call per folder instead of one per component from /.
            if stat.S_ISREG(status.st_mode) and not _through_a_symlink(real_root, segments[:-1]):
                return candidate, status
            if not os.path.isfile(candidate):
                continue  # a folder, or a link to nothing or to one
            # realpath follows every symlink, so a link pointing outside the root is caught here.
            real = os.path.realpath(candidate)
            if os.path.commonpath((real, real_root)) == real_root:
                return real, os.stat(real)
            raise NotFound(f"no image with identifier {identifier!r}")
    raise NotFound(f"no image with identifier {identifier!r}")


def _link_status(path: str) -> os.stat_result | None:
    """The status of the path itself (a symlink's, not its target's); None when there is nothing,
    or for a name the file system refuses (a segment over 255 bytes: ENAMETOOLONG)."""
    try:
        return os.lstat(path)
    except OSError:
        return None


def _through_a_symlink(real_root: str, folders: tuple[str, ...]) -> bool:
    """Whether a folder on the way from the root to the master is a symlink (or has gone)."""
    folder = real_root
    for name in folders:
        folder = os.path.join(folder, name)
        status = _link_status(folder)
        if status is None or stat.S_ISLNK(status.st_mode):
            return True
    return False


def identifier_for_path(root: Path, path: Path) -> str:
    """The identifier of a master file below the root (inverse of ``resolve_master_path``)."""
    relative = path.relative_to(root)
    return relative.with_suffix("").as_posix()
