"""Scans -> servable masters: pyramidal, tiled JPEG TIFFs in sRGB with the EXIF orientation applied.

Each output is written to a temporary file, verified (it opens and has the expected size and
pyramid), then published by the master store (manifests/masters.py): renamed into place in a folder,
uploaded to a bucket. The provenance text records what it was made from (in the TIFF's
ImageDescription, and as object metadata in a bucket), so a second run skips masters whose scan and
settings are unchanged. Each scan is one task on an executor (a Dask cluster in ``iiif-archive
ingest``), which gets the master store with it (picklable: a folder, or a bucket's S3 client and its
connection); one bad scan, or a task lost with its worker, fails alone: the batch goes on and the
caller gets one result per scan.
"""

from __future__ import annotations

import enum
import json
import math
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass
from pathlib import Path

import pyvips

from iiif_server.settings import ImageRoot, ObjectStoreRoot
from manifests.masters import MasterStore, master_store

# Past 4 GiB of raw pixels the compressed file may pass the classic TIFF offset limit.
BIGTIFF_RAW_BYTES = 2**32
WHITE = 255
DESCRIPTION_PREFIX = "iiif-archive ingest "


@dataclass(frozen=True)
class IngestOptions:
    quality: int = 85
    tile_size: int = 512

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be between 1 and 100, not {self.quality}")
        if not 16 <= self.tile_size <= 8192 or self.tile_size % 16:
            raise ValueError(f"tile size must be a multiple of 16 between 16 and 8192, not {self.tile_size}")


class IngestStatus(enum.Enum):
    CONVERTED = "converted"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class IngestResult:
    source: Path
    output: str  # where the master is: a path, or an s3:// URL
    status: IngestStatus
    message: str = ""

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.message else f"{self.source}: {self.status.value}"


def find_scans(scans_dir: Path) -> list[Path]:
    """Every file below ``scans_dir`` except hidden ones, in a stable order."""
    found = []
    for folder, subfolders, files in os.walk(scans_dir):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        found += [Path(folder) / name for name in sorted(files) if not name.startswith(".")]
    return found


def master_name(scans_dir: Path, scan: Path) -> str:
    """``scans/maps/hanoi-1873.jpg`` -> ``maps/hanoi-1873.tif`` below the image root (identifier ``maps/hanoi-1873``)."""
    return scan.relative_to(scans_dir).with_suffix(".tif").as_posix()


def provenance(scans_dir: Path, scan: Path, options: IngestOptions) -> str:
    """What the output is made from; stored in the TIFF so an unchanged scan can be skipped."""
    stat = scan.stat()
    facts = {"source": scan.relative_to(scans_dir).as_posix(), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
             "quality": options.quality, "tile": options.tile_size}
    return DESCRIPTION_PREFIX + json.dumps(facts, sort_keys=True)


def check_folders(scans_dir: Path, image_root: ImageRoot) -> None:
    """ValueError unless the masters can go to ``image_root`` (before any cluster is started)."""
    if isinstance(image_root, ObjectStoreRoot):
        return
    scans, root = scans_dir.resolve(), image_root.resolve()
    if scans == root:
        raise ValueError("the scans folder and the image root must be different folders")
    if root.is_relative_to(scans):
        # A second run would take the first run's masters for new scans.
        raise ValueError("the image root must not be inside the scans folder")


def ingest(
    scans_dir: Path,
    image_root: ImageRoot,
    executor: Executor,
    options: IngestOptions = IngestOptions(),
    on_progress: Callable[[IngestResult, int], None] | None = None,
    masters: MasterStore | None = None,
) -> list[IngestResult]:
    """Convert every scan into the image root (a folder or a bucket; ``masters`` replaces the store
    it names), one task per scan on ``executor`` (a Dask cluster's: ``manifests.cluster``).

    Returns one result per scan in the scans' order, whatever order the tasks finish in;
    ``on_progress`` hears each result as its task finishes, with the scan's size in bytes.
    """
    check_folders(scans_dir, image_root)
    # Absolute paths: a worker's current folder is not ours.
    scans_dir = scans_dir.absolute()
    if not isinstance(image_root, ObjectStoreRoot):
        image_root = image_root.absolute()
    masters = masters or master_store(image_root)
    results: dict[int, IngestResult] = {}
    running: dict[Future, tuple[int, Path, str]] = {}
    claimed: dict[str, Path] = {}
    for index, scan in enumerate(find_scans(scans_dir)):
        name = master_name(scans_dir, scan)
        output = masters.location(name)
        if name in claimed:
            results[index] = IngestResult(scan, output, IngestStatus.FAILED,
                                          f"would also become {output} (from {claimed[name]}); rename one of them")
            if on_progress is not None:
                on_progress(results[index], scan.stat().st_size)
            continue
        claimed[name] = scan
        running[executor.submit(ingest_scan, scan, masters, name, provenance(scans_dir, scan, options), options)] = (
            index, scan, output)
    for future in as_completed(running):
        index, scan, output = running[future]
        try:
            results[index] = future.result()
        except Exception as error:  # noqa: BLE001 - the task could not run: its worker died, or was lost
            results[index] = IngestResult(scan, output, IngestStatus.FAILED, f"the task failed: {_one_line(error)}")
        if on_progress is not None:
            on_progress(results[index], scan.stat().st_size)
    return [results[index] for index in sorted(results)]


def ingest_scan(scan: Path, masters: MasterStore, name: str, description: str, options: IngestOptions) -> IngestResult:
    # libvips caches opened files by name (8.14 has no ``revalidate``); a scan or master rewritten
    # in place must be read afresh.
    pyvips.cache_set_max(0)
    output = masters.location(name)
    try:
        if masters.provenance(name) == description:
            return IngestResult(scan, output, IngestStatus.UNCHANGED)
        master = prepare_master(_open_scan(scan)).copy()
        master.set_type(pyvips.GValue.gstr_type, "image-description", description)

        def write_verified(temporary: Path) -> None:
            master.tiffsave(
                str(temporary), tile=True, tile_width=options.tile_size, tile_height=options.tile_size,
                pyramid=True, compression="jpeg", Q=options.quality, strip=False,
                bigtiff=master.width * master.height * master.bands >= BIGTIFF_RAW_BYTES,
            )
            _verify(temporary, master.width, master.height, options.tile_size)

        masters.publish(name, description, write_verified)
    except (pyvips.Error, OSError, ValueError) as error:
        return IngestResult(scan, output, IngestStatus.FAILED, _one_line(error))
    return IngestResult(scan, output, IngestStatus.CONVERTED)


def _open_scan(scan: Path) -> pyvips.Image:
    try:
        header = pyvips.Image.new_from_file(str(scan))
    except pyvips.Error:
        raise ValueError("not an image libvips can read (corrupt, or not a TIFF, JPEG, PNG or JPEG 2000 file)") from None
    turned = header.get_typeof("orientation") and header.get("orientation") not in (0, 1)
    # A rotation needs the whole image at once; otherwise stream it top to bottom with less memory.
    return header if turned else pyvips.Image.new_from_file(str(scan), access="sequential")


def prepare_master(image: pyvips.Image) -> pyvips.Image:
    """Upright, 8-bit sRGB (or 8-bit grey), no alpha: what a JPEG-compressed pyramid can hold."""
    image = image.autorot()
    if image.get_typeof("icc-profile-data"):
        image = image.icc_transform("srgb", embedded=True, intent="relative")
    elif image.interpretation == "cmyk":
        image = image.icc_transform("srgb", input_profile="cmyk", intent="relative")
    elif image.bands - int(image.hasalpha()) == 1:
        image = image.colourspace("b-w")
    else:
        image = image.colourspace("srgb")
    if image.hasalpha():
        # Transparent parts of a scan are paper: show them white rather than black.
        image = image.flatten(background=[WHITE] * (image.bands - 1))
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def _verify(path: Path, width: int, height: int, tile_size: int) -> None:
    written = pyvips.Image.new_from_file(str(path))
    if (written.width, written.height) != (width, height):
        raise ValueError(f"the output is {written.width} × {written.height} instead of {width} × {height}")
    levels = written.get("n-pages") if written.get_typeof("n-pages") else 1
    expected = 1 + max(0, math.ceil(math.log2(max(width, height) / tile_size)))
    if levels < expected:
        raise ValueError(f"the output has {levels} pyramid levels instead of {expected}")
    # Decoding the smallest level proves the compressed tiles can be read back.
    pyvips.Image.new_from_file(str(path), page=levels - 1).avg()


def _one_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
