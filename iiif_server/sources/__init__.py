"""Where master bytes come from: a typing.Protocol and its implementations."""

from __future__ import annotations

from iiif_server.settings import ObjectStoreRoot, Settings
from iiif_server.sources.base import ImageSource


def open_source(settings: Settings) -> ImageSource:
    """The source ``settings.image_root`` names: a bucket (s3://) or a local folder."""
    if isinstance(settings.image_root, ObjectStoreRoot):
        from iiif_server.sources.s3 import object_store_source  # the S3 client only when a bucket is used

        return object_store_source(settings.image_root, settings)
    from iiif_server.sources.filesystem import FileSystemSource

    return FileSystemSource(settings.image_root)
