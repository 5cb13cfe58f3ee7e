"""request.py: URL segments -> ImageRequest, without any image (house style 2).

Each case's id names the section of Image API 3.0 (https://iiif.io/api/image/3.0/) or 2.1
(https://iiif.io/api/image/2.1/) it exercises. Invalid cases check the error's class (so its HTTP
status) and that the one-line reason names the part of the URL that was wrong.
"""

from __future__ import annotations

import pytest

from iiif_server.errors import BadRequest, NotImplementedFeature
from iiif_server.request import (
    ApiVersion,
    BaseUriRequest,
    ImageRequest,
    InfoRequest,
    OutputFormat,
    Quality,
    Region,
    RegionKind,
    Rotation,
    Size,
    SizeKind,
    parse_image_path,
    parse_quality_format,
    parse_region,
    parse_rotation,
    parse_size,
)

V2, V3 = ApiVersion.V2, ApiVersion.V3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("full", Region(RegionKind.FULL), id="3.0 sec 4.1 full"),
        pytest.param("square", Region(RegionKind.SQUARE), id="3.0 sec 4.1 square"),
        pytest.param("125,15,120,140", Region(RegionKind.PIXELS, 125, 15, 120, 140), id="3.0 sec 4.1 x,y,w,h spec example"),
        pytest.param("0,0,1,1", Region(RegionKind.PIXELS, 0, 0, 1, 1), id="3.0 sec 4.1 x,y,w,h one pixel"),
        pytest.param(
            "99999,99999,5,5", Region(RegionKind.PIXELS, 99999, 99999, 5, 5),
            id="3.0 sec 4.1 x,y,w,h beyond any image parses (bounds are the planner's)",
        ),
        pytest.param(
            "pct:41.6,7.5,40,70", Region(RegionKind.PERCENT, 41.6, 7.5, 40, 70), id="3.0 sec 4.1 pct: spec example"
        ),
        pytest.param("pct:0,0,100,100", Region(RegionKind.PERCENT, 0, 0, 100, 100), id="3.0 sec 4.1 pct: whole image"),
        pytest.param(
            "pct:100,100,150,150", Region(RegionKind.PERCENT, 100, 100, 150, 150),
            id="3.0 sec 4.1 pct: x,y at 100 and w,h past the edge parse",
        ),
        pytest.param(
            "pct:0.25,0.5,12.125,99.75", Region(RegionKind.PERCENT, 0.25, 0.5, 12.125, 99.75),
            id="3.0 sec 4.7 pct: decimals",
        ),
    ],
)
def test_parse_region_accepts(text: str, expected: Region) -> None:
    assert parse_region(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="3.0 sec 4.1 empty"),
        pytest.param("Full", id="3.0 sec 4.1 keywords are lower case"),
        pytest.param("squares", id="3.0 sec 4.1 unknown keyword"),
        pytest.param("0,0,10", id="3.0 sec 4.1 x,y,w,h three numbers"),
        pytest.param("0,0,10,10,10", id="3.0 sec 4.1 x,y,w,h five numbers"),
        pytest.param("-1,0,10,10", id="3.0 sec 4.1 x,y,w,h negative"),
        pytest.param("0.5,0,10,10", id="3.0 sec 4.1 x,y,w,h are whole pixels"),
        pytest.param("0,0,0,10", id="3.0 sec 4.1 zero width"),
        pytest.param("0,0,10,0", id="3.0 sec 4.1 zero height"),
        pytest.param(" 0,0,10,10", id="3.0 sec 4.1 leading space"),
        pytest.param("pct:", id="3.0 sec 4.1 pct: without numbers"),
        pytest.param("pct:0,0,0,50", id="3.0 sec 4.1 pct: zero width"),
        pytest.param("pct:0,0,50,0.0", id="3.0 sec 4.1 pct: zero height"),
        pytest.param("pct:101,0,10,10", id="3.0 sec 4.1 pct: x beyond 100"),
        pytest.param("pct:0,100.5,10,10", id="3.0 sec 4.1 pct: y beyond 100"),
        pytest.param("pct:+1,0,10,10", id="3.0 sec 4.7 decimals are digits and '.' only (sign)"),
        pytest.param("pct:1e1,0,10,10", id="3.0 sec 4.7 decimals are digits and '.' only (exponent)"),
        pytest.param("pct:-5,0,10,10", id="3.0 sec 4.7 negative percentage"),
        pytest.param("PCT:0,0,10,10", id="3.0 sec 4.1 pct: prefix is lower case"),
    ],
)
def test_parse_region_refuses(text: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_region(text)
    assert type(raised.value) is BadRequest
    assert raised.value.status == 400
    assert f"region {text!r}" in raised.value.reason


@pytest.mark.parametrize(
    ("text", "version", "expected"),
    [
        pytest.param("max", V3, Size(SizeKind.MAX), id="3.0 sec 4.2 max"),
        pytest.param("^max", V3, Size(SizeKind.MAX, upscale=True), id="3.0 sec 4.2 ^max"),
        pytest.param("150,", V3, Size(SizeKind.WIDTH, width=150), id="3.0 sec 4.2 w,"),
        pytest.param("^360,", V3, Size(SizeKind.WIDTH, width=360, upscale=True), id="3.0 sec 4.2 ^w,"),
        pytest.param(",150", V3, Size(SizeKind.HEIGHT, height=150), id="3.0 sec 4.2 ,h"),
        pytest.param("^,240", V3, Size(SizeKind.HEIGHT, height=240, upscale=True), id="3.0 sec 4.2 ^,h"),
        pytest.param("pct:50", V3, Size(SizeKind.PERCENT, percent=50), id="3.0 sec 4.2 pct:n"),
        pytest.param("pct:100", V3, Size(SizeKind.PERCENT, percent=100), id="3.0 sec 4.2 pct:n n=100 is the limit"),
        pytest.param("pct:12.5", V3, Size(SizeKind.PERCENT, percent=12.5), id="3.0 sec 4.2 pct:n decimal"),
        pytest.param("^pct:120", V3, Size(SizeKind.PERCENT, percent=120, upscale=True), id="3.0 sec 4.2 ^pct:n"),
        pytest.param("225,100", V3, Size(SizeKind.EXACT, 225, 100), id="3.0 sec 4.2 w,h"),
        pytest.param("^360,360", V3, Size(SizeKind.EXACT, 360, 360, upscale=True), id="3.0 sec 4.2 ^w,h"),
        pytest.param("!225,100", V3, Size(SizeKind.CONFINED, 225, 100), id="3.0 sec 4.2 !w,h"),
        pytest.param("^!360,360", V3, Size(SizeKind.CONFINED, 360, 360, upscale=True), id="3.0 sec 4.2 ^!w,h"),
        pytest.param("full", V2, Size(SizeKind.FULL, upscale=True), id="2.1 sec 4.2 full"),
        pytest.param("max", V2, Size(SizeKind.MAX), id="2.1 sec 4.2 max never enlarges"),
        pytest.param("150,", V2, Size(SizeKind.WIDTH, width=150, upscale=True), id="2.1 sec 4.2 w, (may scale above full)"),
        pytest.param(",150", V2, Size(SizeKind.HEIGHT, height=150, upscale=True), id="2.1 sec 4.2 ,h"),
        pytest.param("pct:120", V2, Size(SizeKind.PERCENT, percent=120, upscale=True), id="2.1 sec 4.2 pct:n above 100"),
        pytest.param("225,100", V2, Size(SizeKind.EXACT, 225, 100, upscale=True), id="2.1 sec 4.2 w,h"),
        pytest.param("!225,100", V2, Size(SizeKind.CONFINED, 225, 100, upscale=True), id="2.1 sec 4.2 !w,h"),
    ],
)
def test_parse_size_accepts(text: str, version: ApiVersion, expected: Size) -> None:
    assert parse_size(text, version) == expected


@pytest.mark.parametrize(
    ("text", "version"),
    [
        pytest.param("full", V3, id="3.0 sec 4.2 full was removed (change log 1.1.1)"),
        pytest.param("^full", V3, id="3.0 sec 4.2 ^full"),
        pytest.param("^max", V2, id="2.1 sec 4.2 has no ^"),
        pytest.param("^150,", V2, id="2.1 sec 4.2 has no ^ (w,)"),
        pytest.param("pct:101", V3, id="3.0 sec 4.2 pct:n above 100 needs ^"),
        pytest.param("pct:0", V3, id="3.0 sec 4.2 pct:0"),
        pytest.param("pct:0.0", V2, id="2.1 sec 4.2 pct:0.0"),
        pytest.param("pct:", V3, id="3.0 sec 4.2 pct: without n"),
        pytest.param("pct:abc", V3, id="3.0 sec 4.2 pct: not a number"),
        pytest.param("pct:-5", V3, id="3.0 sec 4.7 pct: negative"),
        pytest.param("pct:1e2", V3, id="3.0 sec 4.7 pct: exponent"),
        pytest.param("0,", V3, id="3.0 sec 4.2 w, zero"),
        pytest.param(",0", V3, id="3.0 sec 4.2 ,h zero"),
        pytest.param("0,0", V2, id="2.1 sec 4.2 w,h zero"),
        pytest.param("100,0", V3, id="3.0 sec 4.2 w,h zero height"),
        pytest.param("!0,10", V3, id="3.0 sec 4.2 !w,h zero width"),
        pytest.param("!150,", V3, id="3.0 sec 4.2 !w, is not a form"),
        pytest.param("!,150", V3, id="3.0 sec 4.2 !,h is not a form"),
        pytest.param(",", V3, id="3.0 sec 4.2 bare comma"),
        pytest.param("", V3, id="3.0 sec 4.2 empty"),
        pytest.param("150", V3, id="3.0 sec 4.2 number without comma"),
        pytest.param("1.5,", V3, id="3.0 sec 4.2 w is whole pixels"),
        pytest.param("-10,", V3, id="3.0 sec 4.2 negative width"),
        pytest.param("^", V3, id="3.0 sec 4.2 ^ alone"),
        pytest.param("^^max", V3, id="3.0 sec 4.2 doubled ^"),
        pytest.param("!!10,10", V3, id="3.0 sec 4.2 doubled !"),
        pytest.param("!^10,10", V3, id="3.0 sec 4.2 ^ comes before !"),
        pytest.param("MAX", V3, id="3.0 sec 4.2 keywords are lower case"),
        pytest.param("max,", V3, id="3.0 sec 4.2 max with comma"),
    ],
)
def test_parse_size_refuses(text: str, version: ApiVersion) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_size(text, version)
    assert type(raised.value) is BadRequest
    assert raised.value.status == 400
    assert f"size {text!r}" in raised.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0", Rotation(0), id="3.0 sec 4.3 n=0"),
        pytest.param("90", Rotation(90), id="3.0 sec 4.3 n=90"),
        pytest.param("180", Rotation(180), id="3.0 sec 4.3 n=180"),
        pytest.param("270", Rotation(270), id="3.0 sec 4.3 n=270"),
        pytest.param("22.5", Rotation(22.5), id="3.0 sec 4.3 n=22.5 spec example"),
        pytest.param("0.5", Rotation(0.5), id="3.0 sec 4.7 leading zero below 1"),
        pytest.param("359.99", Rotation(359.99), id="3.0 sec 4.3 just below 360"),
        pytest.param("360", Rotation(0), id="3.0 sec 4.3 n=360 is a full turn"),
        pytest.param("!0", Rotation(0, mirror=True), id="3.0 sec 4.3 !n mirror only"),
        pytest.param("!180", Rotation(180, mirror=True), id="3.0 sec 4.3 !n spec example !180"),
        pytest.param("!345", Rotation(345, mirror=True), id="3.0 sec 4.6 spec example !345"),
    ],
)
def test_parse_rotation_accepts(text: str, expected: Rotation) -> None:
    assert parse_rotation(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="3.0 sec 4.3 empty"),
        pytest.param("!", id="3.0 sec 4.3 ! without n"),
        pytest.param("!!90", id="3.0 sec 4.3 doubled !"),
        pytest.param("90!", id="3.0 sec 4.3 ! after n"),
        pytest.param("-90", id="3.0 sec 4.3 negative"),
        pytest.param("361", id="3.0 sec 4.3 above 360"),
        pytest.param("360.5", id="3.0 sec 4.3 decimal above 360"),
        pytest.param("+90", id="3.0 sec 4.7 sign"),
        pytest.param("1e2", id="3.0 sec 4.7 exponent"),
        pytest.param("90deg", id="3.0 sec 4.3 unit suffix"),
        pytest.param("nan", id="3.0 sec 4.3 nan"),
        pytest.param("inf", id="3.0 sec 4.3 inf"),
        pytest.param("0x10", id="3.0 sec 4.3 hexadecimal"),
        pytest.param("9 0", id="3.0 sec 4.3 inner space"),
    ],
)
def test_parse_rotation_refuses(text: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_rotation(text)
    assert type(raised.value) is BadRequest
    assert f"rotation {text!r}" in raised.value.reason


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("0", "0", id="3.0 sec 4.8 integer"),
        pytest.param("90.0", "90", id="3.0 sec 4.8 integer if possible"),
        pytest.param("!0", "!0", id="3.0 sec 4.8 ! if mirrored"),
        pytest.param("22.50", "22.5", id="3.0 sec 4.7 no trailing zeros"),
        pytest.param(".5", "0.5", id="3.0 sec 4.7 leading 0 below 1"),
        pytest.param("!7.25", "!7.25", id="3.0 sec 4.8 mirrored decimal"),
        pytest.param("0.00001", "0.00001", id="3.0 sec 4.7 small decimal stays digits and '.'"),
        pytest.param("123.4567", "123.4567", id="3.0 sec 4.8 decimal keeps every digit"),
    ],
)
def test_rotation_canonical(text: str, canonical: str) -> None:
    rotation = parse_rotation(text)
    assert rotation.canonical == canonical
    assert parse_rotation(rotation.canonical) == rotation


@pytest.mark.parametrize("quality", list(Quality), ids=lambda q: f"3.0 sec 4.4 {q.value}")
@pytest.mark.parametrize("output_format", list(OutputFormat), ids=lambda f: f"3.0 sec 4.5 {f.value}")
def test_parse_quality_format_accepts(quality: Quality, output_format: OutputFormat) -> None:
    assert parse_quality_format(f"{quality.value}.{output_format.value}") == (quality, output_format)


@pytest.mark.parametrize(
    ("text", "bad_part"),
    [
        pytest.param("grey.jpg", "quality 'grey'", id="3.0 sec 4.4 unknown quality"),
        pytest.param("native.jpg", "quality 'native'", id="3.0 sec 4.4 1.x quality native"),
        pytest.param("Default.jpg", "quality 'Default'", id="3.0 sec 4.4 quality is lower case"),
        pytest.param(".jpg", "quality ''", id="3.0 sec 4.4 missing quality"),
        pytest.param("default", "quality ''", id="3.0 sec 4.5 missing format"),
        pytest.param("default.jpg.png", "quality 'default.jpg'", id="3.0 sec 4.5 two extensions"),
        pytest.param("default.jpeg", "format 'jpeg'", id="3.0 sec 4.5 jpeg is spelt jpg"),
        pytest.param("default.JPG", "format 'JPG'", id="3.0 sec 4.5 format is lower case"),
        pytest.param("default.bmp", "format 'bmp'", id="3.0 sec 4.5 unknown format"),
        pytest.param("default.", "format ''", id="3.0 sec 4.5 empty format"),
    ],
)
def test_parse_quality_format_refuses(text: str, bad_part: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_quality_format(text)
    assert type(raised.value) is BadRequest
    assert raised.value.status == 400
    assert bad_part in raised.value.reason


def test_pdf_is_a_valid_format_this_server_does_not_implement() -> None:
    """3.0 sec 4.5 lists pdf; a valid request for an unimplemented feature is 501, not 400."""
    with pytest.raises(NotImplementedFeature) as raised:
        parse_quality_format("default.pdf")
    assert raised.value.status == 501
    assert "'pdf'" in raised.value.reason


@pytest.mark.parametrize(
    ("path", "version", "expected"),
    [
        pytest.param("hanoi/info.json", V3, InfoRequest(V3, "hanoi"), id="3.0 sec 5.1 info.json"),
        pytest.param(
            "maps/hanoi-1873/info.json", V3, InfoRequest(V3, "maps/hanoi-1873"),
            id="3.0 sec 2 identifier with %2F (arrives decoded) then info.json",
        ),
        pytest.param(
            "a/b/c/info.json", V2, InfoRequest(V2, "a/b/c"), id="2.1 sec 5 info.json of a deeply nested identifier"
        ),
        pytest.param("hanoi", V3, BaseUriRequest(V3, "hanoi"), id="3.0 sec 2.1 base URI"),
        pytest.param("maps/hanoi-1873", V2, BaseUriRequest(V2, "maps/hanoi-1873"), id="2.1 sec 2.1 base URI with slash"),
        pytest.param(
            "decree.v2.final", V3, BaseUriRequest(V3, "decree.v2.final"), id="3.0 sec 2.1 base URI with dots in the id"
        ),
        pytest.param(
            "maps/hanoi-1873/full/max/0/default.jpg", V3,
            ImageRequest(V3, "maps/hanoi-1873", Region(RegionKind.FULL), Size(SizeKind.MAX), Rotation(),
                         Quality.DEFAULT, OutputFormat.JPG),
            id="3.0 sec 2 image request, identifier with slash",
        ),
        pytest.param(
            "a/b/c/125,15,120,140/90,/!345/gray.png", V3,
            ImageRequest(V3, "a/b/c", Region(RegionKind.PIXELS, 125, 15, 120, 140), Size(SizeKind.WIDTH, width=90),
                         Rotation(345, mirror=True), Quality.GRAY, OutputFormat.PNG),
            id="3.0 sec 4.6 spec example, identifier with two slashes",
        ),
        pytest.param(
            "info.json/full/full/0/default.jpg", V2,
            ImageRequest(V2, "info.json", Region(RegionKind.FULL), Size(SizeKind.FULL, upscale=True), Rotation(),
                         Quality.DEFAULT, OutputFormat.JPG),
            id="2.1 sec 2 identifier named info.json with an image request",
        ),
        pytest.param(
            "scan.2024/square/pct:50/0/bitonal.webp", V3,
            ImageRequest(V3, "scan.2024", Region(RegionKind.SQUARE), Size(SizeKind.PERCENT, percent=50),
                         Rotation(), Quality.BITONAL, OutputFormat.WEBP),
            id="3.0 sec 2 identifier with a dot",
        ),
    ],
)
def test_parse_image_path_splits(path: str, version: ApiVersion, expected: object) -> None:
    assert parse_image_path(path, version) == expected


@pytest.mark.parametrize(
    ("path", "version", "bad_part"),
    [
        pytest.param("/info.json", V3, "identifier", id="3.0 sec 2 empty identifier"),
        pytest.param("../secret/info.json", V3, "identifier", id="3.0 sec 2 .. segment (info)"),
        pytest.param("a/../../etc/passwd", V3, "identifier", id="3.0 sec 2 .. segment (base URI)"),
        pytest.param("../x/full/max/0/default.jpg", V3, "identifier", id="3.0 sec 2 .. segment (image)"),
        pytest.param("..", V2, "identifier", id="2.1 sec 2 identifier is .."),
        pytest.param("./a/info.json", V3, "identifier", id="3.0 sec 2 . segment"),
        pytest.param("a//b/info.json", V3, "identifier", id="3.0 sec 2 empty segment"),
        pytest.param("a/", V3, "identifier", id="3.0 sec 2 trailing slash"),
        pytest.param("a\\..\\b/info.json", V3, "identifier", id="3.0 sec 2 backslash"),
        pytest.param("a\x00b/full/max/0/default.jpg", V3, "identifier", id="3.0 sec 2 NUL"),
        pytest.param(".hidden/info.json", V3, "identifier", id="3.0 sec 2 dot file"),
        pytest.param("x" * 1025 + "/info.json", V3, "identifier", id="3.0 sec 2 overlong identifier"),
        pytest.param("a/bogus/max/0/default.jpg", V3, "region 'bogus'", id="3.0 sec 4.1 bad region in a path"),
        pytest.param("a/full/full/0/default.jpg", V3, "size 'full'", id="3.0 sec 4.2 full in a 3.0 path"),
        pytest.param("a/full/^max/0/default.jpg", V2, "size '^max'", id="2.1 sec 4.2 ^max in a 2.1 path"),
        pytest.param("a/full/max/-90/default.jpg", V3, "rotation '-90'", id="3.0 sec 4.3 bad rotation in a path"),
        pytest.param("a/full/max/0/default.jpeg", V3, "format 'jpeg'", id="3.0 sec 4.5 bad format in a path"),
    ],
)
def test_parse_image_path_refuses(path: str, version: ApiVersion, bad_part: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_image_path(path, version)
    assert type(raised.value) is BadRequest
    assert bad_part in raised.value.reason


HUGE = "9" * 400  # issue 10: 400-digit numbers overflowed the planner's floats (500 before)
ARABIC_INDIC_TEN = "\u0661\u0660"  # int() reads these as 10; the grammar allows ASCII digits only
FULL_WIDTH_TEN = "\uff11\uff10"


@pytest.mark.parametrize(
    ("path", "version", "bad_part"),
    [
        pytest.param(f"a/{HUGE},0,10,10/max/0/default.jpg", V3, "region", id="3.0 sec 4.1 x of 400 digits"),
        pytest.param(f"a/0,{HUGE},10,10/max/0/default.jpg", V3, "region", id="3.0 sec 4.1 y of 400 digits"),
        pytest.param(f"a/0,0,{HUGE},10/max/0/default.jpg", V3, "region", id="3.0 sec 4.1 w of 400 digits"),
        pytest.param(f"a/0,0,10,{HUGE}/max/0/default.jpg", V2, "region", id="2.1 sec 4.1 h of 400 digits"),
        pytest.param(f"a/0,0,{'9' * 5000},10/max/0/default.jpg", V3, "region",
                     id="3.0 sec 4.1 w of 5000 digits (beyond int()'s digit limit)"),
        pytest.param(f"a/pct:{HUGE},0,10,10/max/0/default.jpg", V3, "region", id="3.0 sec 4.1 pct: x of 400 digits"),
        pytest.param(f"a/pct:0,0,{HUGE},10/max/0/default.jpg", V3, "region", id="3.0 sec 4.1 pct: w of 400 digits"),
        pytest.param(f"a/pct:0,0,10,{HUGE}.5/max/0/default.jpg", V2, "region", id="2.1 sec 4.1 pct: h of 400 digits"),
        pytest.param(f"a/full/{HUGE},/0/default.jpg", V3, "size", id="3.0 sec 4.2 w, of 400 digits"),
        pytest.param(f"a/full/^{HUGE},/0/default.jpg", V3, "size", id="3.0 sec 4.2 ^w, of 400 digits"),
        pytest.param(f"a/full/,{HUGE}/0/default.jpg", V2, "size", id="2.1 sec 4.2 ,h of 400 digits"),
        pytest.param(f"a/full/{HUGE},{HUGE}/0/default.jpg", V3, "size", id="3.0 sec 4.2 w,h of 400 digits"),
        pytest.param(f"a/full/!10,{HUGE}/0/default.jpg", V2, "size", id="2.1 sec 4.2 !w,h of 400 digits"),
        pytest.param(f"a/full/^pct:{HUGE}/0/default.jpg", V3, "size", id="3.0 sec 4.2 ^pct:n of 400 digits"),
        pytest.param(f"a/full/pct:{HUGE}/0/default.jpg", V2, "size", id="2.1 sec 4.2 pct:n of 400 digits"),
        pytest.param(f"a/full/max/{HUGE}/default.jpg", V3, "rotation", id="3.0 sec 4.3 rotation of 400 digits"),
        pytest.param(f"a/full/max/!{HUGE}.0/default.jpg", V2, "rotation", id="2.1 sec 4.3 mirrored rotation of 400 digits"),
        pytest.param("a/full/1000000001,/0/default.jpg", V3, "size", id="3.0 sec 4.2 w, one above the bound"),
        pytest.param(f"a/{ARABIC_INDIC_TEN},0,10,10/max/0/default.jpg", V3, "region",
                     id="3.0 sec 4.7 Arabic-Indic digits in x,y,w,h"),
        pytest.param(f"a/full/{FULL_WIDTH_TEN},/0/default.jpg", V3, "size", id="3.0 sec 4.7 full-width digits in w,"),
        pytest.param(f"a/full/pct:{ARABIC_INDIC_TEN}/0/default.jpg", V2, "size", id="2.1 sec 4.7 Arabic-Indic digits in pct:n"),
        pytest.param(f"a/full/max/{FULL_WIDTH_TEN}/default.jpg", V3, "rotation", id="3.0 sec 4.7 full-width digits in rotation"),
        pytest.param("a/full/max/\u0669\u0660/default.jpg", V2, "rotation", id="2.1 sec 4.7 Arabic-Indic 90 in rotation"),
        pytest.param("a/full/max/NaN/default.jpg", V3, "rotation", id="3.0 sec 4.3 NaN rotation"),
        pytest.param("a/full/max/Infinity/default.jpg", V2, "rotation", id="2.1 sec 4.3 Infinity rotation"),
        pytest.param("a/full/max/1e3/default.jpg", V3, "rotation", id="3.0 sec 4.7 exponent in rotation"),
        pytest.param("a/full/1e3,/0/default.jpg", V3, "size", id="3.0 sec 4.7 exponent in w,"),
        pytest.param("a/0,0,-10,10/max/0/default.jpg", V2, "region", id="2.1 sec 4.1 negative w"),
        pytest.param("a/full/,-5/0/default.jpg", V3, "size", id="3.0 sec 4.2 negative h"),
        pytest.param("a/full/pct:-5/0/default.jpg", V2, "size", id="2.1 sec 4.2 negative pct:n"),
    ],
)
def test_absurd_numbers_are_refused_naming_the_part(path: str, version: ApiVersion, bad_part: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_image_path(path, version)
    assert type(raised.value) is BadRequest
    assert raised.value.reason.startswith(bad_part + " ")
    assert len(raised.value.reason) < 200


@pytest.mark.parametrize(
    ("path", "version", "expected_size"),
    [
        pytest.param("a/full/1000000000,/0/default.jpg", V3, Size(SizeKind.WIDTH, width=1_000_000_000),
                     id="3.0 sec 4.2 w, at the bound parses (limits are the planner's)"),
        pytest.param("a/full/pct:" + "0" * 400 + "50/0/default.jpg", V2,
                     Size(SizeKind.PERCENT, percent=50, upscale=True), id="2.1 sec 4.2 leading zeros are not magnitude"),
        pytest.param("a/full/^pct:1." + "0" * 400 + "1/0/default.jpg", V3,
                     Size(SizeKind.PERCENT, percent=1.0, upscale=True), id="3.0 sec 4.2 400 decimals are just precision"),
    ],
)
def test_long_but_bounded_numbers_parse(path: str, version: ApiVersion, expected_size: Size) -> None:
    parsed = parse_image_path(path, version)
    assert isinstance(parsed, ImageRequest)
    assert parsed.size == expected_size
