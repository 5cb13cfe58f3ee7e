"""Publishing: schema check before writing, atomic swap, incremental rebuilds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from manifests import write
from manifests.build import PlannedOutput, plan_outputs
from manifests.model import Text
from manifests.write import BuildError, publish
from tests.manifests.test_build import CONTENT, PHOTO, SIZES, URLS


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def siblings(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.parent.iterdir())


@pytest.fixture()
def published(tmp_path: Path) -> Path:
    out = tmp_path / "public" / "iiif"
    publish(plan_outputs(CONTENT, SIZES, URLS), out, progress=False)
    return out


def test_publish_writes_every_output_and_its_state(published: Path) -> None:
    files = snapshot(published)
    assert sorted(files) == [".access-rules.json", ".build-state.json", "collection.json", "collections/photos.json", "collections/show.json",
                             "manifests/decree.json", "manifests/photo.json"]
    assert files["manifests/photo.json"].startswith(b'{\n  "@context": "http://iiif.io/api/presentation/3/context.json",\n  "id"')
    assert siblings(published) == ["iiif"]  # no staging folder left behind


def test_unchanged_inputs_are_not_rebuilt(published: Path) -> None:
    before = snapshot(published)
    report = publish(plan_outputs(CONTENT, SIZES, URLS), published, progress=False)
    assert (report.built, report.written) == ((), False)
    assert len(report.reused) == 6
    assert snapshot(published) == before


def test_a_changed_document_rebuilds_it_and_the_collections_that_show_its_label(published: Path) -> None:
    before = snapshot(published)
    renamed = replace(PHOTO, label=Text("Ảnh Ba Đình", "Ba Dinh photograph"))
    content = replace(CONTENT, documents=(CONTENT.documents[0], renamed))
    report = publish(plan_outputs(content, SIZES, URLS), published, progress=False)
    assert sorted(report.built) == ["collections/photos.json", "collections/show.json", "manifests/photo.json"]
    after = snapshot(published)
    assert after["manifests/decree.json"] == before["manifests/decree.json"]
    assert "Ba Dinh photograph" in after["manifests/photo.json"].decode()


def test_a_removed_document_disappears(published: Path) -> None:
    outputs = [o for o in plan_outputs(CONTENT, SIZES, URLS) if o.path != "manifests/decree.json"]
    report = publish(outputs, published, progress=False)
    assert report.removed == ("manifests/decree.json",)
    assert not (published / "manifests" / "decree.json").exists()


def test_check_only_validates_and_writes_nothing(tmp_path: Path, published: Path) -> None:
    before = snapshot(published)
    renamed = replace(CONTENT, documents=(CONTENT.documents[0], replace(PHOTO, label=Text("Mới", "New"))))
    report = publish(plan_outputs(renamed, SIZES, URLS), published, check_only=True, progress=False)
    assert len(report.built) == 6 and not report.written  # --check validates everything, reusing nothing
    assert snapshot(published) == before
    publish(plan_outputs(CONTENT, SIZES, URLS), tmp_path / "fresh", check_only=True, progress=False)
    assert not (tmp_path / "fresh").exists()


def broken_half_way(outputs: tuple[PlannedOutput, ...], make) -> list[PlannedOutput]:
    """The same outputs with the middle one (a manifest whose inputs changed) made by ``make``."""
    middle = len(outputs) // 2
    return [*outputs[:middle], PlannedOutput(outputs[middle].path, "changed", make), *outputs[middle + 1:]]


def invalid_manifest():
    manifest = plan_outputs(CONTENT, SIZES, URLS)[0].make()
    manifest.items[0].width = 0  # prezi3 accepts it; the IIIF schema wants a dimension above 0
    return manifest


def crash():
    raise RuntimeError("the power went out")


@pytest.mark.parametrize("make, failure", [
    (invalid_manifest, BuildError), (crash, RuntimeError),
], ids=["output fails the schema", "builder crashes"])
def test_a_build_failing_half_way_leaves_the_previous_output_byte_for_byte(published: Path, make, failure) -> None:
    before = snapshot(published)
    with pytest.raises(failure):
        publish(broken_half_way(plan_outputs(CONTENT, SIZES, URLS), make), published, progress=False)
    assert snapshot(published) == before
    assert siblings(published) == ["iiif"]


def test_the_schema_failure_names_the_file_and_field(published: Path) -> None:
    outputs = broken_half_way(plan_outputs(CONTENT, SIZES, URLS), invalid_manifest)
    with pytest.raises(BuildError) as raised:
        publish(outputs, published, progress=False)
    lines = str(raised.value).splitlines()
    assert lines[0] == "output does not match the IIIF Presentation 3.0 schema:"
    assert lines[1].startswith(f"{outputs[len(outputs) // 2].path}: items/0/width: 0 is less than or equal to the minimum of 0")


def test_a_failure_while_writing_leaves_the_previous_output_byte_for_byte(published: Path, monkeypatch) -> None:
    before = snapshot(published)
    renamed = replace(CONTENT, documents=(CONTENT.documents[0], replace(PHOTO, label=Text("Mới", "New"))))

    def disk_full(folder: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(write, "_sync_tree", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish(plan_outputs(renamed, SIZES, URLS), published, progress=False)
    assert snapshot(published) == before
    assert siblings(published) == ["iiif"]


def test_two_resources_for_one_file_are_refused(tmp_path: Path) -> None:
    outputs = plan_outputs(CONTENT, SIZES, URLS)
    with pytest.raises(BuildError, match="two resources would be written to manifests/decree.json"):
        publish([outputs[0], outputs[0]], tmp_path / "out", progress=False)


def test_missing_schema_file_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(write.SCHEMA_ENV, str(tmp_path / "nope.json"))
    with pytest.raises(BuildError, match=f"the IIIF Presentation 3.0 schema is not at {tmp_path}/nope.json; "
                                         f"set {write.SCHEMA_ENV} to its path"):
        publish(plan_outputs(CONTENT, SIZES, URLS), tmp_path / "out", progress=False)


def test_the_packaged_presentation_schema_is_the_validators_own() -> None:
    from manifests.write import DEFAULT_SCHEMA
    from tests.conftest import SHARED

    assert DEFAULT_SCHEMA.read_bytes() == (SHARED / "schemas" / "iiif_3_0.json").read_bytes()
