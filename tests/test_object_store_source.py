"""Masters in S3-compatible object storage, read by byte ranges: a real SeaweedFS started by the tests.

The protocol and pixel tests (tests/web/test_image_api.py, tests/render/test_pixels.py) run on the
bucket too, with the same expected answers; here: what is fetched, freshness, failures, gunicorn.
"""

from __future__ import annotations

import time
from pathlib import Path

import obstore
import pytest
import pyvips
import requests
import tifffile

from iiif_server import create_app
from iiif_server.settings import ObjectStoreRoot, Settings
from iiif_server.sources.s3 import BLOCK_BYTES, open_object_store
from tests.conftest import SeaweedFS, assert_validator_passes, free_port, start_server, stop_server
from tests.grid import grid_image

TILE = 256


@pytest.fixture(scope="module")
def big_master(seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> tuple[ObjectStoreRoot, Path]:
    """A 6,000 x 4,000 JPEG-tiled pyramid in the bucket, and its local copy. Noise gives the stored
    tiles the size of a scan's (20-40 KB), where a flat grid compresses to a few KB."""
    folder = tmp_path_factory.mktemp("big-s3")
    path = folder / "big.tif"
    grid = grid_image(60, 40)
    noise = pyvips.Image.gaussnoise(grid.width, grid.height, sigma=24, mean=0)
    (grid + noise).cast("uchar").copy(interpretation="srgb").tiffsave(str(path), tile=True, pyramid=True, compression="jpeg", Q=80,
                                tile_width=TILE, tile_height=TILE)
    root = ObjectStoreRoot("masters", "traffic")
    seaweedfs.upload_folder(folder, root)
    return root, path


def _stored_tile_bytes(path: Path, columns_rows: list[tuple[int, int]]) -> int:
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        across = -(-page.imagewidth // page.tilewidth)
        return sum(page.databytecounts[row * across + column] for column, row in columns_rows)


def test_info_and_tiles_from_the_bucket(s3_settings: Settings) -> None:
    client = create_app(s3_settings).test_client()
    info = client.get("/iiif/3/grid-tiff/info.json")
    assert info.status_code == 200, info.text
    assert (info.json["width"], info.json["height"]) == (1600, 1200)
    tile = client.get("/iiif/3/grid-tiff/0,0,256,256/256,/0/default.jpg")
    assert tile.status_code == 200
    assert pyvips.Image.new_from_buffer(tile.data, "").width == 256


def test_passthrough_tiles_fetch_just_their_stored_bytes(seaweedfs: SeaweedFS, big_master) -> None:
    root, path = big_master
    app = create_app(seaweedfs.settings(root, derivative_cache_bytes=0, response_cache_bytes=0))
    client, traffic = app.test_client(), app.extensions["iiif"].source.traffic
    assert client.get("/iiif/3/big/info.json").status_code == 200
    with tifffile.TiffFile(path) as tiff:
        levels = len(tiff.pages)
    # Each level's IFD sits after its data: a block or two per level, once.
    assert traffic.bytes <= 2 * (levels + 1) * BLOCK_BYTES, "the header is read in blocks, not the master"
    tiles = [(column, row) for column in range(3, 9) for row in range(2, 6)]
    client.get("/iiif/3/big/0,0,256,256/256,/0/default.jpg")  # the stored-tile index: header blocks once
    before_bytes, before_requests = traffic.bytes, traffic.requests
    for column, row in tiles:
        response = client.get(f"/iiif/3/big/{column * TILE},{row * TILE},{TILE},{TILE}/{TILE},/0/default.jpg")
        assert response.status_code == 200
    stored = _stored_tile_bytes(path, tiles)
    assert traffic.requests - before_requests == len(tiles), "one range request per passthrough tile"
    assert traffic.bytes - before_bytes == stored, "exactly the stored tiles' bytes"


def test_rendered_tiles_fetch_a_few_times_their_stored_bytes(seaweedfs: SeaweedFS, big_master) -> None:
    root, path = big_master
    app = create_app(seaweedfs.settings(root, derivative_cache_bytes=0, response_cache_bytes=0))
    client, traffic = app.test_client(), app.extensions["iiif"].source.traffic
    assert client.get("/iiif/3/big/info.json").status_code == 200
    headers_done = traffic.bytes
    # Off the stored grid: each output needs the 4 stored tiles around it decoded by libvips.
    corners = [(column * TILE + 128, row * TILE + 128) for column in range(10, 14) for row in range(4, 7)]
    for x, y in corners:
        response = client.get(f"/iiif/3/big/{x},{y},{TILE},{TILE}/{TILE},/0/default.png")
        assert response.status_code == 200
        tile = pyvips.Image.new_from_buffer(response.data, "")
        assert (tile.width, tile.height) == (TILE, TILE)
    needed = {(x // TILE + dx, y // TILE + dy) for x, y in corners for dx in (0, 1) for dy in (0, 1)}
    fetched = traffic.bytes - headers_done
    master_size = path.stat().st_size
    assert fetched <= 3 * _stored_tile_bytes(path, sorted(needed)) + 8 * BLOCK_BYTES, (fetched, master_size)
    assert fetched < master_size / 5, "no whole-master download"


def test_a_master_replaced_in_the_bucket_is_served_new_within_the_ttl(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    root = ObjectStoreRoot("masters", "replaced")
    store = seaweedfs.store(root.bucket)
    grid_image(4, 3).tiffsave(str(tmp_path / "first.tif"), tile=True, pyramid=True, compression="jpeg")
    grid_image(5, 3).tiffsave(str(tmp_path / "second.tif"), tile=True, pyramid=True, compression="jpeg")
    obstore.put(store, root.key("page.tif"), (tmp_path / "first.tif").read_bytes())
    client = create_app(seaweedfs.settings(root, info_cache_ttl=1)).test_client()
    first = client.get("/iiif/3/page/info.json")
    assert first.json["width"] == 400
    assert client.get("/iiif/3/page/full/max/0/default.jpg").status_code == 200
    obstore.put(store, root.key("page.tif"), (tmp_path / "second.tif").read_bytes())
    time.sleep(1.1)
    second = client.get("/iiif/3/page/info.json")
    assert second.json["width"] == 500
    assert second.headers["ETag"] != first.headers["ETag"]
    image = pyvips.Image.new_from_buffer(client.get("/iiif/3/page/full/max/0/default.jpg").data, "")
    assert image.width == 500


def test_missing_identifiers_are_404_and_suffixes_keep_the_disk_order(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    root = ObjectStoreRoot("masters", "suffixes")
    store = seaweedfs.store(root.bucket)
    grid_image(4, 3).pngsave(str(tmp_path / "page.png"))
    grid_image(2, 3).jpegsave(str(tmp_path / "page.jpg"))
    obstore.put(store, root.key("page.png"), (tmp_path / "page.png").read_bytes())
    obstore.put(store, root.key("page.jpg"), (tmp_path / "page.jpg").read_bytes())
    client = create_app(seaweedfs.settings(root)).test_client()
    assert client.get("/iiif/3/page/info.json").json["width"] == 200  # .jpg before .png, as on disk
    missing = client.get("/iiif/3/nothing-here/info.json")
    assert missing.status_code == 404 and missing.text == "no image with identifier 'nothing-here'\n"
    assert client.get("/iiif/3/..%2Fpage/info.json").status_code == 400


def test_an_unreachable_store_answers_503_quickly() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(image_root=ObjectStoreRoot("masters"), aws_endpoint_url=dead, aws_access_key_id="k",
                        aws_secret_access_key="s", aws_region="us-east-1", object_store_timeout=2)
    client = create_app(settings).test_client()
    started = time.monotonic()
    response = client.get("/iiif/3/page/info.json")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.text.startswith("the image store did not answer") and dead not in response.text
    assert elapsed < 10, elapsed
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and "s3://masters" in ready.text


def test_gunicorn_on_the_bucket_passes_the_validator_at_level_2(seaweedfs: SeaweedFS, s3_image_root) -> None:
    server = start_server(str(s3_image_root), "--workers", "2", "--threads", "2", env=seaweedfs.environ)
    try:
        assert requests.get(f"{server.base_url}/health/ready", timeout=10).status_code == 200
        landing = requests.get(f"{server.base_url}/", timeout=30)
        assert landing.status_code == 200 and "nested/deeper/grid-tiff" in landing.text
        for prefix, version in (("iiif/3", "3.0"), ("iiif/2", "2.0")):
            assert_validator_passes(server.port, prefix, version)
    finally:
        stop_server(server)


def test_a_store_gone_mid_session_answers_503_and_the_server_recovers(seaweedfs: SeaweedFS, big_master) -> None:
    root, _ = big_master
    settings = seaweedfs.settings(root, derivative_cache_bytes=0, response_cache_bytes=0, object_store_timeout=2)
    app = create_app(settings)
    client, source = app.test_client(), app.extensions["iiif"].source
    assert client.get("/iiif/3/big/128,128,256,256/256,/0/default.jpg").status_code == 200  # levels opened
    reachable = source.store
    source.store = open_object_store(root, settings.replace(aws_endpoint_url=f"http://127.0.0.1:{free_port()}"))
    for rendered_or_stored in ("700,700,256,256", "512,512,256,256"):
        response = client.get(f"/iiif/3/big/{rendered_or_stored}/256,/0/default.jpg")
        assert response.status_code == 503, response.data[:200]
    source.store = reachable
    for rendered_or_stored in ("700,700,256,256", "512,512,256,256"):
        assert client.get(f"/iiif/3/big/{rendered_or_stored}/256,/0/default.jpg").status_code == 200


@pytest.fixture(scope="module")
def flat_masters(seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> ObjectStoreRoot:
    """One master of each format libvips reads through the source's byte ranges (no stored tiles
    to read ahead): JPEG, PNG, JPEG 2000; two of each, one to render and one never probed."""
    folder = tmp_path_factory.mktemp("flat-s3")
    grid = grid_image(8, 6)
    for name in ("render", "probe"):
        grid.jpegsave(str(folder / f"{name}-jpeg.jpg"), Q=90)
        grid.pngsave(str(folder / f"{name}-png.png"))
        grid.jp2ksave(str(folder / f"{name}-jp2.jp2"), tile_width=256, tile_height=256)
    root = ObjectStoreRoot("masters", "flat")
    seaweedfs.upload_folder(folder, root)
    return root


@pytest.mark.parametrize("kind", ["jpeg", "png", "jp2"])
def test_a_master_decoded_by_libvips_while_the_store_is_down_answers_503(seaweedfs: SeaweedFS, flat_masters,
                                                                         kind: str) -> None:
    settings = seaweedfs.settings(flat_masters, derivative_cache_bytes=0, response_cache_bytes=0, object_store_timeout=2)
    app = create_app(settings)
    client, pipeline = app.test_client(), app.extensions["iiif"]
    assert client.get(f"/iiif/3/render-{kind}/info.json").status_code == 200  # located and probed
    pipeline.locate(f"probe-{kind}")  # located, not probed
    reachable = pipeline.source.store
    pipeline.source.store = open_object_store(flat_masters, settings.replace(aws_endpoint_url=f"http://127.0.0.1:{free_port()}"))
    rendered = client.get(f"/iiif/3/render-{kind}/full/200,/0/default.jpg")
    assert rendered.status_code == 503, rendered.text
    assert rendered.text.startswith("the image store did not answer")
    probed = client.get(f"/iiif/3/probe-{kind}/info.json")
    assert probed.status_code == 503, probed.text
    pipeline.source.store = reachable
    assert client.get(f"/iiif/3/render-{kind}/full/200,/0/default.jpg").status_code == 200
    assert client.get(f"/iiif/3/probe-{kind}/info.json").status_code == 200
