"""Identifier -> master path: containment is proven, never assumed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iiif_server.errors import BadRequest, NotFound
from iiif_server.identifiers import MASTER_SUFFIXES, check_identifier, identifier_for_path
from iiif_server.identifiers import resolve_master_path as resolve_below_real_root


def resolve_master_path(root: Path, identifier: str) -> str:
    """The path found below ``root`` resolved as the file source resolves it (once, at start), after
    checking that the status given with it is that file's."""
    path, status = resolve_below_real_root(os.path.realpath(root), identifier)
    assert (status.st_ino, status.st_size) == (os.stat(path).st_ino, os.stat(path).st_size)
    return path


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "hanoi-1873.tif").write_bytes(b"x")
    (tmp_path / "maps" / "hanoi-1873.png").write_bytes(b"x")
    (tmp_path / "letter.JPG").write_bytes(b"x")
    return tmp_path


def test_identifier_is_the_path_without_extension(root: Path) -> None:
    assert resolve_master_path(root, "maps/hanoi-1873") == str((root / "maps" / "hanoi-1873.tif").resolve())
    assert identifier_for_path(root, root / "maps" / "hanoi-1873.tif") == "maps/hanoi-1873"


def test_upper_case_extensions_are_found(root: Path) -> None:
    assert Path(resolve_master_path(root, "letter")).name == "letter.JPG"


@pytest.mark.parametrize("identifier", ["", "..", "../x", "maps/../../x", "maps//x", "/etc/passwd", "a\\b", "a\x00b",
                                        ".env", "maps/.hidden", "./maps/hanoi-1873", "x" * 1025])
def test_malformed_identifiers_are_refused(identifier: str) -> None:
    with pytest.raises(BadRequest):
        check_identifier(identifier)


def test_unknown_identifier_is_not_found(root: Path) -> None:
    with pytest.raises(NotFound):
        resolve_master_path(root, "maps/saigon")


def test_a_folder_is_not_a_master(root: Path) -> None:
    with pytest.raises(NotFound):
        resolve_master_path(root, "maps")


def test_symlink_out_of_the_root_is_not_found(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.tif"
    outside.write_bytes(b"x")
    (root / "secret.tif").symlink_to(outside)
    with pytest.raises(NotFound):
        resolve_master_path(root, "secret")


def test_symlinks_inside_the_root_resolve_to_their_target(root: Path) -> None:
    (root / "linked-maps").symlink_to(root / "maps")
    (root / "maps" / "alias.tif").symlink_to(root / "maps" / "hanoi-1873.tif")
    real = str((root / "maps" / "hanoi-1873.tif").resolve())
    assert resolve_master_path(root, "linked-maps/hanoi-1873") == real
    assert resolve_master_path(root, "maps/alias") == real
    assert resolve_master_path(root / "linked-maps" / "..", "maps/hanoi-1873") == real


def test_a_folder_linked_out_of_the_root_is_not_found(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.tif").write_bytes(b"x")
    (root / "elsewhere").symlink_to(outside)
    with pytest.raises(NotFound):
        resolve_master_path(root, "elsewhere/secret")


def test_a_link_to_nothing_or_to_a_folder_is_no_master(root: Path) -> None:
    (root / "dangling.tif").symlink_to(root / "nowhere.tif")
    (root / "folder.tif").symlink_to(root / "maps")
    for identifier in ("dangling", "folder"):
        with pytest.raises(NotFound):
            resolve_master_path(root, identifier)


def resolved_by_realpath(root: Path, identifier: str) -> str | None:
    """The definition the fast path must agree with: the real path of the first file among the
    suffixes, when it lies inside the root's real path."""
    real_root = os.path.realpath(root)
    stem = os.path.join(real_root, *identifier.split("/"))
    for suffix in MASTER_SUFFIXES:
        for candidate in (stem + suffix, stem + suffix.upper()):
            if os.path.isfile(candidate):
                real = os.path.realpath(candidate)
                return real if os.path.commonpath((real, real_root)) == real_root else None
    return None


@pytest.fixture()
def linked_tree(tmp_path: Path) -> Path:
    """Files, folders and every kind of link a folder of masters may hold, with the root itself
    reached through a link."""
    real, outside = tmp_path / "real-root", tmp_path / "outside"
    for folder in (real / "f", real / "deep" / "x", outside / "folder"):
        folder.mkdir(parents=True)
    for file in (real / "a.tif", real / "f" / "b.tif", real / "f" / "h.TIF", real / "f" / "h.jpg",
                 real / "deep" / "x" / "y.tif", outside / "secret.tif", outside / "folder" / "z.tif"):
        file.write_bytes(b"x")
    links = {
        real / "f" / "c.tif": real / "a.tif",  # to a master inside
        real / "f" / "d.tif": outside / "secret.tif",  # to a master outside
        real / "f" / "e.tif": real / "missing.tif",  # to nothing
        real / "g.tif": real / "f",  # to a folder
        real / "loop.tif": real / "loop.tif",  # to itself
        real / "lf": real / "f",  # a folder inside
        real / "lf2": real / "lf",  # a link to that link
        real / "out": outside / "folder",  # a folder outside
    }
    for link, target in links.items():
        link.symlink_to(target)
    (tmp_path / "root").symlink_to(real)
    return tmp_path / "root"


IDENTIFIERS = ("a", "f/b", "f/c", "f/d", "f/e", "f/h", "g", "loop", "deep/x/y", "lf/b", "lf/c", "lf/d", "lf2/b",
               "out/z", "missing", "f", "lf", "deep/x")


@pytest.mark.parametrize("identifier", IDENTIFIERS)
def test_every_lookup_agrees_with_realpath(linked_tree: Path, identifier: str) -> None:
    expected = resolved_by_realpath(linked_tree, identifier)
    if expected is None:
        with pytest.raises(NotFound):
            resolve_master_path(linked_tree, identifier)
    else:
        assert resolve_master_path(linked_tree, identifier) == expected
