"""The file-system source keeps resolved paths, and a kept path never hides a change on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iiif_server.errors import IIIFError, NotFound
from iiif_server.sources.filesystem import FileSystemSource


def touch_folder_later(folder: Path) -> None:
    """Filesystems with coarse timestamps could leave a folder's mtime unchanged by a quick edit."""
    stat = folder.stat()
    os.utime(folder, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_rewritten_master_gets_a_new_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    master = tmp_path / "maps" / "hanoi-1873.tif"
    master.write_bytes(b"first")
    source = FileSystemSource(tmp_path)
    before = source.locate("maps/hanoi-1873")
    master.write_bytes(b"second, longer")
    after = source.locate("maps/hanoi-1873")
    assert after.location == before.location
    assert after.fingerprint != before.fingerprint


def test_a_removed_master_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "letter.jpg").write_bytes(b"jpeg")
    source = FileSystemSource(tmp_path)
    source.locate("letter")
    (tmp_path / "letter.jpg").unlink()
    with pytest.raises(NotFound):
        source.locate("letter")


def test_a_master_added_beside_a_located_one_wins_when_its_format_ranks_higher(tmp_path: Path) -> None:
    (tmp_path / "decree.jpg").write_bytes(b"jpeg")
    source = FileSystemSource(tmp_path)
    assert source.locate("decree").suffix == ".jpg"
    (tmp_path / "decree.tif").write_bytes(b"tiff")
    touch_folder_later(tmp_path)
    assert source.locate("decree").suffix == ".tif"


def test_malformed_identifiers_are_refused_before_any_lookup(tmp_path: Path) -> None:
    source = FileSystemSource(tmp_path / "images")
    (tmp_path / "images").mkdir()
    (tmp_path / "secret.tif").write_bytes(b"tiff")
    for identifier in ("../secret", "a//b", ".hidden"):
        with pytest.raises(IIIFError) as refused:
            source.locate(identifier)
        assert refused.value.status in (400, 404)
