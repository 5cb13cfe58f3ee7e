"""Content + image root -> the pixel size of every master it refers to, read from headers only.

The server's probe is the one place that reads a master's header, so canvases are sized exactly as
the Image API will describe them in info.json. Unknown identifiers and regions outside their page
become Problems that point at the curator's line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from iiif_server.errors import IIIFError
from iiif_server.probe import probe
from iiif_server.settings import ImageRoot, Settings
from iiif_server.sources import open_source
from manifests.load import ContentError, ImageReference, Problem, read_content
from manifests.model import Content, Document, Exhibition


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int


def check_content(content_dir: Path, image_root: ImageRoot, tile_size: int = 512) -> tuple[Content, Mapping[str, ImageSize]]:
    """The content and the size of every master it names, in one pass that reports every problem.

    Raises ContentError listing every problem of every file, by file and line: the curator files'
    own, and the image root's (missing or unreadable masters, regions outside their page), checked
    for every image a file names and every exhibition that loaded, even when other files have problems.
    """
    reading = read_content(content_dir)
    sizes, problems = read_image_sizes(reading.image_references, image_root, tile_size)
    problems += _region_problems(reading.documents, reading.exhibitions, sizes)
    if reading.problems or problems:
        raise ContentError(sorted((*reading.problems, *problems),
                                  key=lambda problem: (str(problem.origin.file), problem.origin.line)))
    return reading.content, sizes


def read_image_sizes(references: Iterable[ImageReference], image_root: ImageRoot,
                     tile_size: int = 512) -> tuple[dict[str, ImageSize], list[Problem]]:
    """Sizes by identifier, and a problem for every reference to a missing or unreadable master,
    from the headers of the masters in a folder or a bucket (ranged reads; a bucket's connection
    from the AWS_* environment variables)."""
    source = open_source(Settings().replace(image_root=image_root))
    places: dict[str, list[ImageReference]] = {}
    for reference in references:
        places.setdefault(reference.identifier, []).append(reference)
    sizes: dict[str, ImageSize] = {}
    problems: list[Problem] = []
    for identifier, found in places.items():
        try:
            info = probe(source, source.locate(identifier), tile_size=tile_size)
        except IIIFError as error:
            reason = error.reason.replace("no image with identifier", "no image under the image root with identifier")
            problems += [Problem(reference.origin, reference.field, reason) for reference in found]
            continue
        sizes[identifier] = ImageSize(info.width, info.height)
    return sizes, problems


def _region_problems(documents: Iterable[Document], exhibitions: Iterable[Exhibition],
                     sizes: Mapping[str, ImageSize]) -> list[Problem]:
    by_id = {document.id: document for document in documents}
    problems = []
    for exhibition in exhibitions:
        for number, item in enumerate(exhibition.items, start=1):
            if item.region is None:
                continue
            image = by_id[item.document_id].pages[item.page_index].image
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
