"""Where ingest publishes the masters it made: a local image root, or a bucket (s3://BUCKET/PREFIX).

Both make a master visible only once it is complete and verified: in a folder by renaming a
verified temporary file into place, in a bucket by uploading a verified local file (multipart for
large masters; S3 shows an object only when its upload completes, and an upload that fails is
aborted). Both remember what a master was made from (the provenance text), so a second run can
skip unchanged scans without reading any pixels: in the TIFF's ImageDescription in a folder, and
as object metadata in a bucket (one HEAD).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pyvips

from iiif_server.settings import ImageRoot, ObjectStoreRoot, Settings

# User metadata key (x-amz-meta-iiif-archive-provenance) holding the provenance text.
PROVENANCE_METADATA = "iiif-archive-provenance"
# S3 parts may be 5 MiB to 5 GiB; masters above one part go up as a multipart upload.
UPLOAD_PART_BYTES = 16 * 1024 * 1024

MasterWriter = Callable[[Path], None]


class MasterStore(Protocol):
    """Masters by relative name (``maps/hanoi-1873.tif``). ``publish`` hands ``write`` a local
    temporary path; ``write`` leaves a verified master there (or raises, and nothing is published).
    Safe to use from several processes at once for different names."""

    def location(self, relative: str) -> str:
        """Where the master is (for messages): a path or an s3:// URL."""

    def provenance(self, relative: str) -> str | None:
        """The provenance text published with the master, or None when there is none yet."""

    def publish(self, relative: str, provenance: str, write: MasterWriter) -> None:
        """Make the master ``write`` produces visible at ``relative``, all at once."""


class FolderMasters:
    def __init__(self, root: Path) -> None:
        self.root = root

    def location(self, relative: str) -> str:
        return str(self.root / relative)

    def provenance(self, relative: str) -> str | None:
        path = self.root / relative
        if not path.is_file():
            return None
        try:
            existing = pyvips.Image.new_from_file(str(path))
            return existing.get("image-description") if existing.get_typeof("image-description") else None
        except pyvips.Error:
            return None

    def publish(self, relative: str, provenance: str, write: MasterWriter) -> None:
        final = self.root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        # Beside its final place, so the rename is atomic (same file system).
        temporary = final.with_name(f".{final.name}.ingest-{os.getpid()}")
        try:
            write(temporary)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)


class BucketMasters:
    def __init__(self, store: object, root: ObjectStoreRoot) -> None:
        self.store = store
        self.root = root

    def location(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def provenance(self, relative: str) -> str | None:
        import obstore

        try:
            head = obstore.get(self.store, self.root.key(relative), options={"head": True})
        except FileNotFoundError:
            return None
        except Exception as error:  # obstore raises its own hierarchy, all store failures
            raise OSError(f"{self.location(relative)} cannot be checked ({type(error).__name__})") from None
        return head.attributes.get(PROVENANCE_METADATA)

    def publish(self, relative: str, provenance: str, write: MasterWriter) -> None:
        import obstore

        with tempfile.TemporaryDirectory(prefix="iiif-ingest-") as folder:
            temporary = Path(folder) / Path(relative).name
            write(temporary)
            large = temporary.stat().st_size > UPLOAD_PART_BYTES
            try:
                obstore.put(
                    self.store, self.root.key(relative), temporary,
                    attributes={"Content-Type": "image/tiff", PROVENANCE_METADATA: provenance},
                    use_multipart=large, chunk_size=UPLOAD_PART_BYTES, max_concurrency=2,
                )
            except Exception as error:  # obstore aborts the multipart upload; nothing is visible
                raise OSError(f"upload to {self.location(relative)} failed ({type(error).__name__})") from None


def master_store(image_root: ImageRoot, settings: Settings | None = None) -> MasterStore:
    """The store ``image_root`` names; a bucket's connection comes from ``settings``, else AWS_*."""
    if isinstance(image_root, ObjectStoreRoot):
        from iiif_server.sources.s3 import open_object_store

        return BucketMasters(open_object_store(image_root, settings or Settings(image_root=image_root)), image_root)
    return FolderMasters(image_root)
