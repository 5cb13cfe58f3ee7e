"""The one orchestrator of the data path: locate -> info (cache, else probe) -> access -> plan ->
derivative cache -> render. Views call it; it calls each part in this order and nothing else does."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

import pyvips

from iiif_server.access.base import AccessDecision, AccessLevel, AccessPolicy, AccessRequest, Reader, is_restricted
from iiif_server.access.rules import load_access_rules
from iiif_server.access.substitutes import Substitute, substitutes_of
from iiif_server.caches.base import DerivativeCache, InfoCache
from iiif_server.caches.derivatives import DiskDerivativeCache, MemoryDerivativeCache, TieredDerivativeCache
from iiif_server.caches.info import MemoryInfoCache
from iiif_server.caches.lru import SizedLRU
from iiif_server.cores import on_every_core
from iiif_server.deadlines import CallingThreadRunner, Deadline, DeadlineRunner, Extend
from iiif_server.errors import Forbidden, IIIFError, MasterUnreadable, NotFound, decoder_message
from iiif_server.info import ImageInfo, Level, MasterKind, ServiceLimits
from iiif_server.metrics import DataPathMetrics
from iiif_server.passthrough import StoredTileReader, cut_stored_tile
from iiif_server.jpeg2000 import Jpeg2000Regions
from iiif_server.lane import HeavyLane, LaneCounts
from iiif_server.plan import Box, LevelReader, RenderPlan, plan_render
from iiif_server.probe import TIFF_SUFFIXES, fitting_scale_factors, probe
from iiif_server.render import render, render_pixels, render_version
from iiif_server.request import ApiVersion, ImageRequest, OutputFormat, Quality, Region, RegionKind, Rotation, Size, SizeKind
from iiif_server.settings import Settings
from iiif_server.sources.base import ImageSource, Master
from iiif_server.watermark import Watermark


@dataclass(frozen=True)
class PreparedImage:
    """Everything known about a response before a pixel is decoded: enough for ETag and 304."""

    master: Master
    info: ImageInfo
    plan: RenderPlan
    # Part of the response's identity although no URL names them: a changed setting, or an upgrade
    # that renders differently (render.render_version), is a new response.
    jpeg_quality: int
    render_version: str
    # When the response must be done by (not part of its identity).
    deadline: Deadline
    # An access rule limits who gets it: the response is one reader's, never kept in a shared cache.
    restricted: bool = False
    # Set when the response is the image's public substitute (``info`` and ``plan`` are then the substitute's).
    substitute: Substitute | None = None

    @property
    def tier(self) -> str:
        return self.substitute.tier if self.substitute is not None else "full"

    @property
    def cache_key(self) -> str:
        # The tier keeps a substitute and the full image apart: the same canonical request of each
        # has its own cache entry and ETag.
        return (f"{self.render_version}/{self.master.fingerprint.token}/{self.master.identifier}/{self.tier}"
                f"/q{self.jpeg_quality}/{self.plan.canonical}")


@dataclass(frozen=True)
class MasterDescription:
    """What a listing of masters shows of one: its size and kind, or why it cannot be read."""

    identifier: str
    restricted: bool
    width: int | None = None
    height: int | None = None
    kind: MasterKind | None = None
    problem: str | None = None


# A tile or a thumbnail: a crop of at most this many pixels of a level read by random access.
TILE_DEADLINE_MAX_PIXELS = 2048 * 2048


@dataclass(frozen=True)
class DeadlineAllowances:
    """Seconds a request may take: info.json, tiles and thumbnails get ``tile_seconds``, every other
    image request (large regions, masters read top to bottom) ``heavy_seconds``."""

    tile_seconds: float
    heavy_seconds: float

    def for_plan(self, plan: RenderPlan) -> float:
        light = plan.reader is not LevelReader.SEQUENTIAL and plan.crop.width * plan.crop.height <= TILE_DEADLINE_MAX_PIXELS
        return self.tile_seconds if light else self.heavy_seconds


class HeavyRenderer(Protocol):
    """Renders a heavy request elsewhere than on the request's thread (render_pool.py: the server's
    low-priority render processes). Called from several threads at once, within the lane's turn."""

    def render(self, prepared: PreparedImage) -> bytes:
        """The response's bytes, as ``ImagePipeline.render_pixels`` makes them; raises IIIFError."""


@dataclass(frozen=True)
class HeavyPool:
    """What the workers of one server share for heavy requests (made before they fork): the lane's
    counts and the renderer that sends the requests to the server's render processes."""

    counts: LaneCounts
    renderer: HeavyRenderer


class OpenedLevels:
    """Per-process LRU of opened pyvips images, one per (master, level): reopening a TIFF or JP2
    for every tile costs more than decoding the tile. Thread-safe; sequential loads are never kept."""

    def __init__(self, max_entries: int) -> None:
        self._images: SizedLRU[pyvips.Image] = SizedLRU(max_entries)

    def get(self, source: ImageSource, master: Master, level: Level) -> pyvips.Image:
        key = (master.location, master.fingerprint.token, level.load_option)
        image = self._images.get(key)
        if image is None:
            image = source.load_image(master, **_load_options(level))
            self._images.put(key, image)
        return image


def _load_options(level: Level) -> dict[str, object]:
    return dict([level.load_option]) if level.load_option else {}


def substitute_image_info(info: ImageInfo, substitute: Substitute, tile_size: int) -> ImageInfo:
    """The substitute as an image of its own: the master's information when it keeps the full
    resolution, else a flat image of the reduced size (cut from the reduced master in memory)."""
    if substitute.max_size is None:
        return replace(info, stored_jpeg_tiles=False)  # every answer is drawn on: nothing stored is handed out
    width, height = substitute.size_of(info.width, info.height)
    return ImageInfo(width, height, MasterKind.FLAT, (Level(width, height, None),), tile_size, tile_size,
                     fitting_scale_factors(width, height, tile_size), info.fingerprint, info.has_alpha)


def reduction_request(identifier: str, width: int, height: int) -> ImageRequest:
    """The whole master at exactly ``width`` x ``height``: what a reduced master is made by."""
    return ImageRequest(ApiVersion.V3, identifier, Region(RegionKind.FULL), Size(SizeKind.EXACT, width, height),
                        Rotation(), Quality.DEFAULT, OutputFormat.PNG)


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
        render_version: str,
        metrics: DataPathMetrics,
        allowances: DeadlineAllowances,
        runner: DeadlineRunner | CallingThreadRunner,
        heavy_lane: HeavyLane,
        heavy_renderer: HeavyRenderer | None = None,
        substitutes: dict[AccessLevel, Substitute],
        reduced_masters: SizedLRU[pyvips.Image],
        watermark: Watermark,
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
        self.render_version = render_version
        self.metrics = metrics
        self.allowances = allowances
        self.runner = runner
        self.heavy_lane = heavy_lane
        # None: heavy requests render here, on the request's thread, once the lane lets them.
        self.heavy_renderer = heavy_renderer
        self.derivative_cache = derivative_cache
        self.substitutes = substitutes
        # Reduced masters of "max:N" substitutes, by (location, fingerprint, size).
        self.reduced_masters = reduced_masters
        self.watermark = watermark

    def locate(self, identifier: str) -> Master:
        """The master behind ``identifier``, within the tile deadline (a hung mount answers 503)."""
        return self.runner.run(Deadline.after(self.allowances.tile_seconds), lambda: self.source.locate(identifier))

    def image_info(self, identifier: str) -> tuple[Master, ImageInfo]:
        """The master and its image information, within the tile deadline."""
        deadline = Deadline.after(self.allowances.tile_seconds)
        return self.runner.run(deadline, lambda: self._image_info(identifier))

    def _image_info(self, identifier: str) -> tuple[Master, ImageInfo]:
        master = self.source.locate(identifier)
        info = self.info_cache.get(identifier, master.fingerprint)
        if info is None:
            with self._store_failures_surfaced():
                info = probe(self.source, master, self.tile_size)
            self.info_cache.put(identifier, info)
        return master, info

    @contextmanager
    def _store_failures_surfaced(self) -> Iterator[None]:
        """A decoder reading through the source sees an object store that did not answer only as
        a short read, and reports the master unreadable: that is the store's 503, not a 500."""
        started = time.monotonic()
        try:
            yield
        except MasterUnreadable:
            failure = self.source.store_failure_since(started)
            if failure is not None:
                raise failure from None
            raise

    def substitute_for(self, identifier: str) -> Substitute | None:
        """The public substitute of ``identifier``: its rule's level has one and the rule restricts it."""
        rule = self.access.rule_for(identifier)
        return self.substitutes.get(rule.level) if rule is not None and is_restricted(rule) else None

    def substitute_info(self, identifier: str) -> tuple[Master, ImageInfo, Substitute]:
        """The master, the substitute's image information and the substitute (404 when there is none),
        within the tile deadline."""
        substitute = self.substitute_for(identifier)
        if substitute is None:
            self.locate(identifier)  # an unknown identifier is a 404 of its own
            raise NotFound(f"image {identifier!r} has no public substitute")
        master, info = self.image_info(identifier)
        return master, substitute_image_info(info, substitute, self.tile_size), substitute

    def describe(self, identifier: str) -> MasterDescription | None:
        """The master behind ``identifier`` as a listing shows it; None when there is none."""
        restricted = self.access.decide(AccessRequest(identifier)) is AccessDecision.DENY
        try:
            _, info = self.image_info(identifier)
        except NotFound:
            return None
        except IIIFError as error:
            return MasterDescription(identifier, restricted, problem=error.reason)
        return MasterDescription(identifier, restricted, info.width, info.height, info.kind)

    def answer(
        self, request: ImageRequest, reader: Reader | None, client_copy_is_current: Callable[[PreparedImage], bool],
        substitute: bool = False,
    ) -> tuple[PreparedImage, bytes | None]:
        """The prepared response and its bytes, or None for the bytes when ``client_copy_is_current``
        (the client's validators match: a 304); of the image's public substitute when ``substitute``.
        Within the tile deadline until the request is planned, then within the deadline its plan
        gets, counted from the start."""
        started = time.monotonic()

        def prepare_and_produce(extend: Extend) -> tuple[PreparedImage, bytes | None]:
            prepared = self.prepare(request, reader, started, substitute)
            extend(prepared.deadline)
            if client_copy_is_current(prepared):
                return prepared, None
            return prepared, self.produce(prepared)

        return self.runner.run_extendable(Deadline.after(self.allowances.tile_seconds, started), prepare_and_produce)

    def prepare(
        self, request: ImageRequest, reader: Reader | None = None, started: float | None = None, substitute: bool = False
    ) -> PreparedImage:
        """Everything about the response short of its pixels (on the calling thread: ``answer``
        runs it within a deadline); the PreparedImage carries the deadline its production gets,
        counted from ``started`` (``time.monotonic()``; default now). ``substitute``: of the image's
        public substitute, which anyone may have."""
        started = time.monotonic() if started is None else started
        if substitute:
            return self._prepare_substitute(request, started)
        master, info = self._image_info(request.identifier)
        if self.access.decide(AccessRequest(request.identifier, reader)) is AccessDecision.DENY:
            raise Forbidden(f"image {request.identifier!r} is restricted")
        restricted = is_restricted(self.access.rule_for(request.identifier))
        plan = plan_render(request, info, self.limits)
        # What the heavy-request lane takes waits for a slot and renders at low priority: never a tile's deadline.
        allowance = (self.allowances.heavy_seconds if self.heavy_lane.is_heavy(plan.output_pixels)
                     else self.allowances.for_plan(plan))
        deadline = Deadline.after(allowance, started)
        return PreparedImage(master, info, plan, self.jpeg_quality, self.render_version, deadline, restricted)

    def _prepare_substitute(self, request: ImageRequest, started: float) -> PreparedImage:
        master, info, substitute = self.substitute_info(request.identifier)
        plan = replace(plan_render(request, info, self.limits), stored_tile=None)
        allowance = self.allowances.for_plan(plan)
        if substitute.max_size is not None and self.reduced_masters.get(self._reduced_key(master, info)) is None:
            allowance = self.allowances.heavy_seconds  # the first answer reduces the whole master
        deadline = Deadline.after(allowance, started)
        return PreparedImage(master, info, plan, self.jpeg_quality, self.render_version, deadline, substitute=substitute)

    @staticmethod
    def _reduced_key(master: Master, info: ImageInfo) -> tuple[str, str, int, int]:
        return (str(master.location), master.fingerprint.token, info.width, info.height)

    def _reduced_master(self, prepared: PreparedImage) -> pyvips.Image:
        """The whole master at the substitute's size, in display colour, from memory or made now."""
        master, info = prepared.master, prepared.info
        key = self._reduced_key(master, info)
        image = self.reduced_masters.get(key)
        if image is None:
            _, master_info = self._image_info(master.identifier)
            plan = plan_render(reduction_request(master.identifier, info.width, info.height), master_info, self.limits)
            image = render_pixels(self._level_image(master, plan), plan, prepared.deadline)
            self.reduced_masters.put(key, image)
        return image

    def produce(self, prepared: PreparedImage) -> bytes:
        """The response's bytes (on the calling thread; the renderer stops once the deadline has passed)."""
        plan, master = prepared.plan, prepared.master
        stored_part = plan.stored_tile
        if stored_part is not None:
            # As cheap as a cache hit (one read of the stored bytes; a cut decodes one tile), so
            # neither is cached nor counted as one.
            stored = self.stored_tiles.read_tile(self.source.open_bytes, master, plan.level.load_option,
                                                 stored_part.column, stored_part.row, padded=not stored_part.whole)
            if stored is not None and stored_part.whole:
                self.metrics.count_passthrough()
                return stored
            cut = (cut_stored_tile(stored, stored_part.tile_size, stored_part.part, self.jpeg_quality,
                                   stored_part.scaled_to) if stored is not None else None)
            if cut is not None:
                self.metrics.count_stored_tile_cut()
                return cut
        # Restricted pixels are never written to a cache (the disk cache outlives the process).
        cache = None if prepared.restricted else self.derivative_cache
        if cache is not None:
            cached = cache.get(prepared.cache_key)
            self.metrics.count_cache_lookup(cached is not None)
            if cached is not None:
                return cached
        if self.heavy_lane.is_heavy(plan.output_pixels):
            with self.heavy_lane.turn():
                data = (self.heavy_renderer.render(prepared) if self.heavy_renderer is not None
                        else self.render_pixels(prepared))
        else:
            data = self.render_pixels(prepared)
        if cache is not None:
            cache.put(prepared.cache_key, data)
        return data

    def render_pixels(self, prepared: PreparedImage) -> bytes:
        """Decode and encode the response (no cache, no lane), on the calling thread (and libvips'
        threads, on every core even in a worker kept to one)."""
        with self._store_failures_surfaced(), on_every_core():
            return self._decode_and_encode(prepared)

    def _decode_and_encode(self, prepared: PreparedImage) -> bytes:
        plan, master = prepared.plan, prepared.master
        watermark = self.watermark if prepared.substitute is not None and prepared.substitute.watermark else None
        if prepared.substitute is not None and prepared.substitute.max_size is not None:
            return render(self._reduced_master(prepared), plan, self.jpeg_quality, prepared.deadline, watermark)
        layout = prepared.info.jpeg2000_layout
        path = self.source.local_path(master) if plan.reader is LevelReader.JPEG2000_REGION else None
        if layout is not None and path is not None:
            # A JPEG 2000 master's levels are its reductions, in order (see probe).
            region = self.jpeg2000_regions.read(master, path, layout, plan.level_index, plan.crop, prepared.deadline)
            # The plan, seen from the decoded region: nothing left to crop.
            whole_region = replace(plan, crop=Box(0, 0, plan.crop.width, plan.crop.height))
            return render(region, whole_region, self.jpeg_quality, prepared.deadline, watermark)
        return render(self._level_image(master, plan), plan, self.jpeg_quality, prepared.deadline, watermark)

    def _level_image(self, master: Master, plan: RenderPlan) -> pyvips.Image:
        """The level ``plan`` reads, opened by libvips (fetching its tiles ahead from a remote store)."""
        remote = self.source.local_path(master) is None  # each read may be a round trip
        if remote and plan.reader is not LevelReader.SEQUENTIAL and master.suffix in TIFF_SUFFIXES:
            crop = plan.crop
            self.source.read_ahead(master, self.stored_tiles.tile_ranges(
                self.source.open_bytes, master, plan.level.load_option, (crop.x, crop.y, crop.width, crop.height)))
        try:
            if plan.reader is LevelReader.SEQUENTIAL:
                return self.source.load_image(master, access="sequential", **_load_options(plan.level))
            return self.opened_levels.get(self.source, master, plan.level)
        except pyvips.Error as error:
            raise MasterUnreadable(f"image {master.identifier!r} cannot be opened", decoder_message(error)) from None


def build_pipeline(settings: Settings, source: ImageSource, metrics: DataPathMetrics,
                   heavy_pool: HeavyPool | None = None) -> ImagePipeline:
    """The data path as ``settings`` configure it, reading masters from ``source``, counting into
    ``metrics``; heavy requests go to ``heavy_pool`` when given, else render in this process."""
    derivative_cache: DerivativeCache | None = (
        MemoryDerivativeCache(settings.derivative_cache_bytes) if settings.derivative_cache_bytes else None
    )
    if settings.derivative_cache_dir is not None:
        disk_cache = DiskDerivativeCache(settings.derivative_cache_dir, settings.derivative_cache_dir_bytes)
        derivative_cache = TieredDerivativeCache(derivative_cache, disk_cache) if derivative_cache is not None else disk_cache
    return ImagePipeline(
        source=source,
        info_cache=MemoryInfoCache(settings.info_cache_entries),
        access=load_access_rules(settings),
        limits=ServiceLimits(settings.max_width, settings.max_height, settings.max_area),
        tile_size=settings.tile_size,
        jpeg_quality=settings.jpeg_quality,
        opened_levels=OpenedLevels(settings.open_masters_per_worker),
        stored_tiles=StoredTileReader(settings.stored_tile_index_bytes),
        jpeg2000_regions=Jpeg2000Regions(settings.jpeg2000_index_bytes, settings.jpeg2000_code_tile_bytes),
        render_version=render_version(),
        metrics=metrics,
        allowances=DeadlineAllowances(settings.tile_deadline_ms / 1000, settings.heavy_deadline_ms / 1000),
        # Twice the request threads (the heavy lane's included): as many requests as the worker takes
        # can still run while as many abandoned ones are stuck in system calls.
        runner=(DeadlineRunner(2 * (settings.threads + settings.heavy_slots + settings.heavy_queue))
                if source.reads_may_hang else CallingThreadRunner()),
        heavy_lane=HeavyLane(settings.heavy_output_pixels, settings.heavy_slots, settings.heavy_queue,
                             settings.heavy_wait_seconds, heavy_pool.counts if heavy_pool is not None else None),
        heavy_renderer=heavy_pool.renderer if heavy_pool is not None else None,
        derivative_cache=derivative_cache,
        substitutes=substitutes_of(settings),
        reduced_masters=SizedLRU(settings.substitute_cache_bytes, _image_bytes),
        watermark=Watermark(),
    )


def _image_bytes(image: pyvips.Image) -> int:
    return image.width * image.height * image.bands
