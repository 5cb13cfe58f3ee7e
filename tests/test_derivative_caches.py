"""Derivative caches by behaviour: byte budgets, least-recently-used eviction, atomic files, and
many threads or processes at once."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from iiif_server.caches.derivatives import DiskDerivativeCache, MemoryDerivativeCache, TieredDerivativeCache

KEY_PREFIX = "1f2e-18c3a/maps%2Fhanoi-1873/"


def payload(key: str, size: int) -> bytes:
    """Bytes that can only belong to ``key``: a reader can tell a whole entry from a torn one."""
    block = hashlib.sha256(key.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.bin"))


# -- memory ---------------------------------------------------------------------------------------


def test_memory_cache_returns_what_was_put_and_misses_otherwise():
    cache = MemoryDerivativeCache(max_bytes=1000)
    cache.put(KEY_PREFIX + "full/max/0/default.jpg", b"jpeg bytes")
    assert cache.get(KEY_PREFIX + "full/max/0/default.jpg") == b"jpeg bytes"
    assert cache.get(KEY_PREFIX + "full/max/0/gray.jpg") is None


def test_memory_cache_evicts_least_recently_used_within_its_budget():
    cache = MemoryDerivativeCache(max_bytes=300)
    for name in "abc":
        cache.put(name, payload(name, 100))
    cache.get("a")  # now "b" is the least recently used
    cache.put("d", payload("d", 100))
    assert cache.get("b") is None
    assert [cache.get(name) for name in "acd"] == [payload(name, 100) for name in "acd"]
    assert cache.bytes_used == 300


def test_memory_cache_skips_an_entry_larger_than_its_budget():
    cache = MemoryDerivativeCache(max_bytes=300)
    cache.put("small", payload("small", 100))
    cache.put("huge", payload("huge", 301))
    assert cache.get("huge") is None
    assert cache.get("small") == payload("small", 100), "a too-large entry must not flush the cache"


def test_memory_cache_counts_a_replaced_entry_once():
    cache = MemoryDerivativeCache(max_bytes=300)
    cache.put("a", payload("a", 100))
    cache.put("a", payload("a", 150))
    assert cache.bytes_used == 150


def test_memory_cache_under_many_threads_keeps_budget_and_whole_entries():
    cache = MemoryDerivativeCache(max_bytes=50_000)
    wrong: list[str] = []

    def work(thread: int) -> None:
        for i in range(400):
            key = f"{KEY_PREFIX}{(thread * 7 + i) % 120}"
            data = cache.get(key)
            if data is None:
                cache.put(key, payload(key, 1000 + (hash(key) % 500)))
            elif data != payload(key, len(data)):
                wrong.append(key)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert cache.bytes_used <= 50_000
    assert cache.bytes_used == sum(len(data) for data in cache._entries.values())


# -- disk -----------------------------------------------------------------------------------------


def test_disk_cache_round_trip_survives_a_new_instance(tmp_path):
    """A second worker process (here: a second instance) sees what the first wrote."""
    key = KEY_PREFIX + "0,0,256,256/256,/0/default.jpg"
    DiskDerivativeCache(tmp_path, max_bytes=10_000).put(key, b"tile")
    reader = DiskDerivativeCache(tmp_path, max_bytes=10_000)
    assert reader.get(key) == b"tile"
    assert reader.get(key + "?") is None
    stored = reader.path_for(key)
    assert stored.is_file() and "hanoi" not in str(stored), "file names are hashes, never the key"


def test_disk_cache_evicts_least_recently_used_down_to_its_budget(tmp_path):
    cache = DiskDerivativeCache(tmp_path, max_bytes=10_000)
    keys = [f"{KEY_PREFIX}{n}" for n in range(9)]
    for age, key in enumerate(keys):
        cache.put(key, payload(key, 1000))
        # File times are coarser than a loop iteration: give each entry a distinct, older age.
        os.utime(cache.path_for(key), ns=(age * 10**9, age * 10**9))
    assert cache.get(keys[0]) is not None  # a hit makes the oldest the most recently used
    for key in (f"{KEY_PREFIX}new-{n}" for n in range(3)):
        cache.put(key, payload(key, 1000))
    assert folder_bytes(tmp_path) <= 10_000
    assert cache.get(keys[0]) == payload(keys[0], 1000)
    assert cache.get(keys[1]) is None and cache.get(keys[2]) is None, "the least recently used go first"
    assert cache.get(keys[8]) == payload(keys[8], 1000)


def test_disk_cache_counts_entries_written_before_it_started(tmp_path):
    earlier = DiskDerivativeCache(tmp_path, max_bytes=10_000)
    for n in range(9):
        earlier.put(f"old-{n}", payload(f"old-{n}", 1000))
    later = DiskDerivativeCache(tmp_path, max_bytes=10_000)
    later.put("new-0", payload("new-0", 1000))
    later.put("new-1", payload("new-1", 1000))
    assert folder_bytes(tmp_path) <= 10_000


def test_disk_cache_skips_an_entry_larger_than_its_budget(tmp_path):
    cache = DiskDerivativeCache(tmp_path, max_bytes=1000)
    cache.put("huge", payload("huge", 1001))
    assert cache.get("huge") is None
    assert folder_bytes(tmp_path) == 0


def _hammer_disk_cache(folder: str, worker: int, torn: multiprocessing.Queue) -> None:
    cache = DiskDerivativeCache(Path(folder), max_bytes=400_000)
    for i in range(150):
        key = f"{KEY_PREFIX}{(worker * 13 + i) % 60}"
        size = 20_000 + (int(hashlib.md5(key.encode()).hexdigest(), 16) % 20_000)
        data = cache.get(key)
        if data is None:
            cache.put(key, payload(key, size))
        elif data != payload(key, size):
            torn.put(key)


def test_disk_cache_shared_by_processes_never_serves_a_torn_entry(tmp_path):
    context = multiprocessing.get_context("fork")
    torn = context.Queue()
    workers = [context.Process(target=_hammer_disk_cache, args=(str(tmp_path), n, torn)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert torn.empty()
    assert list(tmp_path.rglob("*.partial")) == [], "temporary files must be renamed or removed"
    # Each process counts only its own writes between scans, so while all three write the folder
    # may overshoot; the next write of any process finds the true total and evicts down to budget.
    DiskDerivativeCache(tmp_path, max_bytes=400_000).put("after the others", b"tile")
    assert folder_bytes(tmp_path) <= 400_000


# -- tiers ----------------------------------------------------------------------------------------


def test_tiered_cache_copies_second_tier_hits_into_the_first(tmp_path):
    memory = MemoryDerivativeCache(max_bytes=10_000)
    disk = DiskDerivativeCache(tmp_path, max_bytes=10_000)
    tiered = TieredDerivativeCache(memory, disk)
    disk.put("written by another worker", b"tile")
    assert memory.get("written by another worker") is None
    assert tiered.get("written by another worker") == b"tile"
    assert memory.get("written by another worker") == b"tile"
    assert tiered.get("nowhere") is None


def test_tiered_cache_writes_both_tiers(tmp_path):
    memory = MemoryDerivativeCache(max_bytes=10_000)
    disk = DiskDerivativeCache(tmp_path, max_bytes=10_000)
    TieredDerivativeCache(memory, disk).put("key", b"tile")
    assert memory.get("key") == b"tile" and disk.get("key") == b"tile"


@pytest.mark.parametrize("cache_kind", ["memory", "disk"])
def test_caches_accept_keys_of_any_characters(tmp_path, cache_kind):
    cache = MemoryDerivativeCache(10_000) if cache_kind == "memory" else DiskDerivativeCache(tmp_path, 10_000)
    key = "5-6/sắc lệnh/../../etc/passwd/full/max/0/default.jpg"
    cache.put(key, b"x")
    assert cache.get(key) == b"x"
    assert not (tmp_path.parent / "etc").exists()


# -- in the server ----------------------------------------------------------------------------------


def test_server_answers_a_repeated_render_from_the_caches(settings, tmp_path):
    """A rendered response goes to memory and disk; a second worker (a second app on the same
    folder) finds it on disk instead of rendering again."""
    from iiif_server import create_app

    cached_settings = settings.replace(derivative_cache_dir=tmp_path / "derivatives")
    path = "/iiif/3/grid-tiff/full/300,/0/default.jpg"
    first_worker = create_app(cached_settings).test_client()
    rendered = first_worker.get(path)
    assert rendered.status_code == 200
    assert len(list((tmp_path / "derivatives").rglob("*.bin"))) == 1
    second_worker = create_app(cached_settings)
    again = second_worker.test_client().get(path)
    assert again.data == rendered.data
    metrics = second_worker.test_client().get("/metrics").text
    assert 'iiif_derivative_cache_lookups_total{result="hit"} 1.0' in metrics
    assert 'iiif_derivative_cache_lookups_total{result="miss"}' not in metrics


def test_a_disk_cache_that_cannot_write_costs_entries_not_requests(tmp_path: Path) -> None:
    """Running as root, permissions cannot stop a write; a file where the folder should be can."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file, not a folder\n")
    cache = DiskDerivativeCache(blocked, max_bytes=1_000_000)
    cache.put("token/identifier/full/max/0/default.jpg", b"rendered bytes")
    assert cache.get("token/identifier/full/max/0/default.jpg") is None


# -- render version ----------------------------------------------------------------------------------

RENDERED_PATH = "/iiif/3/grid-tiff/full/300,/0/default.jpg"  # resized: rendered, never a stored tile


def test_a_restart_without_a_renderer_change_keeps_cache_and_etag(settings, tmp_path):
    from iiif_server import create_app

    cached_settings = settings.replace(derivative_cache_dir=tmp_path / "derivatives", response_cache_bytes=0)
    first = create_app(cached_settings).test_client().get(RENDERED_PATH)
    restarted = create_app(cached_settings)
    client = restarted.test_client()
    again = client.get(RENDERED_PATH)
    assert (again.data, again.headers["ETag"]) == (first.data, first.headers["ETag"])
    assert client.get(RENDERED_PATH, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    metrics = client.get("/metrics").text
    assert 'iiif_derivative_cache_lookups_total{result="hit"} 1.0' in metrics
    assert 'iiif_derivative_cache_lookups_total{result="miss"}' not in metrics


def test_a_new_render_version_misses_the_disk_cache_and_changes_the_etag(settings, tmp_path, monkeypatch):
    """After an upgrade that renders differently, neither the shared disk cache nor a client's ETag
    brings back the old renderer's bytes."""
    from iiif_server import create_app, render

    cached_settings = settings.replace(derivative_cache_dir=tmp_path / "derivatives", response_cache_bytes=0)
    before = create_app(cached_settings).test_client().get(RENDERED_PATH)
    monkeypatch.setattr(render, "RENDER_REVISION", render.RENDER_REVISION + 1)
    upgraded = create_app(cached_settings)
    client = upgraded.test_client()
    after = client.get(RENDERED_PATH)
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    revalidated = client.get(RENDERED_PATH, headers={"If-None-Match": before.headers["ETag"]})
    assert revalidated.status_code == 200, "a 304 would confirm the old renderer's bytes"
    metrics = client.get("/metrics").text
    assert 'iiif_derivative_cache_lookups_total{result="miss"} 1.0' in metrics
    assert len(list((tmp_path / "derivatives").rglob("*.bin"))) == 2


def test_a_new_render_version_misses_both_tiers_of_a_kept_cache(settings, tmp_path, monkeypatch):
    """Even a memory tier that outlived the change (one cache shared by the old and the new
    pipeline) holds nothing under the new version's key."""
    from iiif_server import render
    from iiif_server.metrics import UncountedMetrics
    from iiif_server.pipeline import build_pipeline
    from iiif_server.request import ApiVersion, parse_image_path
    from iiif_server.sources.filesystem import FileSystemSource

    cached_settings = settings.replace(derivative_cache_dir=tmp_path / "derivatives")
    request = parse_image_path(RENDERED_PATH.removeprefix("/iiif/3/"), ApiVersion.V3)
    old = build_pipeline(cached_settings, FileSystemSource(settings.image_root), UncountedMetrics())
    old_prepared, old_bytes = old.answer(request, None, lambda _prepared: False)
    monkeypatch.setattr(render, "RENDER_REVISION", render.RENDER_REVISION + 1)
    new = build_pipeline(cached_settings, FileSystemSource(settings.image_root), UncountedMetrics())
    new.derivative_cache = tiers = old.derivative_cache
    keys_looked_up = []
    new_prepared, _ = new.answer(request, None, lambda prepared: keys_looked_up.append(prepared.cache_key) or True)
    assert isinstance(tiers, TieredDerivativeCache)
    assert tiers.first.get(old_prepared.cache_key) == old_bytes == tiers.second.get(old_prepared.cache_key)
    assert keys_looked_up == [new_prepared.cache_key] != [old_prepared.cache_key]
    assert tiers.first.get(new_prepared.cache_key) is None and tiers.second.get(new_prepared.cache_key) is None
