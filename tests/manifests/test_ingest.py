"""Ingest: one batch of awkward scans -> pyramidal JPEG TIFF masters, checked by their pixels."""

from __future__ import annotations

import os
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

import pyvips
import pytest
import tifffile
from click.testing import CliRunner

from iiif_archive.cli import main
from iiif_server.info import MasterKind
from iiif_server.probe import probe
from iiif_server.sources.filesystem import FileSystemSource
import manifests.ingest
from manifests.ingest import IngestOptions, IngestResult, IngestStatus, ingest
from tests.conftest import free_port

WIDTH, HEIGHT, TILE = 600, 400, 256
RED, GREEN, BLUE, YELLOW, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 255, 255)
# Colours at the centres of the four quadrants: top-left, top-right, bottom-left, bottom-right.
QUADRANTS = (RED, BLUE, GREEN, YELLOW)
JPEG_TOLERANCE = 12
# Pure inks, one per quadrant: cyan, magenta, yellow, black.
INKS = ([255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 255])


def quadrants(width: int = WIDTH, height: int = HEIGHT) -> pyvips.Image:
    xy = pyvips.Image.xyz(width, height)
    left, top = xy[0] < width // 2, xy[1] < height // 2
    image = (left & top).ifthenelse(list(RED), left.ifthenelse(list(GREEN), top.ifthenelse(list(BLUE), list(YELLOW))))
    return image.cast("uchar").copy(interpretation="srgb")


def cmyk_inks(with_profile: bool) -> pyvips.Image:
    xy = pyvips.Image.xyz(WIDTH, HEIGHT)
    left, top = xy[0] < WIDTH // 2, xy[1] < HEIGHT // 2
    cyan, magenta, yellow, black = INKS
    image = (left & top).ifthenelse(cyan, left.ifthenelse(yellow, top.ifthenelse(magenta, black)))
    image = image.cast("uchar").copy(interpretation="cmyk")
    if with_profile:
        # libvips' built-in CMYK profile, embedded as a print workflow would.
        profile = quadrants(8, 8).icc_transform("cmyk", input_profile="srgb").get("icc-profile-data")
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
    return image


def colours_at_quadrant_centres(image: pyvips.Image) -> list[tuple[int, ...]]:
    w, h = image.width, image.height
    points = [(w // 4, h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4), (3 * w // 4, 3 * h // 4)]
    return [tuple(round(value) for value in image.getpoint(x, y)) for x, y in points]


def close(found: list[tuple[int, ...]], expected: tuple[tuple[int, ...], ...], tolerance: int) -> bool:
    return all(abs(a - b) <= tolerance for f, e in zip(found, expected, strict=True) for a, b in zip(f, e, strict=True))


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, dask_scheduler: str) -> tuple[Path, Path]:
    scans = tmp_path_factory.mktemp("scans")
    image = quadrants()
    (image.cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16").tiffsave(str(scans / "deep-16bit.tif"))
    cmyk_inks(with_profile=True).jpegsave(str(scans / "print-cmyk.jpg"))
    cmyk_inks(with_profile=False).jpegsave(str(scans / "print-cmyk-no-profile.jpg"))
    turned = image.copy()
    turned.set_type(pyvips.GValue.gint_type, "orientation", 6)  # EXIF 6: shown turned 90° clockwise
    (scans / "letters").mkdir()
    turned.jpegsave(str(scans / "letters" / "rotated-exif.jpg"), Q=95)
    alpha = (pyvips.Image.xyz(WIDTH, HEIGHT)[0] < WIDTH // 2).ifthenelse(255, 0).cast("uchar")
    image.bandjoin(alpha).pngsave(str(scans / "alpha.png"))  # right half fully transparent
    (scans / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    images = tmp_path_factory.mktemp("images")
    result = CliRunner().invoke(main, ["ingest", str(scans), "--images", str(images), "--tile-size", str(TILE),
                                       "--scheduler", dask_scheduler])
    return scans, images, result


def converted(images: Path, name: str) -> pyvips.Image:
    return pyvips.Image.new_from_file(str(images / name))


def test_the_batch_goes_on_past_the_corrupt_file_and_the_exit_status_counts_failures(batch) -> None:
    scans, images, result = batch
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: {scans}/corrupt.jpg: not an image libvips can read "
                                     "(corrupt, or not a TIFF, JPEG, PNG or JPEG 2000 file)")
    assert result.stdout.strip().splitlines()[-1] == "5 converted, 0 unchanged, 1 failed"
    assert sorted(p.relative_to(images).as_posix() for p in images.rglob("*") if p.is_file()) == [
        "alpha.tif", "deep-16bit.tif", "letters/rotated-exif.tif", "print-cmyk-no-profile.tif", "print-cmyk.tif"]


@pytest.mark.parametrize("name", ["alpha.tif", "deep-16bit.tif", "letters/rotated-exif.tif", "print-cmyk.tif",
                                  "print-cmyk-no-profile.tif"])
def test_outputs_are_pyramidal_tiled_jpeg_tiffs_the_server_reads_as_such(batch, name: str) -> None:
    _, images, _ = batch
    with tifffile.TiffFile(images / name) as tiff:
        pages = list(tiff.pages)
        assert all(page.is_tiled and page.compression == 7 and page.bitspersample == 8 for page in pages)
        assert [(page.tilewidth, page.tilelength) for page in pages] == [(TILE, TILE)] * len(pages)
    source = FileSystemSource(images)
    info = probe(source, source.locate(name.removesuffix(".tif")), tile_size=TILE)
    assert info.kind is MasterKind.PYRAMIDAL_TIFF and info.stored_jpeg_tiles
    # 600 -> 300 -> 150 px: halving stops once a level fits in one 256 px tile.
    assert [(level.width, level.height) for level in info.levels] == [
        (info.width // factor, info.height // factor) for factor in (1, 2, 4)]


@pytest.mark.parametrize("name, size, expected, tolerance", [
    ("deep-16bit.tif", (WIDTH, HEIGHT), QUADRANTS, JPEG_TOLERANCE),
    # Turned 90° clockwise: the bottom-left quadrant comes to the top-left.
    ("letters/rotated-exif.tif", (HEIGHT, WIDTH), (GREEN, RED, YELLOW, BLUE), JPEG_TOLERANCE),
    # Transparent scan background becomes white paper.
    ("alpha.tif", (WIDTH, HEIGHT), (RED, WHITE, GREEN, WHITE), JPEG_TOLERANCE),
], ids=["16-bit TIFF", "EXIF-rotated JPEG", "PNG with alpha"])
def test_outputs_have_the_right_size_and_colours_in_srgb(batch, name: str, size, expected, tolerance: int) -> None:
    _, images, _ = batch
    master = converted(images, name)
    assert (master.width, master.height, master.bands, master.format) == (*size, 3, "uchar")
    assert master.interpretation == "srgb"
    assert close(colours_at_quadrant_centres(master), expected, tolerance), colours_at_quadrant_centres(master)


@pytest.mark.parametrize("name", ["print-cmyk.tif", "print-cmyk-no-profile.tif"], ids=["with ICC profile", "without"])
def test_cmyk_inks_become_their_srgb_colours(batch, name: str) -> None:
    _, images, _ = batch
    master = converted(images, name)
    assert (master.width, master.height, master.bands, master.interpretation) == (WIDTH, HEIGHT, 3, "srgb")
    cyan, magenta, yellow, black = colours_at_quadrant_centres(master)
    assert cyan[2] > 180 and cyan[1] > 120 and cyan[0] < 60, cyan
    assert magenta[0] > 180 and magenta[2] > 80 and magenta[1] < 60, magenta
    assert yellow[0] > 220 and yellow[1] > 200 and yellow[2] < 80, yellow
    assert max(black) < 70, black  # an inverted (Adobe) CMYK misread would make this white


def test_a_second_run_skips_unchanged_scans_and_redoes_changed_ones(tmp_path: Path, dask_executor: Executor) -> None:
    scans, images = tmp_path / "scans", tmp_path / "images"
    scans.mkdir()
    quadrants().jpegsave(str(scans / "a.jpg"))
    quadrants(300, 200).jpegsave(str(scans / "b.jpg"))
    options = IngestOptions(tile_size=TILE)
    assert [r.status for r in ingest(scans, images, dask_executor, options)] == [IngestStatus.CONVERTED] * 2
    written = (images / "a.tif").stat().st_mtime_ns
    assert [r.status for r in ingest(scans, images, dask_executor, options)] == [IngestStatus.UNCHANGED] * 2
    assert (images / "a.tif").stat().st_mtime_ns == written
    quadrants(320, 240).jpegsave(str(scans / "b.jpg"))
    assert [r.status for r in ingest(scans, images, dask_executor, options)] == [IngestStatus.UNCHANGED, IngestStatus.CONVERTED]
    assert converted(images, "b.tif").width == 320
    # New settings make a new master.
    assert [r.status for r in ingest(scans, images, dask_executor, IngestOptions(quality=60, tile_size=TILE))] == [
        IngestStatus.CONVERTED] * 2
    assert sorted(p.name for p in images.iterdir()) == ["a.tif", "b.tif"]  # no temporary files left


def test_two_scans_for_one_identifier_are_refused(tmp_path: Path, dask_executor: Executor) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    quadrants(64, 64).jpegsave(str(scans / "page.jpg"))
    quadrants(64, 64).pngsave(str(scans / "page.png"))
    results = ingest(scans, tmp_path / "images", dask_executor, IngestOptions(tile_size=TILE))
    assert [r.status for r in results] == [IngestStatus.CONVERTED, IngestStatus.FAILED]
    assert str(results[1]) == (f"{scans}/page.png: would also become {tmp_path}/images/page.tif "
                               f"(from {scans}/page.jpg); rename one of them")


@pytest.mark.parametrize("images, arguments, message", [
    ("images", ["--tile-size", "100"], "tile size must be a multiple of 16 between 16 and 8192, not 100"),
    ("images", ["--quality", "0"], "0 is not in the range 1<=x<=100"),
    (".", [], "the scans folder and the image root must be different folders"),
    ("scans/masters", [], "the image root must not be inside the scans folder"),
    ("images", ["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
     "--workers sizes the local cluster; a --scheduler's cluster has its own workers"),
], ids=["tile size", "quality", "same folder", "image root inside the scans", "workers with a scheduler"])
def test_bad_options_are_one_line_errors(tmp_path: Path, images: str, arguments: list[str], message: str) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    quadrants(64, 64).jpegsave(str(scans / "page.jpg"))
    image_root = scans if images == "." else tmp_path / images
    result = CliRunner().invoke(main, ["ingest", str(scans), "--images", str(image_root), *arguments])
    assert result.exit_code == 2 and message in result.stderr
    assert not (image_root / "page.tif").exists()


def test_the_cluster_s_results_are_identical_to_one_scan_after_another(batch, tmp_path: Path) -> None:
    scans, images, _ = batch
    sequential = tmp_path / "images"
    with ThreadPoolExecutor(max_workers=1) as one_at_a_time:
        results = ingest(scans, sequential, one_at_a_time, IngestOptions(tile_size=TILE))
    assert [(r.source.name, r.status) for r in results].count(("corrupt.jpg", IngestStatus.FAILED)) == 1
    masters = sorted(p.relative_to(images) for p in images.rglob("*.tif"))
    assert masters == sorted(p.relative_to(sequential) for p in sequential.rglob("*.tif")) and len(masters) == 5
    for name in masters:
        assert (sequential / name).read_bytes() == (images / name).read_bytes(), name


def test_a_task_that_cannot_run_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("a", "b", "c"):
        quadrants(64, 64).jpegsave(str(scans / f"{name}.jpg"))
    convert = manifests.ingest.ingest_scan

    def lose_b(scan: Path, *arguments: object) -> IngestResult:
        if scan.name == "b.jpg":
            raise ConnectionResetError("worker tcp://10.0.0.12:40123 lost")
        return convert(scan, *arguments)

    monkeypatch.setattr(manifests.ingest, "ingest_scan", lose_b)
    heard: list[str] = []
    with ThreadPoolExecutor(max_workers=2) as executor:
        results = ingest(scans, tmp_path / "images", executor, IngestOptions(tile_size=TILE),
                         on_progress=lambda result, size: heard.append(result.source.name))
    assert [(r.source.name, r.status) for r in results] == [
        ("a.jpg", IngestStatus.CONVERTED), ("b.jpg", IngestStatus.FAILED), ("c.jpg", IngestStatus.CONVERTED)]
    assert results[1].message == "the task failed: worker tcp://10.0.0.12:40123 lost"
    assert sorted(heard) == ["a.jpg", "b.jpg", "c.jpg"]


def test_without_a_scheduler_the_scans_run_on_a_local_cluster(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    (scans / "box").mkdir(parents=True)
    quadrants(64, 64).jpegsave(str(scans / "box" / "a.jpg"))
    quadrants(32, 32).pngsave(str(scans / "b.png"))
    result = CliRunner().invoke(main, ["ingest", str(scans), "--images", str(tmp_path / "images"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "2 converted, 0 unchanged, 0 failed"
    assert converted(tmp_path / "images", "box/a.tif").width == 64


def test_an_unreachable_scheduler_is_a_usage_error(tmp_path: Path) -> None:
    import dask

    scans = tmp_path / "scans"
    scans.mkdir()
    quadrants(64, 64).jpegsave(str(scans / "page.jpg"))
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(main, ["ingest", str(scans), "--images", str(tmp_path / "images"),
                                           "--scheduler", address])
    assert result.exit_code == 2
    assert f"cannot reach the Dask scheduler at {address}" in result.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "images" / "page.tif").exists()
