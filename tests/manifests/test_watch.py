"""Watched values: computed once, again only after a watched file or folder changed."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from manifests.watch import MISSING, FileState, Watch, Watched, list_files
from tests.conftest import settle


class FolderListing:
    """Computes the sorted names and texts of a folder's files, counting how often it ran."""

    def __init__(self, folder: Path, delay: float = 0.0) -> None:
        self.folder = folder
        self.delay = delay
        self.runs = 0

    def __call__(self, watch: Watch) -> dict[str, str]:
        self.runs += 1
        time.sleep(self.delay)
        watch(self.folder)
        texts = {}
        for path in sorted(self.folder.iterdir()):
            watch(path)
            texts[path.name] = path.read_text(encoding="utf-8")
        if "broken" in texts:
            raise ValueError("a broken file")
        return texts


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("one", encoding="utf-8")
    settle(folder)
    return folder


def test_a_value_is_computed_once_while_nothing_changes(folder: Path) -> None:
    listing = FolderListing(folder)
    watched = Watched(listing)
    assert [watched.get() for _ in range(5)] == [{"a.txt": "one"}] * 5
    assert listing.runs == 1


@pytest.mark.parametrize("change", [
    pytest.param(lambda folder: (folder / "a.txt").write_text("two!", encoding="utf-8"), id="rewritten file"),
    pytest.param(lambda folder: (folder / "b.txt").write_text("new", encoding="utf-8"), id="added file"),
    pytest.param(lambda folder: (folder / "a.txt").unlink(), id="removed file"),
    pytest.param(lambda folder: os.replace(_written(folder.parent / "c.txt", "one"), folder / "a.txt"),
                 id="replaced by rename (same size and text)"),
    pytest.param(lambda folder: os.utime(folder / "a.txt", ns=(0, 1_000_000_000)), id="touched file"),
])
def test_a_change_to_a_watched_path_computes_again(folder: Path, change) -> None:
    listing = FolderListing(folder)
    watched = Watched(listing)
    watched.get()
    change(folder)
    expected = {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.iterdir())}
    assert watched.get() == expected
    assert listing.runs == 2


def _written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_folder_swapped_for_a_new_one_is_noticed(folder: Path, tmp_path: Path) -> None:
    listing = FolderListing(folder)
    watched = Watched(listing)
    watched.get()
    new = tmp_path / "new"
    shutil.copytree(folder, new)
    (new / "a.txt").write_text("new", encoding="utf-8")
    shutil.rmtree(folder)
    new.rename(folder)
    assert watched.get() == {"a.txt": "new"}


def test_a_kept_error_is_raised_again_without_computing_until_fixed(folder: Path) -> None:
    (folder / "broken").write_text("x", encoding="utf-8")
    settle(folder)
    listing = FolderListing(folder)
    watched = Watched(listing, kept_errors=(ValueError,))
    for _ in range(3):
        with pytest.raises(ValueError, match="a broken file"):
            watched.get()
    assert listing.runs == 1
    (folder / "broken").unlink()
    assert watched.get() == {"a.txt": "one"}


def test_other_errors_are_not_kept(folder: Path) -> None:
    (folder / "broken").write_text("x", encoding="utf-8")
    listing = FolderListing(folder)
    watched = Watched(listing)
    for _ in range(2):
        with pytest.raises(ValueError):
            watched.get()
    assert listing.runs == 2


def test_threads_asking_at_once_share_one_computation(folder: Path) -> None:
    listing = FolderListing(folder, delay=0.2)
    watched = Watched(listing)
    results = []
    threads = [threading.Thread(target=lambda: results.append(watched.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [{"a.txt": "one"}] * 8 and listing.runs == 1


def test_a_missing_path_has_the_missing_state(tmp_path: Path) -> None:
    assert FileState.of(tmp_path / "nowhere") == MISSING
    assert FileState.of(tmp_path) != MISSING


def test_list_files_skips_hidden_entries_and_symlinked_folders_and_watches_each_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for relative in ("a.TIF", "b.txt", "sub/c.png", ".hidden/d.png", "sub/.e.png"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f.png").write_bytes(b"x")
    os.symlink(tmp_path / "elsewhere", root / "linked")
    watched: list[Path] = []
    assert list_files(root, (".tif", ".png"), watched.append) == [root / "a.TIF", root / "sub" / "c.png"]
    assert sorted(watched) == [root, root / "sub"]


def test_with_recheck_after_a_change_shows_once_that_time_has_passed(folder: Path) -> None:
    listing = FolderListing(folder)
    watched = Watched(listing, recheck_after=2.0)
    started = time.monotonic()
    watched.get()
    (folder / "a.txt").write_text("two!", encoding="utf-8")
    stale = watched.get()
    if time.monotonic() - started < 2.0:  # a loaded machine may take longer than that to get here
        assert stale == {"a.txt": "one"}  # trusted without a stat
    deadline = time.monotonic() + 30
    while watched.get() == {"a.txt": "one"} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert watched.get() == {"a.txt": "two!"} and listing.runs == 2


def test_a_change_in_the_same_clock_tick_as_the_kept_stat_is_seen(tmp_path: Path) -> None:
    """A file written just before it was read may change again with the same size and mtime (coarse
    file-system clocks): it is kept as unsettled and read again on the next check."""
    folder = tmp_path / "fresh"
    folder.mkdir()
    (folder / "a.txt").write_text("one", encoding="utf-8")
    listing = FolderListing(folder)
    watched = Watched(listing)
    assert watched.get() == {"a.txt": "one"}
    stamped = os.stat(folder / "a.txt").st_mtime_ns
    (folder / "a.txt").write_text("two", encoding="utf-8")
    os.utime(folder / "a.txt", ns=(stamped, stamped))  # the same tick: size and mtime as before
    assert watched.get() == {"a.txt": "two"}
