"""loaders.py: a master reaches only the decoders of the formats the server serves (issue 10 point 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips

from iiif_server import create_app
from iiif_server.loaders import MASTER_LOADERS, allow_only_master_loaders
from iiif_server.settings import Settings
from iiif_server.sources.memory import MemorySource
from tests.grid import grid_image

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="red"/></svg>'


def ppm() -> bytes:
    return b"P6\n4 4\n255\n" + bytes(range(48))


def truncated_tiff() -> bytes:
    """The issue's master: libtiff refuses its header, so libvips offered it to ImageMagick."""
    data = grid_image(8, 8).tiffsave_buffer(tile=True, pyramid=True, compression="jpeg")
    return data[: len(data) // 3]


@pytest.fixture()
def hostile_root(tmp_path: Path) -> Path:
    (tmp_path / "svg-as-png.png").write_bytes(SVG)
    (tmp_path / "ppm-as-tif.tif").write_bytes(ppm())
    (tmp_path / "broken.tif").write_bytes(truncated_tiff())
    grid_image(2, 2).pngsave(str(tmp_path / "fine.png"))
    return tmp_path


@pytest.mark.parametrize("identifier", ["svg-as-png", "ppm-as-tif", "broken"])
def test_a_master_only_another_loader_reads_is_not_a_supported_master(hostile_root: Path, identifier: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    client = create_app(Settings(image_root=hostile_root)).test_client()
    for path in (f"/iiif/3/{identifier}/info.json", f"/iiif/2/{identifier}/full/full/0/default.jpg"):
        response = client.get(path)
        assert response.status_code == 500
        assert response.get_data(as_text=True) == (
            f"image {identifier!r} is not a supported master (TIFF, JPEG 2000, JPEG, PNG, WebP, GIF)\n"
        )
    # The log says which decoder the file would have needed.
    assert any("operation is blocked" in record.getMessage() for record in caplog.records)
    # For its own requests only.
    assert client.get("/iiif/3/fine/full/max/0/default.png").status_code == 200


def test_the_memory_source_is_held_to_the_same_loaders() -> None:
    source = MemorySource()
    source.put("drawing", SVG, ".png")
    client = create_app(Settings(image_root=Path(".")), source=source).test_client()
    response = client.get("/iiif/3/drawing/info.json")
    assert response.status_code == 500 and "not a supported master" in response.get_data(as_text=True)


@pytest.mark.parametrize(("name", "data"), [
    ("drawing.svg", SVG),
    ("pixels.ppm", ppm()),
    ("broken.tif", truncated_tiff()),
], ids=["svgload", "ppmload", "magickload"])
def test_every_other_loader_is_blocked(tmp_path: Path, name: str, data: bytes) -> None:
    allow_only_master_loaders()
    (tmp_path / name).write_bytes(data)
    with pytest.raises(pyvips.Error, match="operation is blocked"):
        pyvips.Image.new_from_file(str(tmp_path / name))


@pytest.mark.parametrize("save", [
    lambda image: image.tiffsave_buffer(tile=True, compression="jpeg"),
    lambda image: image.jp2ksave_buffer(),
    lambda image: image.jpegsave_buffer(),
    lambda image: image.pngsave_buffer(),
    lambda image: image.webpsave_buffer(),
    lambda image: image.gifsave_buffer(),
], ids=list(MASTER_LOADERS.values()))
def test_the_served_formats_still_load(save) -> None:
    allow_only_master_loaders()
    loaded = pyvips.Image.new_from_buffer(save(grid_image(2, 2)), "")
    assert (loaded.width, loaded.height) == (200, 200)
    assert loaded.avg() > 0
