"""Content + image root -> the pixel size of every master it refers to, read from headers only.

The server's probe is the one place that reads a master's header, so canvases are sized exactly as
the Image API will describe them in info.json. Unknown identifiers and regions outside their page
become Problems that point at the curator's line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from iiif_server.errors import IIIFError
from iiif_server.probe import probe
from iiif_server.settings import ImageRoot, Settings
from iiif_server.sources import open_source
from manifests.load import ContentError, Problem
from manifests.model import Content, Origin


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int


def read_image_sizes(
    content: Content, image_root: ImageRoot, tile_size: int = 512, settings: Settings | None = None,
) -> Mapping[str, ImageSize]:
    """Sizes by identifier, from the headers of the masters in a folder or a bucket (ranged reads;
    a bucket's connection from ``settings``, else AWS_*); raises ContentError listing every
    missing or unreadable master."""
    source = open_source((settings or Settings()).replace(image_root=image_root))
    references: dict[str, list[tuple[Origin, str]]] = {}
    for document in content.documents:
        for number, page in enumerate(document.pages, start=1):
            references.setdefault(page.image, []).append((page.origin, f"pages > item {number} > image"))
    for exhibition in content.exhibitions:
        references.setdefault(exhibition.cover.image, []).append((exhibition.cover.origin, "cover"))
    sizes: dict[str, ImageSize] = {}
    problems: list[Problem] = []
    for identifier, places in references.items():
        try:
            info = probe(source, source.locate(identifier), tile_size=tile_size)
        except IIIFError as error:
            reason = error.reason.replace("no image with identifier", "no image under the image root with identifier")
            problems += [Problem(origin, field, reason) for origin, field in places]
            continue
        sizes[identifier] = ImageSize(info.width, info.height)
    problems += _region_problems(content, sizes)
    if problems:
        raise ContentError(sorted(problems, key=lambda problem: (str(problem.origin.file), problem.origin.line)))
    return sizes


def _region_problems(content: Content, sizes: Mapping[str, ImageSize]) -> list[Problem]:
    problems = []
    for exhibition in content.exhibitions:
        for number, item in enumerate(exhibition.items, start=1):
            if item.region is None:
                continue
            image = content.document(item.document_id).pages[item.page_index].image
            size = sizes.get(image)
            if size is None:
                continue
            region = item.region
            if region.x + region.width > size.width or region.y + region.height > size.height:
                problems.append(Problem(
                    item.origin, f"items > item {number} > region",
                    f"{region.xywh} reaches outside page {item.page_index + 1} of '{item.document_id}', "
                    f"which is {size.width} × {size.height} pixels",
                ))
    return problems
