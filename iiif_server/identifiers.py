"""Identifier -> master file below the image root, with proven containment.

The identifier is the master's path below the root without its extension (``maps/hanoi-1873``
for ``maps/hanoi-1873.tif``). It reaches us percent-decoded exactly once (``%2F`` -> ``/``); a
double-encoded form stays literal and so names no file.
"""

from __future__ import annotations

import os
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


def resolve_master_path(root: Path, identifier: str, suffixes: tuple[str, ...] = MASTER_SUFFIXES) -> Path:
    """The master file for ``identifier`` inside ``root``; NotFound if none, even if one exists elsewhere."""
    segments = check_identifier(identifier)
    real_root = Path(os.path.realpath(root))
    stem = real_root.joinpath(*segments)
    for suffix in suffixes:
        for candidate in (stem.with_name(stem.name + suffix), stem.with_name(stem.name + suffix.upper())):
            if not _is_file(candidate):
                continue
            # realpath follows every symlink, so a link pointing outside the root is caught here.
            real = Path(os.path.realpath(candidate))
            if real.is_relative_to(real_root):
                return real
            raise NotFound(f"no image with identifier {identifier!r}")
    raise NotFound(f"no image with identifier {identifier!r}")


def _is_file(path: Path) -> bool:
    """is_file, also False for a name the file system refuses (a segment over 255 bytes: ENAMETOOLONG)."""
    try:
        return path.is_file()
    except OSError:
        return False


def identifier_for_path(root: Path, path: Path) -> str:
    """The identifier of a master file below the root (inverse of ``resolve_master_path``)."""
    relative = path.relative_to(root)
    return relative.with_suffix("").as_posix()
