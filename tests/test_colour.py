"""colour.py: which embedded profiles need converting, and the conversion to sRGB on both paths."""

from __future__ import annotations

import numpy as np
import pytest
import pyvips

from iiif_server.colour import LARGEST_CACHED_CONVERSION, profile_to_convert, to_srgb
from tests.colour import (
    ADOBE_RGB, DISPLAY_P3, ECI_RGB_V2, SRGB, gamma_curve, grey_profile, in_space, rgb_profile, srgb_curve,
)


def builtin(name: str) -> bytes:
    image = pyvips.Image.black(1, 1, bands=3).copy(interpretation="srgb").icc_export(output_profile=name)
    return image.get("icc-profile-data")


@pytest.mark.parametrize(("profile", "bands", "interpretation", "converted"), [
    pytest.param(None, 3, "srgb", False, id="untagged"),
    pytest.param(lambda: builtin("srgb"), 3, "srgb", False, id="libvips sRGB"),
    pytest.param(lambda: rgb_profile(SRGB), 3, "srgb", False, id="an sRGB profile from its primaries"),
    pytest.param(lambda: rgb_profile(ADOBE_RGB), 3, "srgb", True, id="Adobe RGB (1998)"),
    pytest.param(lambda: rgb_profile(DISPLAY_P3), 3, "srgb", True, id="Display P3"),
    pytest.param(lambda: builtin("p3"), 3, "srgb", True, id="libvips P3"),
    pytest.param(lambda: rgb_profile(ECI_RGB_V2), 3, "srgb", True, id="eciRGB v2"),
    pytest.param(lambda: grey_profile("sRGB grey", srgb_curve), 1, "b-w", False, id="grey on the sRGB curve"),
    pytest.param(lambda: grey_profile("linear grey", gamma_curve(1.0)), 1, "b-w", True, id="linear grey"),
    pytest.param(lambda: builtin("cmyk"), 4, "cmyk", True, id="CMYK"),
    pytest.param(lambda: b"not a profile" * 20, 3, "srgb", False, id="unusable RGB profile is ignored"),
    pytest.param(lambda: b"not a profile" * 20, 4, "cmyk", False, id="unusable CMYK profile is ignored"),
    pytest.param(lambda: rgb_profile(ADOBE_RGB), 1, "b-w", False, id="RGB profile on a grey master is ignored"),
])
def test_profile_to_convert(profile, bands: int, interpretation: str, converted: bool) -> None:
    data = profile() if callable(profile) else profile
    assert (profile_to_convert(data, bands, interpretation) is not None) is converted


def chart(width: int, height: int, band_format: str = "uchar") -> pyvips.Image:
    """Every colour of a coarse RGB cube, repeated to the size asked."""
    index = pyvips.Image.xyz(width, height)
    red, green = (index[0] % 16) * 17, (index[1] % 16) * 17
    blue = ((index[0] // 16 + index[1] // 16) % 16) * 17
    image = red.bandjoin([green, blue])
    if band_format == "ushort":
        return (image * 257).cast("ushort").copy(interpretation="rgb16")
    return image.cast("uchar").copy(interpretation="srgb")


@pytest.mark.parametrize("band_format", ["uchar", "ushort"])
@pytest.mark.parametrize("alpha", [False, True], ids=["opaque", "alpha"])
@pytest.mark.parametrize("answer_size", ["small", "large"])
def test_both_conversions_are_within_a_level_of_the_exact_one(band_format: str, alpha: bool, answer_size: str) -> None:
    """Small answers use a transform kept per profile, large ones libvips' streaming one."""
    exact_chart = chart(256, 256, band_format)
    image = exact_chart.bandjoin(65535 if band_format == "ushort" else 255).cast(band_format) if alpha else exact_chart
    if answer_size == "large":
        side = int(LARGEST_CACHED_CONVERSION**0.5) + 1
        image = image.replicate(-(-side // 256), -(-side // 256))
    converted = to_srgb(image, rgb_profile(ADOBE_RGB)).crop(0, 0, 256, 256)
    assert (converted.bands, converted.format, converted.interpretation) == (4 if alpha else 3, "uchar", "srgb")
    stored = exact_chart.numpy().reshape(-1, 3) / (65535 if band_format == "ushort" else 255)
    linear = np.linalg.solve(SRGB.to_pcs(), ADOBE_RGB.to_pcs() @ ADOBE_RGB.curve(stored).T).T
    inside = np.all((linear >= 0) & (linear <= 1), axis=1)  # beyond sRGB, clipping is lcms' own choice
    exact = SRGB.encode(np.clip(linear, 0, 1)) * 255
    served = converted.numpy().reshape(-1, converted.bands)
    assert inside.mean() > 0.3
    assert np.abs(served[:, :3] - exact)[inside].max() <= 1
    if alpha:
        assert np.all(served[:, 3] == 255)


def test_the_kept_transform_converts_to_the_true_colour() -> None:
    stored = (pyvips.Image.black(8, 8) + list(in_space((220, 30, 30), DISPLAY_P3))).cast("uchar")
    converted = to_srgb(stored.copy(interpretation="srgb"), rgb_profile(DISPLAY_P3))
    assert np.abs(np.array(converted.getpoint(4, 4)) - (220, 30, 30)).max() <= 1
