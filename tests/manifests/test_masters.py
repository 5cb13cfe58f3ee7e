"""Master stores: ingest into a bucket (a real SeaweedFS) and build manifests from its headers."""

from __future__ import annotations

import json
import os
from concurrent.futures import Executor
from pathlib import Path

import obstore
import pytest
from click.testing import CliRunner

from iiif_archive.cli import main
from iiif_server import create_app
from iiif_server.settings import ObjectStoreRoot
from manifests.ingest import IngestOptions, IngestStatus, ingest
from manifests.masters import PROVENANCE_METADATA, UPLOAD_PART_BYTES, BucketMasters
from tests.conftest import SeaweedFS
from tests.manifests.test_ingest import TILE, quadrants


def keys_below(seaweedfs: SeaweedFS, root: ObjectStoreRoot) -> list[str]:
    store = seaweedfs.store(root.bucket)
    return sorted(entry["path"] for batch in obstore.list(store, prefix=root.prefix) for entry in batch)


def test_ingest_into_a_bucket_uploads_verified_masters_and_skips_unchanged_ones(
    seaweedfs: SeaweedFS, dask_scheduler: str, tmp_path: Path,
) -> None:
    scans = tmp_path / "scans"
    (scans / "letters").mkdir(parents=True)
    quadrants().jpegsave(str(scans / "letters" / "a.jpg"))
    quadrants(300, 200).pngsave(str(scans / "b.png"))
    (scans / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    root = ObjectStoreRoot("masters", "ingested")
    # The tasks run in the cluster's worker processes: the bucket's store goes to them with each task.
    arguments = ["ingest", str(scans), "--images", str(root), "--tile-size", str(TILE), "--scheduler", dask_scheduler]
    first = CliRunner().invoke(main, arguments, env=seaweedfs.environ)
    assert first.exit_code == 1, first.output
    assert first.stdout.strip().splitlines()[-1] == "2 converted, 0 unchanged, 1 failed"
    assert keys_below(seaweedfs, root) == ["ingested/b.tif", "ingested/letters/a.tif"]
    store = seaweedfs.store(root.bucket)
    head = obstore.get(store, "ingested/letters/a.tif", options={"head": True})
    assert head.attributes[PROVENANCE_METADATA].startswith("iiif-archive ingest ")
    etag = head.meta["e_tag"]

    second = CliRunner().invoke(main, arguments, env=seaweedfs.environ)
    assert second.stdout.strip().splitlines()[-1] == "0 converted, 2 unchanged, 1 failed"
    assert obstore.head(store, "ingested/letters/a.tif")["e_tag"] == etag, "an unchanged scan is not uploaded again"
    quadrants(320, 240).jpegsave(str(scans / "letters" / "a.jpg"))
    third = CliRunner().invoke(main, arguments, env=seaweedfs.environ)
    assert third.stdout.strip().splitlines()[-1] == "1 converted, 1 unchanged, 1 failed"

    client = create_app(seaweedfs.settings(root)).test_client()
    info = client.get("/iiif/3/letters%2Fa/info.json").get_json()
    assert (info["width"], info["height"]) == (320, 240)
    assert info["tiles"][0]["width"] == TILE


def test_a_master_failing_verification_is_never_uploaded(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    root = ObjectStoreRoot("masters", "unverified")
    masters = BucketMasters(seaweedfs.store(root.bucket), root)

    def write_then_fail(temporary: Path) -> None:
        temporary.write_bytes(b"half a master")
        raise ValueError("the output has 1 pyramid levels instead of 3")

    with pytest.raises(ValueError):
        masters.publish("page.tif", "iiif-archive ingest {}", write_then_fail)
    assert keys_below(seaweedfs, root) == []


def test_a_large_master_goes_up_in_parts(seaweedfs: SeaweedFS) -> None:
    root = ObjectStoreRoot("masters", "multipart")
    masters = BucketMasters(seaweedfs.store(root.bucket), root)
    data = os.urandom(UPLOAD_PART_BYTES + 1024 * 1024)
    masters.publish("big.tif", "iiif-archive ingest {}", lambda temporary: temporary.write_bytes(data))
    store = seaweedfs.store(root.bucket)
    assert bytes(obstore.get(store, "multipart/big.tif").bytes()) == data
    assert obstore.head(store, "multipart/big.tif")["e_tag"].strip('"').endswith("-2"), "two parts"
    assert masters.provenance("big.tif") == "iiif-archive ingest {}"
    assert masters.provenance("missing.tif") is None


def test_ingest_in_python_takes_the_bucket_root(seaweedfs: SeaweedFS, dask_executor: Executor, tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    quadrants(64, 64).jpegsave(str(scans / "page.jpg"))
    root = ObjectStoreRoot("masters", "python")
    masters = BucketMasters(seaweedfs.store(root.bucket), root)
    results = ingest(scans, root, dask_executor, IngestOptions(tile_size=TILE), masters=masters)
    assert [(r.status, r.output) for r in results] == [(IngestStatus.CONVERTED, "s3://masters/python/page.tif")]


def test_build_reads_canvas_sizes_from_the_bucket(
    seaweedfs: SeaweedFS, demo_content: Path, sample_images: Path, tmp_path: Path,
) -> None:
    root = ObjectStoreRoot("masters", "samples")
    seaweedfs.upload_folder(sample_images, root)
    out_bucket, out_folder = tmp_path / "from-bucket", tmp_path / "from-folder"
    for images, out in ((str(root), out_bucket), (str(sample_images), out_folder)):
        result = CliRunner().invoke(main, ["build", str(demo_content), "--images", images, "--out", str(out),
                                           "--base-url", "https://iiif.example.vn", "--no-ocr"], env=seaweedfs.environ)
        assert result.exit_code == 0, result.output
    built = sorted(p.relative_to(out_bucket) for p in out_bucket.rglob("*.json"))
    assert built and built == sorted(p.relative_to(out_folder) for p in out_folder.rglob("*.json"))
    for relative in built:
        if relative.parts[0] != "discovery":  # the change streams differ only in their times
            assert json.loads((out_bucket / relative).read_text()) == json.loads((out_folder / relative).read_text())
    missing = CliRunner().invoke(main, ["build", str(demo_content), "--images", "s3://masters/empty", "--out",
                                        str(tmp_path / "none"), "--base-url", "https://iiif.example.vn", "--no-ocr"],
                                 env=seaweedfs.environ)
    assert missing.exit_code == 1 and "no image under the image root" in missing.output
