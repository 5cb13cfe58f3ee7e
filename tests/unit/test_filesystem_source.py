"""The file-system source keeps resolved paths, and a kept path never hides a change on disk."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

from iiif_server.errors import IIIFError, NotFound
from iiif_server.sources import filesystem
from iiif_server.sources.filesystem import FileSystemSource, file_systems_under


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


MOUNTINFO = r"""22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid - proc proc rw
40 22 0:35 / /srv/images rw,relatime shared:20 - xfs /dev/vdb rw
41 40 0:36 / /srv/images/deposit rw,relatime shared:21 - nfs4 archive-nas:/deposit rw,vers=4.2
42 22 0:37 / /mnt/scans\040ho\040so rw,relatime shared:22 - fuse.s3fs s3fs rw
43 22 0:38 / /srv/images-old rw - cifs //nas/old rw
"""


@pytest.mark.parametrize(("root", "kinds"), [
    ("/srv/images/maps", {"xfs"}),  # on the xfs mount, nothing mounted below it
    ("/srv/images", {"xfs", "nfs4"}),  # a share mounted inside the image root counts
    ("/srv/images/deposit/2024", {"nfs4"}),
    ("/srv/images-old", {"cifs"}),  # a sibling whose name starts alike is not below /srv/images
    ("/mnt/scans ho so/letters", {"fuse.s3fs"}),  # mountinfo writes a space as \040
    ("/home/archivist", {"ext4"}),
])
def test_the_file_systems_an_image_root_reads_from(root: str, kinds: set[str]) -> None:
    assert file_systems_under(Path(root), MOUNTINFO) == kinds


def test_without_a_mount_table_the_file_system_is_unknown() -> None:
    assert file_systems_under(Path("/srv/images"), "") == {"unknown"}
    assert "unknown" not in filesystem.LOCAL_FILE_SYSTEMS


def test_a_root_on_this_machines_disk_never_hangs_and_one_on_a_share_may(tmp_path: Path, monkeypatch) -> None:
    assert FileSystemSource(tmp_path).reads_may_hang is False  # the test machine's own disk
    monkeypatch.setattr(filesystem, "file_systems_under", lambda root: {"ext4", "nfs4"})
    assert FileSystemSource(tmp_path).reads_may_hang is True
    monkeypatch.setattr(filesystem, "file_systems_under", lambda root: {"some-new-fs"})
    assert FileSystemSource(tmp_path).reads_may_hang is True  # unknown: treated as a network file system


def test_a_master_is_read_at_the_offsets_asked_for(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    (tmp_path / "page.tif").write_bytes(data)
    source = FileSystemSource(tmp_path)
    with source.open_bytes(source.locate("page")) as stream:
        for offset, size in ((0, 16), (9_000, 656), (300, 1), (10_200, 100), (len(data), 8)):
            assert stream.seek(offset) == offset
            assert stream.read(size) == data[offset:offset + size]
            assert stream.tell() == min(offset + size, len(data))
        with pytest.raises(ValueError):
            stream.seek(0, os.SEEK_END)
        with pytest.raises(ValueError):
            stream.seek(-1)


def test_a_short_read_is_read_on_to_the_size_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A network file system may return less than asked before the end: the rest is read on."""
    data = bytes(range(200))
    (tmp_path / "page.tif").write_bytes(data)
    source = FileSystemSource(tmp_path)
    real_pread = os.pread
    monkeypatch.setattr(filesystem.os, "pread",
                        lambda descriptor, size, offset: real_pread(descriptor, min(size, 7), offset))
    with source.open_bytes(source.locate("page")) as stream:
        stream.seek(10)
        assert stream.read(100) == data[10:110]
        stream.seek(190)
        assert stream.read(100) == data[190:]


def test_a_master_stays_open_for_its_next_reads_until_the_cache_lets_go_of_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filesystem, "DESCRIPTORS_KEPT", 1)
    (tmp_path / "first.tif").write_bytes(b"first master")
    (tmp_path / "second.tif").write_bytes(b"second master")
    source = FileSystemSource(tmp_path)
    first = source.locate("first")
    with source.open_bytes(first) as stream, source.open_bytes(first) as again:
        assert again.descriptor == stream.descriptor  # opened once
        descriptor = stream.descriptor
    os.fstat(descriptor)  # kept open after its readers are done
    reader = source.open_bytes(first)
    with source.open_bytes(source.locate("second")) as other:  # the cache now holds only the second
        assert other.read(6) == b"second"
    assert reader.read(5) == b"first"  # a reader of a master the cache let go of reads on
    reader.close()
    with pytest.raises(OSError):
        os.fstat(descriptor)  # closed with its last holder
    reader.close()  # a second close does nothing


def test_a_master_replaced_on_disk_is_opened_anew(tmp_path: Path) -> None:
    master = tmp_path / "page.tif"
    master.write_bytes(b"old")
    source = FileSystemSource(tmp_path)
    with source.open_bytes(source.locate("page")) as stream:
        assert stream.read(3) == b"old"
    replacement = tmp_path / "page.tmp"
    replacement.write_bytes(b"new, longer")
    replacement.replace(master)
    with source.open_bytes(source.locate("page")) as stream:
        assert stream.read(11) == b"new, longer"


def test_a_master_removed_after_its_lookup_fails_its_open_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "page.tif").write_bytes(b"II*\x00")
    source = FileSystemSource(tmp_path)
    master = source.locate("page")
    (tmp_path / "page.tif").unlink()
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(FileNotFoundError):
        source.open_bytes(master)
    gc.collect()
    assert unraisable == []  # no finaliser error in the server's log


def test_a_root_reached_through_a_symlink_gives_real_paths(tmp_path: Path) -> None:
    (tmp_path / "real" / "maps").mkdir(parents=True)
    (tmp_path / "real" / "maps" / "hanoi-1873.tif").write_bytes(b"tiff")
    (tmp_path / "root").symlink_to(tmp_path / "real")
    master = FileSystemSource(tmp_path / "root").locate("maps/hanoi-1873")
    assert master.location == str((tmp_path / "real" / "maps" / "hanoi-1873.tif").resolve())
    assert master.fingerprint.size == 4
