"""Planned outputs -> validated JSON files, published atomically.

Every resource is checked against the IIIF Presentation 3.0 JSON Schema before anything is written.
The files are written to a temporary folder next to the output folder, which then takes the output
folder's place in one rename: a failed build leaves the previous output exactly as it was. A state
file records what each output was made from, so unchanged outputs are copied instead of rebuilt.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import jsonschema
from tqdm import tqdm

import manifests.annotations
import manifests.build
import manifests.content_search
import manifests.describe
import manifests.search_index
import manifests.search_query
from iiif_server.access.rules import parse_rules_file
from iiif_server.settings import SettingsError
from manifests.build import AccessRulesFile, PlannedOutput
from manifests.discovery import FOLDER as STREAM_FOLDER
from manifests.discovery import Change, StreamEnd, activity_time, append_activities, find_changes
from manifests.pagetext import PageText
from manifests.search_index import INDEX_FILE, searchable_documents, write_index

SCHEMA_ENV = "PRESENTATION_SCHEMA"
# A copy of the IIIF presentation validator's schema ships with the package, so a build on an
# archive's server needs nothing else; tests prove it equals the copy in ../shared/schemas/.
DEFAULT_SCHEMA = Path(__file__).resolve().parent / "schemas" / "iiif-presentation-3.0.json"
STATE_FILE = ".build-state.json"
RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths in one step
AT_FDCWD = -100
# Keys first in every written file, so a person opening one sees what it is at once.
LEADING_KEYS = ("@context", "id", "type", "label")


class BuildError(Exception):
    """The build cannot be published; ``str()`` has one line per reason."""


@dataclass(frozen=True)
class PublishReport:
    built: tuple[str, ...]
    reused: tuple[str, ...]
    removed: tuple[str, ...]
    written: bool

    @property
    def changed(self) -> bool:
        return bool(self.built or self.removed)


def schema_path() -> Path:
    configured = os.environ.get(SCHEMA_ENV)
    path = Path(configured) if configured else DEFAULT_SCHEMA
    if not path.is_file():
        raise BuildError(f"the IIIF Presentation 3.0 schema is not at {path}; set {SCHEMA_ENV} to its path")
    return path


@functools.cache
def _validators(path: Path) -> dict[str, jsonschema.Draft7Validator]:
    schema = json.loads(path.read_text(encoding="utf-8"))
    # The schema's root accepts any of five classes; checking against the one we mean gives errors
    # that name the actual field instead of "not valid under any of the given schemas".
    return {kind: jsonschema.Draft7Validator({**schema, "oneOf": [{"$ref": f"#/classes/{kind[0].lower()}{kind[1:]}"}]})
            for kind in ("Manifest", "Collection", "AnnotationPage")}


def schema_errors(document: dict) -> list[str]:
    """Presentation 3.0 schema violations of one resource, most specific first, one line each."""
    validator = _validators(schema_path())[document.get("type", "Manifest")]
    lines = []
    for error in validator.iter_errors(document):
        deepest = jsonschema.exceptions.best_match([error])
        while deepest.context:
            deepest = jsonschema.exceptions.best_match(deepest.context)
        where = "/".join(map(str, deepest.absolute_path)) or "(top)"
        lines.append(f"{where}: {deepest.message}")
    return lines


def rules_file_errors(data: bytes, path: str) -> list[str]:
    """What the image server would refuse in the access rules file, as it reads it at start."""
    try:
        parse_rules_file(data.decode("utf-8"), path)
    except SettingsError as error:
        return [str(error)]
    return []


def builder_version() -> str:
    """Changes whenever the code that turns content into JSON changes, so outputs are rebuilt then."""
    digest = hashlib.sha256(Path(manifests.build.__file__).read_bytes())
    # The pure builders build.py calls: a change to any of them changes what is written.
    for builder in (manifests.describe, manifests.annotations, manifests.content_search):
        digest.update(Path(builder.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())  # key order and layout of the written JSON
    digest.update(metadata.version("iiif-prezi3").encode())
    return digest.hexdigest()[:16]


def input_digest(output: PlannedOutput, version: str) -> str:
    return hashlib.sha256(f"{version}\x1f{output.inputs}".encode()).hexdigest()


def render_json(resource: object) -> tuple[dict, bytes]:
    document = resource if isinstance(resource, dict) else json.loads(resource.json())  # type: ignore[attr-defined]
    ordered = {key: document[key] for key in LEADING_KEYS if key in document}
    ordered.update(document)
    return ordered, json_bytes(ordered)


def json_bytes(document: dict) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def publish(
    outputs: Sequence[PlannedOutput], out_dir: Path, *, stream_url: str, check_only: bool = False,
    progress: bool | None = None, page_texts: Mapping[str, Sequence[PageText | None]] | None = None,
) -> PublishReport:
    """Build what changed, validate everything built, then swap it into ``out_dir`` in one step.

    What changed is appended to the Change Discovery stream at ``stream_url`` (published in the same
    swap). ``check_only`` validates and writes nothing. ``progress`` None shows a bar only on a terminal.
    ``page_texts`` (document id -> one entry per page, None for a page without text) are indexed
    for search into the same folder (``search.sqlite``), reused while the texts are unchanged.
    """
    _check_unique_paths(outputs)
    version = builder_version()
    previous = _read_state(out_dir)
    contents: dict[str, bytes] = {}
    built, reused, problems = [], [], []
    for output in tqdm(outputs, desc="building", unit="file", disable=None if progress is None else not progress):
        digest = input_digest(output, version)
        old_file = out_dir / output.path
        if not check_only and previous.get(output.path) == digest and old_file.is_file():
            contents[output.path] = old_file.read_bytes()
            reused.append(output.path)
            continue
        made = output.make()
        if isinstance(made, bytes):
            data = made  # not IIIF: a stored page text, an ALTO copy
        elif isinstance(made, AccessRulesFile):
            data = made.json().encode("utf-8")
            problems += rules_file_errors(data, output.path)
        else:
            document, data = render_json(made)
            if not isinstance(made, dict):  # a description is not a IIIF resource
                problems += [f"{output.path}: {line}" for line in schema_errors(document)]
        contents[output.path] = data
        built.append(output.path)
    if problems:
        raise BuildError("\n".join(["output does not match the IIIF Presentation 3.0 schema:", *problems]))
    state = {output.path: input_digest(output, version) for output in outputs}
    write_search_index = None
    if searchable_documents(page_texts or {}):
        state[INDEX_FILE] = _page_texts_digest(page_texts)
        old_index = out_dir / INDEX_FILE
        if previous.get(INDEX_FILE) == state[INDEX_FILE] and old_index.is_file():
            reused.append(INDEX_FILE)
            write_search_index = functools.partial(_copy_into, old_index)
        else:
            built.append(INDEX_FILE)
            write_search_index = functools.partial(write_index, page_texts)
    removed = tuple(sorted(set(previous) - set(state)))
    if check_only or (not built and not removed and out_dir.is_dir()):
        return PublishReport(tuple(built), tuple(reused), removed, written=False)
    changed = {path for path in (*built, *removed) if path.endswith(".json")}  # what may be a IIIF resource
    before = {path: (out_dir / path).read_bytes() for path in changed if (out_dir / path).is_file()}
    changes = find_changes(before, {path: contents[path] for path in built if path in contents})
    _replace_folder(out_dir, contents, state, lambda: _stream_files(out_dir, changes, stream_url),
                    write_search_index)
    return PublishReport(tuple(built), tuple(reused), removed, written=True)


def _check_unique_paths(outputs: Iterable[PlannedOutput]) -> None:
    seen: set[str] = set()
    for output in outputs:
        if output.path in seen:
            raise BuildError(f"two resources would be written to {output.path}; give them different ids")
        seen.add(output.path)


def _read_state(out_dir: Path) -> dict[str, str]:
    try:
        state = json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def _stream_files(out_dir: Path, changes: list[Change], stream_url: str) -> dict[str, bytes]:
    """The Change Discovery stream after this build: its earlier files as they are, plus what changes."""
    folder = out_dir / STREAM_FOLDER
    published = {f"{STREAM_FOLDER}/{path.name}": path.read_bytes() for path in folder.glob("*.json")}
    end = _stream_end(folder)
    end_time = activity_time(datetime.now(timezone.utc), end.latest_end_time if end else None)
    appended = append_activities(end, changes, end_time, stream_url)
    return published | {path: json_bytes(document) for path, document in appended.items()}


def _stream_end(folder: Path) -> StreamEnd | None:
    numbers = [int(match.group(1)) for path in folder.glob("page-*.json")
               if (match := re.fullmatch(r"page-(\d+)\.json", path.name))]
    if not numbers:
        return None
    collection = json.loads((folder / "collection.json").read_text(encoding="utf-8"))
    last_page = json.loads((folder / f"page-{max(numbers)}.json").read_text(encoding="utf-8"))
    return StreamEnd(last_page, max(numbers), collection["totalItems"])


def _page_texts_digest(page_texts: Mapping[str, Sequence[PageText | None]]) -> str:
    """Changes with the texts and with the code that indexes them."""
    digest = hashlib.sha256(Path(manifests.search_index.__file__).read_bytes())
    digest.update(Path(manifests.search_query.__file__).read_bytes())
    for document, pages in sorted(page_texts.items()):
        digest.update(json.dumps([document, [page and page.to_json() for page in pages]], sort_keys=True).encode())
    return digest.hexdigest()


def _copy_into(file: Path, folder: Path) -> None:
    shutil.copy2(file, folder / file.name)


def _replace_folder(out_dir: Path, contents: dict[str, bytes], state: dict[str, str],
                    last_files: Callable[[], dict[str, bytes]],
                    write_search_index: Callable[[Path], object] | None = None) -> None:
    """Write ``contents``, the search index and the state to a staging folder, then ``last_files()``
    (made as late as possible: the discovery stream's times must not be before the swap), then swap it in."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for relative, data in contents.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if write_search_index is not None:
            staging.mkdir(parents=True, exist_ok=True)
            write_search_index(staging)
        (staging / STATE_FILE).write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        _sync_tree(staging)
        for relative, data in last_files().items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            with open(target, "rb") as handle:
                os.fsync(handle.fileno())
        if out_dir.is_dir():
            _swap(staging, out_dir)
        else:
            os.rename(staging, out_dir)
    finally:
        # After a swap the staging path holds the previous output.
        shutil.rmtree(staging, ignore_errors=True)


def _sync_tree(folder: Path) -> None:
    """Flush the new files to disk before they replace the old ones (a crash must not leave empty files)."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _swap(staging: Path, out_dir: Path) -> None:
    """Exchange the two folders atomically (Linux renameat2); elsewhere, two quick renames."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None and renameat2(AT_FDCWD, os.fsencode(staging), AT_FDCWD, os.fsencode(out_dir),
                                           RENAME_EXCHANGE) == 0:
        return
    parked = out_dir.with_name(f".{out_dir.name}.previous-{os.getpid()}")
    os.rename(out_dir, parked)
    os.rename(staging, out_dir)
    os.rename(parked, staging)
