"""The decoders a master can reach: libvips' loaders of the formats the server serves, and no other.

libvips picks a loader by sniffing the file, whatever its name: a truncated TIFF whose header libtiff
refuses goes on to ImageMagick, a PPM or SVG named ``.png`` to their own loaders. Each decoder is
attack surface for whoever can place a master (ImageMagick's above all), so every other loader is
blocked in the whole process; a master only a blocked loader would read is not a supported master.
Blocking by libvips class also covers the buffer and source variants (memory and object-store sources).
libvips' own "untrusted" block is not enough here: it blocks the JPEG 2000 loader too.
"""

from __future__ import annotations

import pyvips

# libvips base class of each allowed loader -> the format's name in answers.
MASTER_LOADERS = {
    "VipsForeignLoadTiff": "TIFF",
    "VipsForeignLoadJp2k": "JPEG 2000",
    "VipsForeignLoadJpeg": "JPEG",
    "VipsForeignLoadPng": "PNG",
    "VipsForeignLoadWebp": "WebP",
    "VipsForeignLoadNsgif": "GIF",
}
SUPPORTED_FORMATS = ", ".join(MASTER_LOADERS.values())
_BLOCKED_MESSAGE = "operation is blocked"


def allow_only_master_loaders() -> None:
    """Block every libvips loader of this process except MASTER_LOADERS (idempotent)."""
    pyvips.operation_block_set("VipsForeignLoad", True)
    for loader in MASTER_LOADERS:
        pyvips.operation_block_set(loader, False)


def needs_a_blocked_loader(error: pyvips.Error) -> bool:
    return _BLOCKED_MESSAGE in str(error)
