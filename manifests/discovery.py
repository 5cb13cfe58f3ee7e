"""PURE: what a build changed -> IIIF Change Discovery API 1.0 activities, appended to the stream.

The stream is static files in the build's output (``discovery/collection.json`` and
``discovery/page-N.json``), published in the same atomic swap as the manifests they describe, so a
harvester never reads an activity whose resource is not there yet (spec §3.3 ``endTime``: the
resource MUST be available at or before it). Level 2 (§2.1.3): ``Create``, ``Update`` and ``Delete``
of Manifests and Collections, oldest first, newest last (§3.1).

A page holds ``page_size`` activities. Its items never change once it is full; its ``next`` link is
written when the following page begins (§3.2: every page but the last SHOULD have ``next``, and a
page MUST have at least one item, so the next page cannot exist before its first activity does).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

CONTEXT = "http://iiif.io/api/discovery/1/context.json"
MEDIA_TYPE = f'application/ld+json;profile="{CONTEXT}"'
FOLDER = "discovery"
COLLECTION_FILE = f"{FOLDER}/collection.json"
PAGE_SIZE = 100
# Only these are announced (§3.3 object: the type SHOULD be Collection or Manifest).
ANNOUNCED_TYPES = ("Manifest", "Collection")


class ActivityType(enum.Enum):
    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"


@dataclass(frozen=True)
class Change:
    """One published resource that a build created, changed or removed."""

    type: ActivityType
    object_id: str
    object_type: str
    see_also: tuple[dict, ...] = ()


def page_path(number: int) -> str:
    return f"{FOLDER}/page-{number}.json"


def find_changes(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> list[Change]:
    """Compare two builds' files (path -> bytes): new resources, changed bytes, and removed ones.

    A file rebuilt to the same bytes (a new builder version, say) is not a change (§2.1.3: changes
    that do not affect what users see MAY be omitted). Deletions come last, in path order, like the rest.
    """
    changes = []
    for path in sorted(after):
        if before.get(path) == after[path]:
            continue
        change_type = ActivityType.UPDATE if path in before else ActivityType.CREATE
        changes += _announced(change_type, after[path])
    for path in sorted(set(before) - set(after)):
        changes += _announced(ActivityType.DELETE, before[path])
    return changes


def _announced(change_type: ActivityType, data: bytes) -> list[Change]:
    try:
        resource = json.loads(data)
    except ValueError:
        return []
    if not isinstance(resource, dict) or resource.get("type") not in ANNOUNCED_TYPES:
        return []
    see_also = () if change_type is ActivityType.DELETE else tuple(resource.get("seeAlso", ()))
    return [Change(change_type, resource["id"], resource["type"], see_also)]


def activity_time(now: datetime, latest: str | None) -> str:
    """The ``endTime`` for a build's activities: xsd:dateTime in UTC, whole seconds (§3.3 endTime).

    At least a second after ``now``, so it is not before the swap that publishes them: a harvester
    that read the stream just before the swap has a ``lastCrawl`` before it and will not skip them
    (§3.5.2 step 4.1). Never before the newest activity already in the stream, whatever the clock did,
    so the list stays ordered (§3.2 orderedItems).
    """
    moment = (now.astimezone(timezone.utc) + timedelta(seconds=2)).replace(microsecond=0)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return max(stamp, latest) if latest else stamp


@dataclass(frozen=True)
class StreamEnd:
    """What appending needs of the published stream: its last page, that page's number, the item count."""

    last_page: dict
    last_number: int
    total_items: int

    @property
    def latest_end_time(self) -> str:
        return self.last_page["orderedItems"][-1]["endTime"]


def append_activities(
    end: StreamEnd | None, changes: Sequence[Change], end_time: str, stream_url: str, page_size: int = PAGE_SIZE
) -> dict[str, dict]:
    """The stream files to write (path -> JSON) after appending ``changes`` after ``end``.

    ``end`` is None for a stream not published yet; ``stream_url`` is the URL of the ``discovery``
    folder. Only the files that change are returned (the last page or pages, and the collection); with
    no changes, nothing.
    """
    if not changes:
        return {}
    if end is None:
        number, page, total = -1, None, 0
    else:
        number, total = end.last_number, end.total_items
        page = {**end.last_page, "orderedItems": list(end.last_page["orderedItems"])}
    files: dict[str, dict] = {}
    for change in changes:
        if page is None or len(page["orderedItems"]) >= page_size:
            if page is not None:
                files[page_path(number)] = {**{key: value for key, value in page.items() if key != "orderedItems"},
                                            "next": _page_reference(number + 1, stream_url),
                                            "orderedItems": page["orderedItems"]}
            number += 1
            page = _new_page(number, stream_url, start_index=total)
        page["orderedItems"].append(_activity(change, end_time))
        total += 1
    files[page_path(number)] = page
    files[COLLECTION_FILE] = {
        "@context": CONTEXT,
        "id": f"{stream_url}/collection.json",
        "type": "OrderedCollection",
        "totalItems": total,
        "first": _page_reference(0, stream_url),
        "last": _page_reference(number, stream_url),
    }
    return files


def _new_page(number: int, stream_url: str, start_index: int) -> dict:
    page = {
        "@context": CONTEXT,
        "id": f"{stream_url}/page-{number}.json",
        "type": "OrderedCollectionPage",
        "startIndex": start_index,
        "partOf": {"id": f"{stream_url}/collection.json", "type": "OrderedCollection"},
    }
    if number > 0:
        page["prev"] = _page_reference(number - 1, stream_url)
    page["orderedItems"] = []
    return page


def _page_reference(number: int, stream_url: str) -> dict:
    return {"id": f"{stream_url}/page-{number}.json", "type": "OrderedCollectionPage"}


def _activity(change: Change, end_time: str) -> dict:
    target: dict = {"id": change.object_id, "type": change.object_type}
    if change.see_also:
        target["seeAlso"] = list(change.see_also)
    return {"type": change.type.value, "object": target, "endTime": end_time}
