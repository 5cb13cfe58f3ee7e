"""The one orchestrator of the data path: locate -> info (cache, else probe) -> access -> plan ->
derivative cache -> render. Views call it; it calls each part in this order and nothing else does."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import pyvips

from iiif_server.access.base import AccessDecision, AccessPolicy, AccessRequest
from iiif_server.access.policies import OpenAccess, RestrictedPrefixes
from iiif_server.caches.base import DerivativeCache, InfoCache
from iiif_server.caches.derivatives import DiskDerivativeCache, MemoryDerivativeCache, TieredDerivativeCache
from iiif_server.caches.info import MemoryInfoCache
from iiif_server.errors import Forbidden, MasterUnreadable, last_line
from iiif_server.info import ImageInfo, Level, ServiceLimits
from iiif_server.metrics import record_cache_lookup, record_passthrough
from iiif_server.passthrough import StoredTileReader
from iiif_server.jpeg2000 import Jpeg2000Regions
from iiif_server.plan import Box, LevelReader, RenderPlan, plan_render
from iiif_server.probe import TIFF_SUFFIXES, probe
from iiif_server.render import render
from iiif_server.request import ImageRequest
from iiif_server.settings import Settings
from iiif_server.sources.base import ImageSource, Master


@dataclass(frozen=True)
class PreparedImage:
    """Everything known about a response before a pixel is decoded: enough for ETag and 304."""

    master: Master
    info: ImageInfo
    plan: RenderPlan
    # Part of the response's identity although no URL names it: a changed setting is a new response.
    jpeg_quality: int

    @property
    def cache_key(self) -> str:
        return f"{self.master.fingerprint.token}/{self.master.identifier}/q{self.jpeg_quality}/{self.plan.canonical}"


class OpenedLevels:
    """Per-process LRU of opened pyvips images, one per (master, level): reopening a TIFF or JP2
    for every tile costs more than decoding the tile. Thread-safe; sequential loads are never kept."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._images: OrderedDict[tuple[str, str, tuple[str, int] | None], pyvips.Image] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, source: ImageSource, master: Master, level: Level) -> pyvips.Image:
        key = (master.location, master.fingerprint.token, level.load_option)
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
                return image
        image = source.load_image(master, **_load_options(level))
        with self._lock:
            self._images[key] = image
            while len(self._images) > self.max_entries:
                self._images.popitem(last=False)
        return image


def _load_options(level: Level) -> dict[str, object]:
    return dict([level.load_option]) if level.load_option else {}


class ImagePipeline:
    def __init__(
        self,
        source: ImageSource,
        info_cache: InfoCache,
        access: AccessPolicy,
        limits: ServiceLimits,
        *,
        tile_size: int,
        jpeg_quality: int,
        opened_levels: OpenedLevels,
        stored_tiles: StoredTileReader,
        jpeg2000_regions: Jpeg2000Regions,
        derivative_cache: DerivativeCache | None = None,
    ) -> None:
        self.source = source
        self.info_cache = info_cache
        self.access = access
        self.limits = limits
        self.tile_size = tile_size
        self.jpeg_quality = jpeg_quality
        self.opened_levels = opened_levels
        self.stored_tiles = stored_tiles
        self.jpeg2000_regions = jpeg2000_regions
        self.derivative_cache = derivative_cache

    def image_info(self, identifier: str) -> tuple[Master, ImageInfo]:
        master = self.source.locate(identifier)
        info = self.info_cache.get(identifier, master.fingerprint)
        if info is None:
            info = probe(self.source, master, self.tile_size)
            self.info_cache.put(identifier, info)
        return master, info

    def prepare(self, request: ImageRequest, token: str | None = None) -> PreparedImage:
        master, info = self.image_info(request.identifier)
        if self.access.decide(AccessRequest(request.identifier, token)) is AccessDecision.DENY:
            raise Forbidden(f"image {request.identifier!r} is restricted")
        return PreparedImage(master, info, plan_render(request, info, self.limits), self.jpeg_quality)

    def produce(self, prepared: PreparedImage) -> bytes:
        plan, master = prepared.plan, prepared.master
        if plan.stored_tile is not None:
            # As cheap as a cache hit (one read of the stored bytes), so it is neither cached nor counted as one.
            stored = self.stored_tiles.read_tile(self.source.open_bytes, master, plan.level.load_option, *plan.stored_tile)
            if stored is not None:
                record_passthrough()
                return stored
        cache = self.derivative_cache
        if cache is not None:
            cached = cache.get(prepared.cache_key)
            record_cache_lookup(cached is not None)
            if cached is not None:
                return cached
        data = self._render(prepared)
        if cache is not None:
            cache.put(prepared.cache_key, data)
        return data

    def _render(self, prepared: PreparedImage) -> bytes:
        plan, master = prepared.plan, prepared.master
        layout = prepared.info.jpeg2000_layout
        path = self.source.local_path(master) if plan.reader is LevelReader.JPEG2000_REGION else None
        if layout is not None and path is not None:
            # A JPEG 2000 master's levels are its reductions, in order (see probe).
            region = self.jpeg2000_regions.read(master, path, layout, plan.level_index, plan.crop)
            # The plan, seen from the decoded region: nothing left to crop.
            return render(region, replace(plan, crop=Box(0, 0, plan.crop.width, plan.crop.height)), self.jpeg_quality)
        remote = self.source.local_path(master) is None  # each read may be a round trip
        if remote and plan.reader is not LevelReader.SEQUENTIAL and master.suffix in TIFF_SUFFIXES:
            crop = plan.crop
            self.source.read_ahead(master, self.stored_tiles.tile_ranges(
                self.source.open_bytes, master, plan.level.load_option, (crop.x, crop.y, crop.width, crop.height)))
        try:
            if plan.reader is LevelReader.SEQUENTIAL:
                level_image = self.source.load_image(master, access="sequential", **_load_options(plan.level))
            else:
                level_image = self.opened_levels.get(self.source, master, plan.level)
        except pyvips.Error as error:
            raise MasterUnreadable(f"image {master.identifier!r} cannot be opened: {last_line(error)}") from None
        return render(level_image, plan, self.jpeg_quality)


def build_pipeline(settings: Settings, source: ImageSource) -> ImagePipeline:
    """The data path as ``settings`` configure it, reading masters from ``source``."""
    derivative_cache: DerivativeCache | None = (
        MemoryDerivativeCache(settings.derivative_cache_bytes) if settings.derivative_cache_bytes else None
    )
    if settings.derivative_cache_dir is not None:
        disk_cache = DiskDerivativeCache(settings.derivative_cache_dir, settings.derivative_cache_dir_bytes)
        derivative_cache = TieredDerivativeCache(derivative_cache, disk_cache) if derivative_cache else disk_cache
    prefixes = tuple(p.strip() for p in settings.restricted_prefixes.split(",") if p.strip())
    return ImagePipeline(
        source=source,
        info_cache=MemoryInfoCache(settings.info_cache_entries),
        access=RestrictedPrefixes(prefixes) if prefixes else OpenAccess(),
        limits=ServiceLimits(settings.max_width, settings.max_height, settings.max_area),
        tile_size=settings.tile_size,
        jpeg_quality=settings.jpeg_quality,
        opened_levels=OpenedLevels(settings.open_masters_per_worker),
        stored_tiles=StoredTileReader(settings.open_masters_per_worker),
        jpeg2000_regions=Jpeg2000Regions(settings.open_masters_per_worker),
        derivative_cache=derivative_cache,
    )
