"""The colour a master's pixels are in: the embedded ICC profile that the renderer must convert
from, or None when the pixels are already sRGB (untagged, or tagged with a profile that behaves as
sRGB). Archives scan in Adobe RGB or eciRGB (FADGI, Metamorfoze); read as sRGB, a saturated red
(220, 30, 30) stored in Display P3 showed as (202, 54, 43)."""

from __future__ import annotations

import functools
import io
import itertools

import pyvips
from PIL import Image, ImageCms

# Colours whose conversion decides whether a profile is sRGB in effect: the corners and centre
# of the RGB cube, and greys. Profiles of sRGB from different vendors differ by a level at most.
_CHART_LEVELS = (0, 64, 128, 192, 255)
_RGB_CHART = [colour for colour in itertools.product(_CHART_LEVELS, repeat=3)]
_SRGB_TOLERANCE = 2


# An archive's masters mostly share a few profiles; deciding one costs 50-75 ms of lcms set-up.
@functools.lru_cache(maxsize=64)
def profile_to_convert(profile: bytes | None, bands: int, interpretation: str) -> bytes | None:
    """``profile`` if converting from it to sRGB changes the pixels of a master with ``bands``
    colour bands; None when there is no profile, or it is sRGB in effect, or lcms cannot use it
    (as browsers do, an unusable profile is ignored)."""
    if not profile:
        return None
    cmyk = interpretation == "cmyk"
    mode = _PILLOW_MODES.get((bands, cmyk))
    try:
        if mode is not None:
            _transform(profile, mode)  # the renderer's transform must build too
        if cmyk or bands not in (1, 3):
            return profile  # never sRGB
        chart = _grey_chart() if bands == 1 else _colour_chart()
        tagged = chart.copy()
        tagged.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
        converted = tagged.icc_transform("srgb", embedded=True, intent="relative", depth=8)
        expected = chart if chart.bands == 3 else chart.bandjoin([chart, chart])
        difference = (converted.cast("int") - expected.cast("int")).abs().max()
    except (pyvips.Error, ImageCms.PyCMSError, OSError):
        return None
    return profile if difference > _SRGB_TOLERANCE else None


def _colour_chart() -> pyvips.Image:
    pixels = bytes(value for colour in _RGB_CHART for value in colour)
    return pyvips.Image.new_from_memory(pixels, len(_RGB_CHART), 1, 3, "uchar").copy(interpretation="srgb")


def _grey_chart() -> pyvips.Image:
    pixels = bytes(range(0, 256, 15))
    return pyvips.Image.new_from_memory(pixels, len(pixels), 1, 1, "uchar").copy(interpretation="b-w")


def to_srgb(image: pyvips.Image, profile: bytes) -> pyvips.Image:
    """The pixels of ``image``, stored in ``profile``, as 8-bit sRGB (relative colorimetric: colours
    inside sRGB keep their exact value, those beyond it are clipped to its edge).

    Setting up an lcms transform costs 50-90 ms, more than rendering a tile: answers up to
    LARGEST_CACHED_CONVERSION pixels go through a transform built once per profile and kept; larger
    ones through libvips, which streams them. Both take 8-bit input, within half a level of the
    exact conversion; libvips' 16-bit path was up to 8 levels off in dark colours."""
    if image.format == "ushort":
        image = image.cast("uchar", shift=True).copy(interpretation=_EIGHT_BIT.get(image.interpretation, image.interpretation))
    colour = image.extract_band(0, n=image.bands - 1) if image.hasalpha() else image
    mode = _PILLOW_MODES.get((colour.bands, colour.interpretation == "cmyk"))
    if mode is None or image.width * image.height > LARGEST_CACHED_CONVERSION or image.format != "uchar":
        tagged = image.copy()
        tagged.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
        return tagged.icc_transform("srgb", embedded=True, intent="relative", depth=8)
    source = Image.frombuffer(mode, (colour.width, colour.height), colour.write_to_memory(), "raw", mode, 0, 1)
    converted = ImageCms.applyTransform(source, _transform(profile, mode))
    result = pyvips.Image.new_from_memory(converted.tobytes(), colour.width, colour.height, 3, "uchar")
    result = result.copy(interpretation="srgb")
    return result.bandjoin(image.extract_band(image.bands - 1)) if image.hasalpha() else result


LARGEST_CACHED_CONVERSION = 1024 * 1024
# What applying a kept transform raises, besides pyvips.Error.
ConversionError = ImageCms.PyCMSError
# (colour bands, CMYK?) -> the Pillow mode lcms reads them in.
_PILLOW_MODES = {(3, False): "RGB", (1, False): "L", (4, True): "CMYK"}
_EIGHT_BIT = {"rgb16": "srgb", "grey16": "b-w"}


@functools.lru_cache(maxsize=32)
def _transform(profile: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    """A transform to sRGB, shared by the worker's threads: without lcms' one-pixel cache
    (NOCACHE) applying it changes no state, so threads may apply it at once."""
    return ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), mode, "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, flags=ImageCms.Flags.NOCACHE,
    )

