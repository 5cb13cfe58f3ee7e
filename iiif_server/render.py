"""pyvips only: the planned level, already opened -> crop -> scale -> mirror/rotate -> quality -> encode.

Never sees a URL; everything it needs is in the RenderPlan.
"""

from __future__ import annotations

import pyvips

from iiif_server.colour import ConversionError, to_srgb
from iiif_server.deadlines import Deadline
from iiif_server.errors import MasterUnreadable, decoder_message
from iiif_server.plan import LevelReader, RenderPlan
from iiif_server.request import OutputFormat, Quality
from iiif_server.watermark import Watermark

WHITE = 255
# Bump with every change to this module (or to what feeds it) that changes output bytes for a
# request that existed before: it is part of every derivative-cache key and image ETag, so cached
# responses made by the previous renderer are neither served nor confirmed by a 304.
RENDER_REVISION = 5
# Measured by bench/resize_kernels.py on the benchmark's 16k master (a level scaled to the output,
# PSNR against the full resolution reduced with lanczos3; CPU of resize and encode): at 0.8 x, cubic
# 32.9 dB in 18 ms, lanczos3 (libvips' default) 32.7 dB in 29 ms, linear 31.9 dB in 18 ms; at 0.6 x
# 34.9 / 35.3 / 32.5 dB in 19 / 23 / 15 ms. Cubic is as cheap as linear and within 0.4 dB of lanczos3.
RESIZE_KERNEL = "cubic"


def render_version() -> str:
    """What made a response's bytes: this renderer's revision and the libvips that ran it (a new
    libvips brings new resampling kernels and encoders)."""
    return f"r{RENDER_REVISION}-vips{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"


def render(
    level_image: pyvips.Image, plan: RenderPlan, jpeg_quality: int, deadline: Deadline, watermark: Watermark | None = None
) -> bytes:
    """The encoded answer; ``watermark`` is drawn on it after rotation, so it reads upright."""
    # Held until the encoder is done: its Python object owns the progress callback libvips calls.
    killable = _killed_after(level_image, deadline)
    try:
        image = _scaled_region(killable, plan)
        image = _to_display_colour(image, plan.colour_profile)
        image = _mirrored_and_rotated(image, plan)
        if watermark is not None:
            image = watermark.draw(image)
        image = _with_quality(image, plan.quality)
        return _encode(image, plan.format, jpeg_quality)
    except (pyvips.Error, ConversionError) as error:
        deadline.check()  # killed for running late, not a bad master
        raise MasterUnreadable(f"image {plan.identifier!r} could not be decoded", decoder_message(error)) from None


def render_pixels(level_image: pyvips.Image, plan: RenderPlan, deadline: Deadline) -> pyvips.Image:
    """The planned region at the planned size in display colour, decoded into memory (for a reduced
    master that later answers are cut from); ``plan`` must not rotate, mirror or change quality."""
    killable = _killed_after(level_image, deadline)
    try:
        return _to_display_colour(_scaled_region(killable, plan), plan.colour_profile).copy_memory()
    except (pyvips.Error, ConversionError) as error:
        deadline.check()
        raise MasterUnreadable(f"image {plan.identifier!r} could not be decoded", decoder_message(error)) from None


def _killed_after(level_image: pyvips.Image, deadline: Deadline) -> pyvips.Image:
    """The level, for this request alone, with its computation killed once the deadline passes.

    libvips reports progress (once per work unit, about 128 x 128 px) on the most downstream image
    that asked for it, and stops when that image is killed. The level image may be shared by other
    requests (OpenedLevels), so the callback goes on a copy of its own.
    """
    image = level_image.copy()
    image.set_progress(True)

    def stop_when_late(evaluated: pyvips.Image, _progress: object) -> None:
        if deadline.expired:
            evaluated.set_kill(True)

    image.signal_connect("eval", stop_when_late)
    return image


def _scaled_region(image: pyvips.Image, plan: RenderPlan) -> pyvips.Image:
    crop = plan.crop
    if (crop.x, crop.y, crop.width, crop.height) != (0, 0, image.width, image.height):
        image = image.crop(crop.x, crop.y, crop.width, crop.height)
    if (plan.width, plan.height) != (crop.width, crop.height):
        premultiplied, original_format = image.hasalpha(), image.format
        if premultiplied:
            image = image.premultiply()
        image = image.resize(plan.scale_x, vscale=plan.scale_y, kernel=RESIZE_KERNEL)
        if premultiplied:
            image = image.unpremultiply().cast(original_format)
        image = _exactly(image, plan.width, plan.height)
    if plan.reader is LevelReader.SEQUENTIAL:
        # The master is read top to bottom once; rotation and encoding then work on the result.
        image = image.copy_memory()
    return image


def _exactly(image: pyvips.Image, width: int, height: int) -> pyvips.Image:
    """resize rounds its output size; the plan's size is the contract, so trim or pad the last pixel."""
    if image.width == width and image.height == height:
        return image
    image = image.crop(0, 0, min(width, image.width), min(height, image.height))
    return image.embed(0, 0, width, height, extend="copy")


def _to_display_colour(image: pyvips.Image, colour_profile: bytes | None) -> pyvips.Image:
    """8-bit sRGB (or 8-bit grey for grey masters), whatever the master's depth, colour space and
    ICC profile: the browser then shows the master's true colours without colour management."""
    grey = image.bands - (1 if image.hasalpha() else 0) == 1
    if colour_profile is not None:
        image = to_srgb(image, colour_profile)
    elif image.interpretation == "cmyk":
        image = image.icc_transform("srgb", input_profile="cmyk")
    target = "b-w" if grey else "srgb"
    if image.interpretation != target or image.format != "uchar":
        image = image.colourspace(target)
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def _mirrored_and_rotated(image: pyvips.Image, plan: RenderPlan) -> pyvips.Image:
    """3.0 §4.3: mirror first, then rotate clockwise."""
    if plan.rotation.mirror:
        image = image.fliphor()
    degrees = plan.rotation.degrees
    if degrees == 0:
        return image
    if degrees in (90, 180, 270):
        return image.rot(f"d{int(degrees)}")
    if plan.format.has_alpha:
        if not image.hasalpha():
            image = image.bandjoin(255)
        background = [0] * image.bands
    else:
        background = [WHITE] * image.bands
    return image.similarity(angle=degrees, background=background)


def _with_quality(image: pyvips.Image, quality: Quality) -> pyvips.Image:
    if quality in (Quality.DEFAULT, Quality.COLOR):
        return image
    image = image.colourspace("b-w")
    if quality is Quality.GRAY:
        return image
    if image.hasalpha():
        image = image.flatten(background=WHITE)
    return (image > 127).ifthenelse(255, 0).cast("uchar").copy(interpretation="b-w")


def _encode(image: pyvips.Image, output_format: OutputFormat, jpeg_quality: int) -> bytes:
    if output_format is OutputFormat.JPG:
        if image.hasalpha():
            image = image.flatten(background=WHITE)
        return image.jpegsave_buffer(Q=jpeg_quality, strip=True)
    if output_format is OutputFormat.PNG:
        return image.pngsave_buffer(compression=4, strip=True)
    if output_format is OutputFormat.WEBP:
        return image.webpsave_buffer(Q=jpeg_quality, strip=True)
    if output_format is OutputFormat.TIF:
        return image.tiffsave_buffer(compression="deflate", strip=True)
    if output_format is OutputFormat.GIF:
        return image.gifsave_buffer(strip=True)
    return image.jp2ksave_buffer(Q=jpeg_quality, strip=True)
