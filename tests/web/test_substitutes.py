"""Public substitutes of restricted images (IIIF Auth 2.0 "Tiered Access"), through the Flask client, by pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyvips

from iiif_server import create_app
from iiif_server.access.base import Reader
from iiif_server.auth.credentials import CredentialKind
from iiif_server.auth.services import AUTH_CONTEXT
from iiif_server.auth.web import ACCESS_COOKIE
from iiif_server.settings import Settings
from iiif_server.watermark import WATERMARK_COLOUR
from tests.grid import CELL, cell_colour

ARCHIVIST = Reader("lan", frozenset({"archivists"}))
# The session grid (tests/conftest.py): 16 x 12 cells of 100 px.
REDUCED = "grid-png"  # restricted, substitute at most 400 px on its longer side
WATERMARKED = "nested/deeper/grid-png"  # reading-room, watermarked substitute at full resolution


@pytest.fixture()
def tier_app(image_root: Path, tmp_path: Path):
    rules = tmp_path / "rules.json"
    rules.write_text('{"rules": [{"prefix": "nested", "level": "reading-room"}]}')
    return create_app(Settings(image_root=image_root, restricted_prefixes="grid-png:archivists", access_rules_file=rules,
                               restricted_substitute="max:400", reading_room_substitute="watermark",
                               auth_secret="test key", derivative_cache_dir=tmp_path / "derivatives"))


def quoted(identifier: str) -> str:
    return identifier.replace("/", "%2F")


def reader_client(app, reader: Reader):
    client = app.test_client()
    client.set_cookie(ACCESS_COOKIE, app.extensions["iiif.credentials"].issue(CredentialKind.COOKIE, reader)[0])
    return client


def image(response) -> np.ndarray:
    assert response.status_code == 200, response.get_data(as_text=True)
    array = pyvips.Image.new_from_buffer(response.data, "").numpy()
    return array.astype(int)


def test_the_probe_lists_the_substitute_only_to_whom_the_image_is_refused(tier_app):
    """Auth 2.0 "Probe Service Response", "substitute": present only when access would be denied; an
    Image like the access-controlled resource, with its own image service."""
    client = tier_app.test_client()
    probe = f"/auth/2/probe/{REDUCED}"
    refused = client.get(probe).get_json()
    assert (refused["@context"], refused["type"], refused["status"]) == (AUTH_CONTEXT, "AuthProbeResult2", 403)
    [substitute] = refused["substitute"]
    service = "http://localhost/iiif/substitute/3/grid-png"
    assert substitute["id"] == f"{service}/full/max/0/default.jpg"
    assert (substitute["type"], substitute["format"], set(substitute["label"])) == ("Image", "image/jpeg", {"vi", "en"})
    assert substitute["service"] == [{"id": service, "type": "ImageService3", "profile": "level2"}]
    token = tier_app.extensions["iiif.credentials"].issue(CredentialKind.TOKEN, ARCHIVIST)[0]
    allowed = client.get(probe, headers={"Authorization": f"Bearer {token}"}).get_json()
    assert allowed["status"] == 200 and "substitute" not in allowed
    assert "substitute" not in client.get("/auth/2/probe/grid-tiff").get_json()  # public: no rule, no substitute


def test_a_reduced_substitute_is_at_most_its_size_and_shows_the_whole_image(tier_app):
    client = tier_app.test_client()
    info = client.get(f"/iiif/substitute/3/{REDUCED}/info.json")
    document = info.get_json()
    assert info.status_code == 200 and "service" not in document  # anyone may see it: no Auth services
    assert (document["id"], document["width"], document["height"]) == ("http://localhost/iiif/substitute/3/grid-png", 400, 300)
    assert info.headers["Cache-Control"].startswith("public")
    whole = image(client.get(f"/iiif/substitute/3/{REDUCED}/full/max/0/default.png"))
    assert whole.shape[:2] == (300, 400)
    scale = 400 / 1600
    for column, row in ((0, 0), (5, 3), (15, 11)):
        centre = whole[int((row + 0.5) * CELL * scale), int((column + 0.5) * CELL * scale)]
        assert np.abs(centre - cell_colour(column, row)).max() <= 1
    # A deep-zoom client cannot get more: a region at "full" size is cut from the 400 px reduction.
    detail = client.get(f"/iiif/substitute/3/{REDUCED}/0,0,100,100/max/0/default.png")
    assert image(detail).shape[:2] == (100, 100)
    upscaled = client.get(f"/iiif/substitute/3/{REDUCED}/0,0,25,25/^400,/0/default.png")
    assert image(upscaled).shape[:2] == (400, 400) and "substitute" in upscaled.headers["Link"]
    assert client.get(f"/iiif/3/{REDUCED}/full/max/0/default.png").status_code == 403


def test_a_watermarked_substitute_carries_the_text_and_the_full_image_does_not(tier_app):
    path = f"{quoted(WATERMARKED)}/full/max/0/default.png"
    substitute = image(tier_app.test_client().get(f"/iiif/substitute/3/{path}"))
    full = image(reader_client(tier_app, Reader("terminal", frozenset({"reading-room"}))).get(f"/iiif/3/{path}"))
    assert substitute.shape == full.shape == (300, 400, 3)
    expected = np.array([[cell_colour(x // CELL, y // CELL) for x in range(400)] for y in range(300)])
    assert (full == expected).all()  # the allowed reader's pixels are the master's, untouched
    changed = np.abs(substitute - expected).max(axis=2) > 40
    assert changed[:, :40].sum() == changed[:, -40:].sum() == 0  # the text is centred
    assert changed[100:200, 40:-40].mean() > 0.1  # and visible across the middle
    # Where the text is, the colour moved towards the watermark's red.
    towards_red = (substitute[changed] - expected[changed]) * (np.array(WATERMARK_COLOUR) - expected[changed])
    assert (towards_red.sum(axis=1) > 0).mean() > 0.95


def test_substitute_and_full_answers_have_different_etags_and_cache_entries(tier_app):
    """Auth 2.0 "Introduction": each version of a resource has its own URI, so no cache confuses them;
    the ETag and the derivative-cache key also carry the tier."""
    path = f"{quoted(WATERMARKED)}/0,0,200,200/max/0/default.jpg"
    substitute = tier_app.test_client().get(f"/iiif/substitute/3/{path}")
    full = reader_client(tier_app, Reader("terminal", frozenset({"reading-room"}))).get(f"/iiif/3/{path}")
    assert substitute.status_code == full.status_code == 200
    assert substitute.headers["ETag"] != full.headers["ETag"]
    assert substitute.headers["Cache-Control"].startswith("public")
    assert full.headers["Cache-Control"] == "private, no-store"
    # The substitute went to the derivative caches (memory and disk); the restricted full image to none.
    pipeline = tier_app.extensions["iiif"]
    memory_keys = pipeline.derivative_cache.first.keys()
    assert [key for key in memory_keys if "/substitute-watermark/" in key and key.endswith("/0,0,200,200/max/0/default.jpg")]
    assert not [key for key in memory_keys if "/full/" in key and WATERMARKED in key]
    assert len(list(pipeline.derivative_cache.second.folder.rglob("*.bin"))) == 1
    # A conditional request with the substitute's ETag does not validate the full image.
    again = reader_client(tier_app, Reader("terminal", frozenset({"reading-room"}))).get(
        f"/iiif/3/{path}", headers={"If-None-Match": substitute.headers["ETag"]})
    assert again.status_code == 200


def test_a_restricted_tile_is_never_answered_from_a_cache_to_an_anonymous_request(tier_app):
    """The allowed reader's answer reaches no derivative cache (memory, disk) and no replay: an anonymous
    repeat of the same URL is refused, however often the reader asked first."""
    tile = f"/iiif/3/{REDUCED}/0,0,512,512/256,/0/default.jpg"
    archivist, anonymous = reader_client(tier_app, ARCHIVIST), tier_app.test_client()
    for _ in range(3):
        assert archivist.get(tile).status_code == 200
        assert anonymous.get(tile).status_code == 403
    pipeline = tier_app.extensions["iiif"]
    assert pipeline.derivative_cache.first.keys() == []
    assert list(pipeline.derivative_cache.second.folder.rglob("*.bin")) == []


def test_no_substitute_without_one(tier_app, image_root: Path):
    client = tier_app.test_client()
    answer = client.get("/iiif/substitute/3/grid-tiff/info.json")  # public: the image itself is there for anyone
    assert answer.status_code == 404 and answer.get_data(as_text=True) == "image 'grid-tiff' has no public substitute\n"
    assert client.get("/iiif/substitute/3/no-such-image/info.json").status_code == 404
    assert client.get(f"/iiif/substitute/3/{REDUCED}").status_code == 303
    plain = create_app(Settings(image_root=image_root, restricted_prefixes="grid-png", auth_secret="k")).test_client()
    assert plain.get(f"/iiif/substitute/3/{REDUCED}/full/max/0/default.jpg").status_code == 404
    assert "substitute" not in plain.get(f"/auth/2/probe/{REDUCED}").get_json()


@pytest.mark.parametrize("master", ["grid-tiff", "grid-jp2", "grid-jpeg", "grid-png"])
def test_every_kind_of_master_gives_its_reduced_and_watermarked_substitutes(image_root: Path, tmp_path: Path, master: str):
    settings = Settings(image_root=image_root, restricted_substitute="max:400", reading_room_substitute="watermark",
                        auth_secret="k")
    client = create_app(settings.replace(restricted_prefixes=master)).test_client()
    reduced = image(client.get(f"/iiif/substitute/3/{master}/full/max/0/default.png"))
    assert reduced.shape[:2] == (300, 400)
    for column, row in ((0, 0), (7, 5), (15, 11)):
        centre = reduced[int((row + 0.5) * CELL / 4), int((column + 0.5) * CELL / 4)]
        assert np.abs(centre - cell_colour(column, row)).max() <= 12  # JPEG masters' tolerance
    # A tile on the stored grid of the TIFF pyramid is drawn on too, never handed out as stored.
    rules = tmp_path / "rules.json"
    rules.write_text(f'{{"rules": [{{"prefix": "{master}", "level": "reading-room"}}]}}')
    room = create_app(settings.replace(access_rules_file=rules))
    tile = f"{master}/0,0,256,256/256,/0/default.png"
    substitute = image(room.test_client().get(f"/iiif/substitute/3/{tile}"))
    full = image(reader_client(room, Reader("terminal", frozenset({"reading-room"}))).get(f"/iiif/3/{tile}"))
    changed = np.abs(substitute - full).max(axis=2) > 40
    assert 0.02 < changed.mean() < 0.6
