"""Masters from a folder on local disk (or a mounted network share)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pyvips

from iiif_server.identifiers import resolve_master_path
from iiif_server.sources.base import Fingerprint, Master


class FileSystemSource:
    def __init__(self, root: Path) -> None:
        self.root = root

    def locate(self, identifier: str) -> Master:
        path = resolve_master_path(self.root, identifier)
        stat = path.stat()
        return Master(
            identifier=identifier,
            location=str(path),
            suffix=path.suffix.lower(),
            fingerprint=Fingerprint(size=stat.st_size, mtime_ns=stat.st_mtime_ns),
        )

    def open_bytes(self, master: Master) -> BinaryIO:
        return open(master.location, "rb")

    def load_image(self, master: Master, **load_options: object) -> pyvips.Image:
        return pyvips.Image.new_from_file(master.location, **load_options)
