"""Canvas sizes come from the masters' headers; unknown identifiers and stray regions point at the curator's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests.images import ImageSize, check_content
from manifests.load import ContentError
from tests.manifests.conftest import write_document, write_tiled_tiff

EXHIBITION = """\
id: show
title: {vi: Triển lãm, en: Exhibition}
introduction: {vi: Giới thiệu, en: Introduction}
cover: pages/cover
items:
  - document: doc-a
    region: [REGION]
    caption: {vi: Chú thích, en: Caption}
"""


@pytest.fixture()
def image_root(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    write_tiled_tiff(root / "pages" / "one.tif", 300, 200)
    write_tiled_tiff(root / "pages" / "cover.tif", 64, 48)
    return root


def write_exhibition(content: Path, region: str) -> Path:
    path = content / "exhibitions" / "show.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXHIBITION.replace("REGION", region), encoding="utf-8")
    return path


def test_sizes_are_read_from_the_masters(tmp_path: Path, image_root: Path) -> None:
    write_document(tmp_path / "content", "doc-a", image="pages/one")
    write_exhibition(tmp_path / "content", "0, 0, 300, 200")
    _, sizes = check_content(tmp_path / "content", image_root)
    assert sizes == {"pages/one": ImageSize(300, 200), "pages/cover": ImageSize(64, 48)}


def test_unknown_image_identifier_names_the_page_line(tmp_path: Path, image_root: Path) -> None:
    document = write_document(tmp_path / "content", "doc-a", image="pages/two")
    with pytest.raises(ContentError) as raised:
        check_content(tmp_path / "content", image_root)
    assert str(raised.value) == (
        f"{document}:10: pages > item 1 > image: no image under the image root with identifier 'pages/two'"
    )


def test_unreadable_master_names_the_page_line(tmp_path: Path, image_root: Path) -> None:
    (image_root / "pages" / "broken.jpg").write_bytes(b"not a jpeg")
    document = write_document(tmp_path / "content", "doc-a", image="pages/broken")
    with pytest.raises(ContentError, match=rf"^{document}:10: pages > item 1 > image: image 'pages/broken' cannot be read"):
        check_content(tmp_path / "content", image_root)


@pytest.mark.parametrize("region, fits", [
    ("0, 0, 300, 200", True),
    ("299, 199, 1, 1", True),
    ("1, 0, 300, 200", False),
    ("0, 150, 10, 51", False),
], ids=["whole page", "last pixel", "one pixel too wide", "one pixel too tall"])
def test_region_must_lie_inside_its_page(tmp_path: Path, image_root: Path, region: str, fits: bool) -> None:
    write_document(tmp_path / "content", "doc-a", image="pages/one")
    exhibition = write_exhibition(tmp_path / "content", region)
    if fits:
        check_content(tmp_path / "content", image_root)
        return
    with pytest.raises(ContentError) as raised:
        check_content(tmp_path / "content", image_root)
    xywh = region.replace(" ", "")
    assert str(raised.value) == (f"{exhibition}:6: items > item 1 > region: {xywh} reaches outside page 1 of 'doc-a', "
                                 "which is 300 × 200 pixels")
