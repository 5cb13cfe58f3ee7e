"""Colour-true masters (issue 10 point 6): a saturated patch stored in Adobe RGB, Display P3 or an
eciRGB v2-like space, in 16 bits, as grey with a profile, or in CMYK, served within CIEDE2000 2 of its
true colour through every path: rendered (scaled, whole), the stored-tile passthrough grid of a
pyramidal TIFF, and both JPEG 2000 readers (OpenJPEG for tiles, libvips for large regions).

Masters are encoded by tests/colour.py's own matrix arithmetic from the sRGB colour; the server
converts them back with lcms. Stored as they are and read as sRGB, the same patches are 3.5 to 6.7
away: the tolerance tells a converted answer from an unconverted one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips

from iiif_server import create_app
from iiif_server.settings import Settings
from tests.colour import (
    ADOBE_RGB,
    DISPLAY_P3,
    ECI_RGB_V2,
    RgbSpace,
    delta_e_2000,
    gamma_curve,
    grey_in_curve,
    grey_profile,
    in_space,
    rgb_profile,
    srgb_to_lab,
)
from tests.jp2 import with_icc_colour

TRUE_RED = (220, 30, 30)  # the patch
TRUE_GREY = 128
CMYK_TRUE_COLOUR = (190, 80, 60)  # inside the CMYK profile's gamut, so the round trip can be exact
TOLERANCE = 2.0
WIDTH, HEIGHT = 1200, 1000  # full/max is 1.2 Mpx: beyond the OpenJPEG reader's 1 Mpx, so libvips reads it
SPACES = {"adobe-rgb": ADOBE_RGB, "display-p3": DISPLAY_P3, "eci-rgb-v2": ECI_RGB_V2}
RENDERED = "full/600,/0/default.jpg"
STORED_TILE = "256,256,256,256/256,/0/default.jpg"  # exactly one stored tile: passthrough when allowed
WHOLE = "full/max/0/default.png"
JPEG2000_TILE = "256,256,256,256/256,/0/default.png"  # the OpenJPEG region reader


def uniform(colour: tuple[int, ...], interpretation: str, band_format: str = "uchar") -> pyvips.Image:
    return (pyvips.Image.black(WIDTH, HEIGHT) + list(colour)).cast(band_format).copy(interpretation=interpretation)


def tagged(image: pyvips.Image, profile: bytes) -> pyvips.Image:
    image = image.copy()
    image.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
    return image


def pyramid(image: pyvips.Image, path: Path) -> None:
    image.tiffsave(str(path), tile=True, pyramid=True, compression="jpeg", Q=95, tile_width=256, tile_height=256)


@pytest.fixture(scope="module")
def colour_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("colour-masters")
    for name, space in SPACES.items():
        stored = uniform(in_space(TRUE_RED, space), "srgb")
        pyramid(tagged(stored, rgb_profile(space)), root / f"{name}.tif")
        # libvips 8.14 writes no ICC profile into a JP2: the colour box is rebuilt to carry it.
        plain_jp2 = stored.jp2ksave_buffer(lossless=True, tile_width=256, tile_height=256)
        (root / f"{name}-jp2.jp2").write_bytes(with_icc_colour(plain_jp2, rgb_profile(space)))
    sixteen = uniform(in_space(TRUE_RED, DISPLAY_P3, maximum=65535), "rgb16", "ushort")
    tagged(sixteen, rgb_profile(DISPLAY_P3)).tiffsave(str(root / "display-p3-16bit.tif"), tile=True, compression="deflate")
    linear = gamma_curve(1.0)
    grey = uniform((grey_in_curve(TRUE_GREY, linear),), "b-w")
    pyramid(tagged(grey, grey_profile("Linear grey", linear)), root / "grey-linear.tif")
    tagged(grey, grey_profile("Linear grey", linear)).jpegsave(str(root / "grey-linear-jpeg.jpg"), Q=95)
    cmyk = uniform(CMYK_TRUE_COLOUR, "srgb").icc_export(output_profile="cmyk")  # embeds the CMYK profile
    cmyk.tiffsave(str(root / "cmyk.tif"), tile=True, compression="deflate")
    cmyk.jpegsave(str(root / "cmyk-jpeg.jpg"), Q=95)
    untagged_cmyk = cmyk.copy()
    untagged_cmyk.remove("icc-profile-data")
    untagged_cmyk.tiffsave(str(root / "cmyk-untagged.tif"), compression="deflate")
    pyramid(uniform(TRUE_RED, "srgb"), root / "srgb-untagged.tif")
    return root


@pytest.fixture(scope="module")
def client(colour_root: Path):
    return create_app(Settings(image_root=colour_root)).test_client()


def served_colour(client, identifier: str, url: str) -> tuple[float, ...]:
    response = client.get(f"/iiif/3/{identifier}/{url}")
    assert response.status_code == 200, response.get_data(as_text=True)
    image = pyvips.Image.new_from_buffer(response.data, "")
    # The answer is plain sRGB: no profile for a browser to apply (or to ignore).
    assert not image.get_typeof("icc-profile-data")
    return tuple(image.getpoint(image.width // 2, image.height // 2))


def distance(true_srgb: tuple[int, ...], served: tuple[float, ...]) -> float:
    served_rgb = served if len(served) >= 3 else served * 3
    true_rgb = true_srgb if len(true_srgb) == 3 else true_srgb * 3
    return delta_e_2000(srgb_to_lab(true_rgb), srgb_to_lab(served_rgb[:3]))


@pytest.mark.parametrize("space", SPACES.values(), ids=SPACES.keys())
def test_the_patches_are_far_from_their_true_colour_when_read_as_srgb(space: RgbSpace) -> None:
    """The tolerance discriminates: unconverted, every patch misses by more than the tolerance."""
    assert distance(TRUE_RED, in_space(TRUE_RED, space)) > 3 * TOLERANCE / 2


@pytest.mark.parametrize("url", [RENDERED, STORED_TILE, WHOLE], ids=["rendered", "stored-tile grid", "whole"])
@pytest.mark.parametrize("name", SPACES.keys())
def test_tiff_masters_in_wide_spaces_show_their_true_colour(client, name: str, url: str) -> None:
    assert distance(TRUE_RED, served_colour(client, name, url)) <= TOLERANCE


@pytest.mark.parametrize("url", [JPEG2000_TILE, RENDERED, WHOLE], ids=["openjpeg reader", "rendered", "libvips reader"])
@pytest.mark.parametrize("name", SPACES.keys())
def test_jpeg2000_masters_with_an_icc_colour_box_show_their_true_colour(client, name: str, url: str) -> None:
    assert distance(TRUE_RED, served_colour(client, f"{name}-jp2", url)) <= TOLERANCE


@pytest.mark.parametrize("url", [RENDERED, WHOLE, "0,0,256,256/256,/0/default.jpg"])
def test_a_sixteen_bit_master_with_a_profile_shows_its_true_colour(client, url: str) -> None:
    assert distance(TRUE_RED, served_colour(client, "display-p3-16bit", url)) <= TOLERANCE


@pytest.mark.parametrize("identifier", ["grey-linear", "grey-linear-jpeg"])
@pytest.mark.parametrize("url", [RENDERED, STORED_TILE, WHOLE])
def test_a_grey_master_with_a_profile_shows_its_true_lightness(client, identifier: str, url: str) -> None:
    served = served_colour(client, identifier, url)
    assert distance((TRUE_GREY,), served) <= TOLERANCE
    # Stored linearly and read as sRGB, the grey would be far darker.
    assert distance((TRUE_GREY,), (grey_in_curve(TRUE_GREY, gamma_curve(1.0)),)) > 10


@pytest.mark.parametrize("identifier", ["cmyk", "cmyk-jpeg", "cmyk-untagged"])
@pytest.mark.parametrize("url", [RENDERED, WHOLE])
def test_cmyk_masters_are_served_in_srgb(client, identifier: str, url: str) -> None:
    """With their profile, or libvips' CMYK profile for an untagged one (the one they were made with)."""
    assert distance(CMYK_TRUE_COLOUR, served_colour(client, identifier, url)) <= TOLERANCE


def test_stored_tiles_of_a_master_with_a_wide_profile_are_rendered_not_handed_out(client) -> None:
    """The stored-tile grid still answers from the stored bytes for sRGB masters, never for a master
    whose tiles hold another colour space's values."""
    pipeline = client.application.extensions["iiif"]
    assert pipeline.image_info("srgb-untagged")[1].stored_jpeg_tiles
    for name in SPACES:
        master, info = pipeline.image_info(name)
        assert not info.stored_jpeg_tiles and info.colour_profile is not None
    assert distance(TRUE_RED, served_colour(client, "srgb-untagged", STORED_TILE)) <= TOLERANCE


def test_a_master_tagged_with_srgb_keeps_the_fast_paths(colour_root: Path, tmp_path: Path) -> None:
    srgb = pyvips.Image.black(1, 1).icc_export(output_profile="srgb").get("icc-profile-data")
    pyramid(tagged(uniform(TRUE_RED, "srgb"), srgb), tmp_path / "srgb-tagged.tif")
    pipeline = create_app(Settings(image_root=tmp_path)).extensions["iiif"]
    _, info = pipeline.image_info("srgb-tagged")
    assert info.stored_jpeg_tiles and info.colour_profile is None
