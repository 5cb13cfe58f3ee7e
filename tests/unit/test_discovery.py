"""PURE: build changes -> Change Discovery 1.0 activities and pages; ids quote the spec's sections."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from manifests.discovery import (
    COLLECTION_FILE,
    CONTEXT,
    ActivityType,
    Change,
    StreamEnd,
    activity_time,
    append_activities,
    find_changes,
    page_path,
)

STREAM = "https://iiif.archives.example.vn/iiif/discovery"
SEE_ALSO = {"id": "https://x.vn/d.json", "type": "Dataset", "format": "application/ld+json"}


def resource(kind: str, name: str, label: str = "a", **extra) -> bytes:
    return json.dumps({"id": f"https://x.vn/{name}.json", "type": kind, "label": label, **extra}).encode()


@pytest.mark.parametrize("before, after, expected", [
    ({}, {"m.json": resource("Manifest", "m")}, [(ActivityType.CREATE, "m", "Manifest")]),
    ({"m.json": resource("Manifest", "m")}, {"m.json": resource("Manifest", "m", "b")},
     [(ActivityType.UPDATE, "m", "Manifest")]),
    ({"m.json": resource("Manifest", "m")}, {"m.json": resource("Manifest", "m")}, []),
    ({"c.json": resource("Collection", "c")}, {}, [(ActivityType.DELETE, "c", "Collection")]),
    ({}, {"d.json": json.dumps({"@type": "ArchiveComponent", "@id": "https://x.vn/d"}).encode()}, []),
    ({}, {"x.json": b"not json"}, []),
    ({"b.json": resource("Manifest", "b")}, {"a.json": resource("Manifest", "a"), "c.json": resource("Collection", "c")},
     [(ActivityType.CREATE, "a", "Manifest"), (ActivityType.CREATE, "c", "Collection"),
      (ActivityType.DELETE, "b", "Manifest")]),
], ids=[
    "§2.1.3 Create: a resource new in this build",
    "§2.1.3 Update: its bytes changed",
    "§2.1.3 a rebuild to the same bytes MAY be omitted and is",
    "§2.1.3 Delete: no longer published",
    "§3.3 object: only IIIF Manifests and Collections are announced",
    "a file that is not JSON is no resource",
    "§2.1.2 deletions follow the creations of the same build",
])
def test_changes_between_two_builds(before, after, expected):
    found = find_changes(before, after)
    assert [(change.type, change.object_id.removeprefix("https://x.vn/").removesuffix(".json"), change.object_type)
            for change in found] == expected


def test_created_resource_carries_its_see_also_and_a_deleted_one_does_not():
    created = find_changes({}, {"m.json": resource("Manifest", "m", seeAlso=[SEE_ALSO])})
    deleted = find_changes({"m.json": resource("Manifest", "m", seeAlso=[SEE_ALSO])}, {})
    assert created[0].see_also == (SEE_ALSO,) and deleted[0].see_also == ()


@pytest.mark.parametrize("now, latest, expected", [
    (datetime(2026, 11, 30, 9, 0, 0, 1, tzinfo=timezone.utc), None, "2026-11-30T09:00:02Z"),
    (datetime(2026, 11, 30, 9, 0, 0, 999999, tzinfo=timezone.utc), None, "2026-11-30T09:00:02Z"),
    (datetime(2026, 11, 30, 9, 0, 0, tzinfo=timezone.utc), "2026-11-30T10:00:00Z", "2026-11-30T10:00:00Z"),
], ids=[
    "§3.3 endTime: UTC xsd:dateTime, at least a second after the build (not before it is available)",
    "§3.3 endTime: whole seconds, still at least a second later",
    "§3.2 orderedItems: never before the newest activity, whatever the clock did",
])
def test_activity_time(now, latest, expected):
    assert activity_time(now, latest) == expected


def changes(count: int) -> list[Change]:
    return [Change(ActivityType.CREATE, f"https://x.vn/m{number}.json", "Manifest") for number in range(count)]


def grow(steps: list[int], page_size: int) -> dict[str, dict]:
    """Every stream file after appending ``steps`` batches of changes, one batch per build."""
    files: dict[str, dict] = {}
    end = None
    for build, count in enumerate(steps):
        files |= append_activities(end, changes(count), f"2026-11-30T09:00:{build:02d}Z", STREAM, page_size)
        if files:
            last = files[COLLECTION_FILE]["last"]["id"].removeprefix(f"{STREAM}/")
            number = int(last.removeprefix("page-").removesuffix(".json"))
            end = StreamEnd(files[f"discovery/{last}"], number, files[COLLECTION_FILE]["totalItems"])
    return files


def test_first_activities_make_the_collection_and_its_only_page():
    files = grow([2], page_size=3)
    collection, page = files[COLLECTION_FILE], files[page_path(0)]
    # §2.3 / §3.1: OrderedCollection with first and last (REQUIRED), totalItems; §3.4.1 @context first.
    assert list(collection)[0] == "@context" and collection["@context"] == CONTEXT
    assert collection == {"@context": CONTEXT, "id": f"{STREAM}/collection.json", "type": "OrderedCollection",
                          "totalItems": 2, "first": {"id": f"{STREAM}/page-0.json", "type": "OrderedCollectionPage"},
                          "last": {"id": f"{STREAM}/page-0.json", "type": "OrderedCollectionPage"}}
    # §3.2: the first page has no prev; the last page no next; partOf and startIndex.
    assert page["type"] == "OrderedCollectionPage" and "prev" not in page and "next" not in page
    assert page["partOf"] == {"id": f"{STREAM}/collection.json", "type": "OrderedCollection"}
    assert page["startIndex"] == 0
    assert page["orderedItems"][0] == {"type": "Create", "object": {"id": "https://x.vn/m0.json", "type": "Manifest"},
                                       "endTime": "2026-11-30T09:00:00Z"}


def test_a_full_page_gets_next_when_the_following_page_begins_and_its_items_never_change():
    first_builds = grow([3], page_size=3)
    assert "next" not in first_builds[page_path(0)]  # §3.2 next: not on the last page
    files = grow([3, 1, 4], page_size=3)
    assert [len(files[page_path(number)]["orderedItems"]) for number in range(3)] == [3, 3, 2]
    assert files[page_path(0)]["orderedItems"] == first_builds[page_path(0)]["orderedItems"]
    # §3.2 prev MUST (all but the first), next SHOULD (all but the last), startIndex counts across pages.
    assert [files[page_path(n)].get("prev", {}).get("id") for n in range(3)] == [
        None, f"{STREAM}/page-0.json", f"{STREAM}/page-1.json"]
    assert [files[page_path(n)].get("next", {}).get("id") for n in range(3)] == [
        f"{STREAM}/page-1.json", f"{STREAM}/page-2.json", None]
    assert [files[page_path(n)]["startIndex"] for n in range(3)] == [0, 3, 6]
    assert files[COLLECTION_FILE]["totalItems"] == 8
    assert files[COLLECTION_FILE]["last"]["id"] == f"{STREAM}/page-2.json"


def test_only_the_files_that_change_are_returned():
    end = StreamEnd({"id": f"{STREAM}/page-4.json", "orderedItems": [{"endTime": "x"}] * 3}, 4, 15)
    files = append_activities(end, changes(1), "2026-11-30T09:00:00Z", STREAM, page_size=3)
    assert sorted(files) == [COLLECTION_FILE, page_path(4), page_path(5)]
    assert files[page_path(5)]["startIndex"] == 15 and files[COLLECTION_FILE]["totalItems"] == 16
    assert append_activities(end, [], "2026-11-30T09:00:00Z", STREAM) == {}


def test_items_within_a_page_are_oldest_first():
    files = grow([1, 1], page_size=5)
    times = [item["endTime"] for item in files[page_path(0)]["orderedItems"]]
    assert times == sorted(times) and len(set(times)) == 2  # §3.2 orderedItems: earliest to most recent
