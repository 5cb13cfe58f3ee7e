"""/iiif/discovery/: a harvester walks the Change Discovery stream that a sequence of builds wrote.

The harvester follows the spec's processing algorithm (Change Discovery 1.0 §3.5.1 and §3.5.2): from
the collection's ``last`` page backwards through ``prev``, items in reverse, stopping at an activity
older than its previous crawl.
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from iiif_archive.app import create_platform_app
from iiif_archive.settings import PlatformSettings
from manifests import write
from manifests.build import plan_outputs
from manifests.discovery import MEDIA_TYPE, append_activities
from manifests.model import Text
from manifests.write import publish
from tests.manifests.test_build import CONTENT, DECREE, PHOTO, SIZES, URLS

BASE = URLS.base_url


def moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def crawl_time_after(client) -> datetime:
    """A crawl that starts once the newest published activity's ``endTime`` has passed."""
    newest = client.get(client.get("/iiif/discovery/collection.json").json["last"]["id"].removeprefix(BASE))
    end_time = moment(newest.json["orderedItems"][-1]["endTime"])
    while datetime.now(timezone.utc) <= end_time:
        time.sleep(0.1)
    return datetime.now(timezone.utc)


def harvest(client, last_crawl: datetime | None = None) -> list[tuple[str, str]]:
    """(type, object path) of every activity not before ``last_crawl``, newest first (§3.5.2)."""
    collection = client.get("/iiif/discovery/collection.json")
    assert collection.status_code == 200 and collection.headers["Content-Type"] == MEDIA_TYPE
    seen, page_url = [], collection.json["last"]["id"]
    while page_url:
        page = client.get(page_url.removeprefix(BASE)).json
        for activity in reversed(page["orderedItems"]):
            if last_crawl and moment(activity["endTime"]) < last_crawl:
                return seen
            seen.append((activity["type"], activity["object"]["id"].removeprefix(f"{BASE}/iiif/presentation/")))
        page_url = page.get("prev", {}).get("id")
    return seen


@pytest.fixture()
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Two activities a page, so the walk crosses pages.
    monkeypatch.setattr(write, "append_activities", functools.partial(append_activities, page_size=2))
    return tmp_path / "public" / "iiif"


def build(content, out: Path) -> None:
    publish(plan_outputs(content, SIZES, URLS), out, stream_url=URLS.activity_stream(), progress=False)


def test_a_harvester_sees_exactly_the_creates_updates_and_deletes_of_each_build(out: Path) -> None:
    build(CONTENT, out)
    client = create_platform_app(PlatformSettings(image_root=out, presentation_root=out)).test_client()
    first = harvest(client)
    assert sorted(first) == sorted([
        ("Create", "manifests/decree.json"), ("Create", "manifests/photo.json"),
        ("Create", "collections/show.json"), ("Create", "collections/photos.json"), ("Create", "collection.json")])
    last_crawl = crawl_time_after(client)

    renamed = replace(CONTENT, documents=(DECREE, replace(PHOTO, label=Text("Ảnh Ba Đình", "Ba Dinh photograph"))))
    build(renamed, out)
    assert sorted(harvest(client, last_crawl)) == sorted([
        ("Update", "manifests/photo.json"), ("Update", "collections/show.json"), ("Update", "collections/photos.json")])

    build(renamed, out)  # nothing changed: nothing announced
    assert client.get("/iiif/discovery/collection.json").json["totalItems"] == 8

    without_decree = [output for output in plan_outputs(renamed, SIZES, URLS) if "decree" not in output.path]
    publish(without_decree, out, stream_url=URLS.activity_stream(), progress=False)
    newest = client.get("/iiif/discovery/collection.json").json
    assert newest["totalItems"] == 9
    assert harvest(client)[0] == ("Delete", "manifests/decree.json")
    # The whole stream, read backwards, is every build's changes, newest build first.
    assert len(harvest(client)) == 9 and newest["first"]["id"] == f"{BASE}/iiif/discovery/page-0.json"


def test_full_pages_do_not_change_when_later_builds_append(out: Path) -> None:
    build(CONTENT, out)
    first_page = (out / "discovery" / "page-0.json").read_bytes()
    build(replace(CONTENT, documents=(DECREE, replace(PHOTO, label=Text("Mới", "New")))), out)
    assert (out / "discovery" / "page-0.json").read_bytes() == first_page


def test_each_manifest_links_its_description_and_the_activity_carries_it(out: Path) -> None:
    build(CONTENT, out)
    client = create_platform_app(PlatformSettings(image_root=out, presentation_root=out)).test_client()
    manifest = client.get("/iiif/presentation/manifests/decree.json").json
    see_also = manifest["seeAlso"][0]
    # Change Discovery 1.0 §3.3 object seeAlso: a Dataset with format and profile.
    assert (see_also["type"], see_also["format"], see_also["profile"]) == (
        "Dataset", "application/ld+json", "https://schema.org/")
    description = client.get(see_also["id"].removeprefix(BASE))
    assert description.status_code == 200 and description.headers["Content-Type"] == "application/ld+json"
    assert description.json["@type"] == "ArchiveComponent"
    assert {"@language": "vi", "@value": "Sắc lệnh"} in description.json["name"]
    activities = [item for number in range(3)
                  for item in client.get(f"/iiif/discovery/page-{number}.json").json["orderedItems"]]
    decree = next(item for item in activities if item["object"]["id"] == manifest["id"])
    assert decree["object"]["seeAlso"] == manifest["seeAlso"]


@pytest.mark.parametrize("path", ["/iiif/discovery/../manifests/decree.json", "/iiif/discovery/page-99.json",
                                  "/iiif/discovery/.build-state.json", "/iiif/presentation/discovery/collection.json"])
def test_nothing_outside_the_stream_is_served_as_part_of_it(out: Path, path: str) -> None:
    build(CONTENT, out)
    client = create_platform_app(PlatformSettings(image_root=out, presentation_root=out)).test_client()
    assert client.get(path).status_code == 404


def test_a_crawl_just_before_a_build_never_misses_its_activities(out: Path) -> None:
    build(CONTENT, out)
    client = create_platform_app(PlatformSettings(image_root=out, presentation_root=out)).test_client()
    crawled_at = datetime.now(timezone.utc)  # the harvester reads the stream, then the build swaps in
    build(replace(CONTENT, documents=(DECREE, replace(PHOTO, label=Text("Mới", "New")))), out)
    # §3.3 endTime: the resource is available at or before it, so it is not before the crawl that missed it.
    assert ("Update", "manifests/photo.json") in harvest(client, crawled_at)
