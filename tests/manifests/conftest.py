"""Fixtures for the manifest tests: the sample masters in miniature, the demo content, small curator files."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path

import pyvips
import pytest

from iiif_archive.samples import write_sample_masters

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CONTENT = REPO_ROOT / "content"
SAMPLE_SCALE = 0.05
# The demo's map region (around the citadel) is written for the full-size map; the miniature
# needs it scaled alike.
DEMO_MAP_REGION = "region: [5600, 5100, 6000, 6000]"
NASA_RELIEF_SIZE = (540, 270)  # the NASA map's 2:1 shape, at the miniature's scale

MINIMAL_DOCUMENT = """\
id: {id}
label: {{vi: Tài liệu {id}, en: Document {id}}}
summary: {{vi: Tóm tắt, en: Summary}}
rights: http://creativecommons.org/publicdomain/mark/1.0/
attribution: {{vi: Trung tâm Lưu trữ quốc gia III, en: National Archives Centre III}}
provider:
  label: {{vi: Cục Văn thư và Lưu trữ nhà nước, en: State Records and Archives Management Department}}
  homepage: https://www.archives.gov.vn/
pages:
  - image: {image}
"""


def write_tiled_tiff(path: Path, width: int, height: int, colour: tuple[int, int, int] = (120, 90, 60)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = (pyvips.Image.black(width, height) + list(colour)).cast("uchar").copy(interpretation="srgb")
    image.tiffsave(str(path), tile=True, tile_width=256, tile_height=256, pyramid=True, compression="jpeg")


@pytest.fixture(scope="session")
def sample_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every master the demo content names, generated small (the NASA map as a plain stand-in)."""
    root = tmp_path_factory.mktemp("sample-images")
    write_sample_masters(root, scale=SAMPLE_SCALE)
    write_tiled_tiff(root / "maps" / "nasa-shaded-relief.tif", *NASA_RELIEF_SIZE)
    return root


@pytest.fixture(scope="session")
def demo_content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's content/ folder, with the map region scaled to the miniature masters."""
    folder = tmp_path_factory.mktemp("demo") / "content"
    shutil.copytree(DEMO_CONTENT, folder)
    exhibition = folder / "exhibitions" / "national-day-75.yml"
    text = exhibition.read_text(encoding="utf-8")
    assert DEMO_MAP_REGION in text
    exhibition.write_text(text.replace(DEMO_MAP_REGION, "region: [280, 255, 300, 300]"), encoding="utf-8")
    return folder


def write_document(content: Path, document_id: str, image: str = "pages/one", text: str | None = None) -> Path:
    path = content / "documents" / f"{document_id}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else MINIMAL_DOCUMENT.format(id=document_id, image=image),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """A Dask LocalCluster of 2 worker processes for the whole session: its scheduler's address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                      silence_logs=logging.ERROR) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def dask_executor(dask_scheduler: str) -> Iterator[Executor]:
    from distributed import Client

    with Client(dask_scheduler) as client:
        yield client.get_executor(pure=False)
