"""Issue 10 point 2: error answers name the identifier, never a path of the server; the log keeps
the decoder's details. Every kind of broken master is asked for info.json, a full image and a tile,
through both API versions, and each answer is scanned for the image root."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from iiif_server import create_app
from iiif_server.settings import Settings
from tests.grid import grid_image

BROKEN_IDENTIFIERS = ("photos/broken", "photos/cut-tiles", "photos/cut", "photos/text", "photos/cut-png", "photos/empty")


@pytest.fixture(scope="module")
def broken_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive-images")
    photos = root / "photos"
    photos.mkdir()
    image = grid_image(8, 8)
    image.tiffsave(str(photos / "whole.tif"), tile=True, pyramid=True, compression="jpeg", tile_width=256, tile_height=256)
    data = (photos / "whole.tif").read_bytes()
    # The case: cut before its directory, libtiff refuses the header and libvips tried ImageMagick.
    (photos / "broken.tif").write_bytes(data[: len(data) // 3])
    image.tiffsave(str(photos / "whole-deflate.tif"), tile=True, compression="deflate", tile_width=256, tile_height=256)
    deflate = bytearray((photos / "whole-deflate.tif").read_bytes())
    # The header survives, the tiles do not: libtiff's messages name the file.
    deflate[16 : len(deflate) // 2] = bytes(len(deflate) // 2 - 16)
    (photos / "cut-tiles.tif").write_bytes(bytes(deflate))
    image.jp2ksave(str(photos / "whole.jp2"), tile_width=256, tile_height=256)
    jp2 = (photos / "whole.jp2").read_bytes()
    (photos / "cut.jp2").write_bytes(jp2[: len(jp2) // 3])
    (photos / "text.jpg").write_text("a text file, not a JPEG\n")
    image.pngsave(str(photos / "whole.png"))
    png = (photos / "whole.png").read_bytes()
    (photos / "cut-png.png").write_bytes(png[:8] + b"\xff" * 64)  # the signature, then no header
    (photos / "empty.tif").write_bytes(b"")
    return root


@pytest.mark.parametrize("identifier", BROKEN_IDENTIFIERS)
@pytest.mark.parametrize("version", ["3", "2"])
def test_answers_about_broken_masters_name_no_server_path(broken_root: Path, identifier: str, version: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    client = create_app(Settings(image_root=broken_root)).test_client()
    quoted = identifier.replace("/", "%2F")
    root_spellings = {str(broken_root), os.path.realpath(broken_root), broken_root.name}
    caplog.set_level(logging.ERROR)
    statuses = []
    for path in (f"/iiif/{version}/{quoted}/info.json", f"/iiif/{version}/{quoted}/full/max/0/default.jpg",
                 f"/iiif/{version}/{quoted}/0,0,256,256/256,/0/default.png"):
        response = client.get(path)
        statuses.append(response.status_code)
        if response.status_code == 200:  # a decoder may pad a truncated scan; then there is nothing to scan
            continue
        body = response.get_data(as_text=True)
        assert response.status_code == 500
        assert f"image {identifier!r}" in body
        assert not any(spelling in body for spelling in root_spellings), body
        assert ".tif" not in body and ".jp2" not in body and ".png" not in body and ".jpg" not in body, body
    assert 500 in statuses
    # The log keeps what the decoder said, for whoever runs the server.
    assert any(identifier in record.getMessage() and "(" in record.getMessage() for record in caplog.records)


def test_the_whole_masters_beside_them_still_serve(broken_root: Path) -> None:
    client = create_app(Settings(image_root=broken_root)).test_client()
    for identifier in ("whole", "whole-deflate", "whole.jp2"[:-4], "whole"):
        assert client.get(f"/iiif/3/photos%2F{identifier}/full/200,/0/default.jpg").status_code == 200
