"""Curator files -> Content. Every mistake becomes a Problem that names file, line and field.

Reading keeps YAML line numbers (PyYAML's composed nodes carry marks), checks each file against its
JSON Schema in ``manifests/schemas/`` and then checks what a schema cannot: rights URIs, page spans,
references between files. All problems of all files are collected before ContentError is raised, so
curators see every gap at once.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import referencing
import yaml

from iiif_server.access.base import AccessLevel
from manifests.model import (
    Behavior,
    Content,
    CoverImage,
    Document,
    DocumentAccess,
    Exhibition,
    ExhibitionItem,
    MetadataEntry,
    Origin,
    Page,
    Provider,
    Region,
    Section,
    Text,
    ThematicSection,
    TopCollection,
    ViewingDirection,
)
from manifests.rights import rights_problem
from manifests.watch import FileState, state_to_keep

SCHEMA_DIR = Path(__file__).parent / "schemas"
YAML_SUFFIXES = (".yml", ".yaml")
LANGUAGE_NAMES = {"vi": "Vietnamese", "en": "English"}
TYPE_NAMES = {
    "object": "a group of fields (name: value lines)",
    "array": "a list (lines starting with '- ')",
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}
# The top collection when content/collections.yml is absent: every exhibition, in file-name order.
DERIVED_TOP_LABEL = Text(vi="Triển lãm", en="Exhibitions")
DERIVED_TOP_SUMMARY = Text(vi="Các triển lãm tài liệu lưu trữ.", en="Exhibitions of archival documents.")

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    origin: Origin
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.field}: {self.message}" if self.field else f"{self.origin}: {self.message}"


class ContentError(Exception):
    """One or more curator mistakes; ``str()`` gives one line per problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def describe_field(path: FieldPath) -> str:
    """('pages', 2, 'image') -> 'pages > item 3 > image': list positions counted from 1, as curators do."""
    return " > ".join(f"item {part + 1}" if isinstance(part, int) else part for part in path)


@dataclass(frozen=True)
class CuratorFile:
    """One parsed YAML file and the line of every field in it."""

    path: Path
    data: object
    lines: Mapping[FieldPath, int]

    def origin(self, field_path: FieldPath) -> Origin:
        """The line of the field, or of the nearest enclosing field that exists."""
        for end in range(len(field_path), -1, -1):
            line = self.lines.get(field_path[:end])
            if line is not None:
                return Origin(self.path, line)
        return Origin(self.path, 1)

    def problem(self, field_path: FieldPath, message: str) -> Problem:
        return Problem(self.origin(field_path), describe_field(field_path), message)


def read_curator_file(path: Path) -> CuratorFile:
    """Parse one YAML file keeping line numbers; raises ContentError for syntax errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        message = f"not UTF-8 text ({error.reason}); save it as UTF-8"
        raise ContentError([Problem(Origin(path, 1), "", message)]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        what = error.problem or error.context or "cannot be read"
        hint = "check the indentation and quotes here and on the line before"
        raise ContentError([Problem(Origin(path, line), "", f"YAML syntax error: {what} ({hint})")]) from None
    except yaml.YAMLError as error:
        raise ContentError([Problem(Origin(path, 1), "", f"YAML syntax error: {error}")]) from None
    if node is None:
        raise ContentError([Problem(Origin(path, 1), "", "the file is empty")])
    lines: dict[FieldPath, int] = {(): node.start_mark.line + 1}
    problems: list[Problem] = []
    data = _plain_value(node, (), lines, problems, path)
    if problems:
        raise ContentError(problems)
    return CuratorFile(path, data, lines)


def _plain_value(
    node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int], problems: list[Problem], file: Path
) -> object:
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key is None:
                problems.append(Problem(Origin(file, line), describe_field(path), "a field name must be plain text"))
                continue
            if key in mapping:
                first = lines[path + (key,)]
                problems.append(Problem(Origin(file, line), describe_field(path + (key,)),
                                        f"written twice (first on line {first}); keep one"))
                continue
            lines[path + (key,)] = line
            mapping[key] = _plain_value(value_node, path + (key,), lines, problems, file)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item_node in enumerate(node.value):
            lines[path + (index,)] = item_node.start_mark.line + 1
            items.append(_plain_value(item_node, path + (index,), lines, problems, file))
        return items
    if node.tag in _CONSTRUCTED_TAGS:
        return yaml.constructor.SafeConstructor().construct_object(node)
    # Dates stay text (the schema and the loader read them); everything else is text as written.
    return unicodedata.normalize("NFC", str(node.value))


_CONSTRUCTED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null")}


@functools.cache
def _schema_validator(schema_name: str) -> jsonschema.Draft7Validator:
    resources = []
    for schema_path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = json.loads(schema_path.read_text(encoding="utf-8"))
        resources.append((schema_path.name, referencing.jsonschema.DRAFT7.create_resource(contents)))
    registry = referencing.Registry().with_resources(resources)
    schema = json.loads((SCHEMA_DIR / schema_name).read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, registry=registry)


def check_schema(curator_file: CuratorFile, schema_name: str) -> CheckedFile:
    """Every schema violation of the file, each as a plain-words Problem, and the fields they are about."""
    validator = _schema_validator(schema_name)
    problems, faults = [], []
    for error in sorted(validator.iter_errors(curator_file.data), key=lambda e: list(map(str, e.absolute_path))):
        for field_path, message in _explain(error):
            problems.append(curator_file.problem(field_path, message))
        faults += _faulty_fields(error)
    return CheckedFile(curator_file, tuple(sorted(problems, key=lambda problem: problem.origin.line)), tuple(faults))


def _faulty_fields(error: jsonschema.ValidationError) -> list[FieldPath]:
    """The fields an error is about: a missing or unknown field itself, not the group holding it, so
    that the group's other fields can still be checked."""
    path: FieldPath = tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        return [path + (name,) for name in error.validator_value if name not in error.instance]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        return [path + (name,) for name in error.instance if name not in known]
    return [path]


@dataclass(frozen=True)
class CheckedFile:
    """A parsed curator file, its schema problems and the fields they are about."""

    file: CuratorFile
    problems: tuple[Problem, ...]
    faults: tuple[FieldPath, ...]

    def sound(self, field_path: FieldPath) -> bool:
        """The schema found nothing wrong at, around or inside this field: it can be checked further."""
        return not any(fault[: len(field_path)] == field_path or field_path[: len(fault)] == fault
                       for fault in self.faults)


def _explain(error: jsonschema.ValidationError) -> Iterator[tuple[FieldPath, str]]:
    path: FieldPath = tuple(error.absolute_path)
    instance, schema, keyword = error.instance, error.schema, error.validator
    if keyword == "required":
        for name in error.validator_value:
            if isinstance(instance, dict) and name not in instance:
                if name in LANGUAGE_NAMES:
                    yield path, f"missing the {LANGUAGE_NAMES[name]} ({name}) translation"
                else:
                    yield path, f"missing the field '{name}'"
    elif keyword == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        for name in sorted(set(instance) - set(known)):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(known)}"
            yield path + (name,), f"unknown field; {hint}"
    elif keyword == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        yield path, f"should be {' or '.join(TYPE_NAMES.get(name, name) for name in wanted)}, not {instance!r}"
    elif keyword == "enum":
        yield path, f"{instance!r} is not allowed; use one of: {', '.join(map(str, error.validator_value))}"
    elif keyword == "pattern" and path and path[-1] in LANGUAGE_NAMES:
        yield path, f"the {LANGUAGE_NAMES[path[-1]]} ({path[-1]}) translation is empty"
    elif keyword == "pattern":
        yield path, f"{instance!r} is not in the expected form: {schema.get('description', error.message)}"
    elif keyword == "minItems":
        yield path, f"needs at least {error.validator_value} entr{'y' if error.validator_value == 1 else 'ies'}"
    elif keyword == "maxItems":
        yield path, f"has more than {error.validator_value} entries"
    elif keyword == "minimum":
        yield path, f"must be at least {error.validator_value}, not {instance!r}"
    else:
        yield path, error.message


class CheckedFiles:
    """Curator files read and checked against their schema, each kept until it changes on disk.

    A server that reloads the content folder when one file was edited re-reads that file only.
    Thread-safe.
    """

    def __init__(self) -> None:
        self._kept: dict[tuple[Path, str], tuple[FileState, CheckedFile | ContentError]] = {}
        self._lock = threading.Lock()

    def check(self, path: Path, schema_name: str) -> CheckedFile:
        """The parsed file and its schema problems; raises ContentError when it cannot be parsed."""
        state = FileState.of(path)  # before reading: a change made meanwhile shows next time
        with self._lock:
            kept = self._kept.get((path, schema_name))
        if kept is None or kept[0] != state:
            try:
                kept = (state_to_keep(state), check_schema(read_curator_file(path), schema_name))
            except ContentError as error:
                kept = (state_to_keep(state), error)
            with self._lock:
                self._kept[(path, schema_name)] = kept
        if isinstance(kept[1], ContentError):
            raise kept[1].with_traceback(None)
        return kept[1]


def content_paths(content_dir: Path) -> list[Path]:
    """Every folder and file ``load_content`` reads, folders first: what to watch for changes."""
    folders = [content_dir, content_dir / "documents", content_dir / "exhibitions"]
    files = [path for folder in folders[1:] if folder.is_dir() for path in sorted(folder.iterdir())
             if path.suffix in YAML_SUFFIXES]
    return folders + files + [content_dir / f"collections{suffix}" for suffix in YAML_SUFFIXES]


@dataclass(frozen=True)
class ImageReference:
    """A master named in a curator file: where, and in which field."""

    identifier: str
    origin: Origin
    field: str


@dataclass(frozen=True)
class ContentReading:
    """One pass over the content folder: what loaded, every problem found, every image named.

    Files with problems still have the fields the schema accepted checked, and their images named,
    so that a build can report every problem at once rather than one kind per run.
    """

    documents: tuple[Document, ...]  # the documents and exhibitions that loaded without a problem
    exhibitions: tuple[Exhibition, ...]
    top: TopCollection | None
    image_references: tuple[ImageReference, ...]
    problems: tuple[Problem, ...]

    @property
    def content(self) -> Content:
        """The whole content; raises ContentError listing every problem if there are any."""
        if self.problems or self.top is None:
            raise ContentError(self.problems)
        return Content(self.documents, self.exhibitions, self.top)


def load_content(content_dir: Path, files: CheckedFiles | None = None) -> Content:
    """Read ``documents/*.yml``, ``exhibitions/*.yml`` and ``collections.yml`` below ``content_dir``.

    Raises ContentError listing every problem of every file. Image identifiers are only checked for
    form here; ``manifests.images.check_content`` checks them against an image root. ``files``
    keeps unchanged files from an earlier load instead of reading them again.
    """
    return read_content(content_dir, files).content


def read_content(content_dir: Path, files: CheckedFiles | None = None) -> ContentReading:
    """``load_content`` without raising: what loaded, the problems and the images named."""
    files = CheckedFiles() if files is None else files
    if not content_dir.is_dir():
        problem = Problem(Origin(content_dir, 1), "", "the content folder does not exist")
        return ContentReading((), (), None, (), (problem,))
    problems: list[Problem] = []
    references: list[ImageReference] = []
    # Ids of files that have problems of their own: references to them are not reported again.
    broken_ids: set[str] = set()
    documents: dict[str, Document] = {}
    for checked in _read_folder(content_dir / "documents", "document.schema.json", files, problems):
        references += _image_references(checked, [("pages", index, "image") for index in _indexes(checked, "pages")])
        document = _document(checked, problems)
        if document is None:
            broken_ids |= _file_id(checked)
            continue
        if document.id in documents:
            first = documents[document.id].source
            problems.append(checked.file.problem(("id",), f"'{document.id}' is already used by {first}"))
            continue
        documents[document.id] = document
    problems += _access_conflicts(documents.values())
    exhibitions: dict[str, Exhibition] = {}
    for checked in _read_folder(content_dir / "exhibitions", "exhibition.schema.json", files, problems):
        references += _image_references(checked, [("cover",)])
        exhibition = _exhibition(checked, documents, broken_ids, problems)
        if exhibition is None:
            broken_ids |= _file_id(checked)
            continue
        if exhibition.id in exhibitions:
            first = exhibitions[exhibition.id].source
            problems.append(checked.file.problem(("id",), f"'{exhibition.id}' is already used by {first}"))
            continue
        exhibitions[exhibition.id] = exhibition
    top = _top_collection(content_dir, documents, exhibitions, files, broken_ids, problems)
    return ContentReading(tuple(documents.values()), tuple(exhibitions.values()), top, tuple(references),
                          tuple(problems))


def _access_conflicts(documents: Iterable[Document]) -> list[Problem]:
    """An image shown by two documents whose ``access:`` differ: the server could apply only one."""
    governing: dict[str, Document] = {}
    problems = []
    for document in documents:
        if document.access is None:
            continue
        for page in document.pages:
            first = governing.setdefault(page.image, document)
            if first.access != document.access:
                problems.append(Problem(document.access.origin, "access", (
                    f"image '{page.image}' is also in {first.source} with access '{first.access.level.value}'"
                    f"{_groups_text(first.access.groups)}; give both documents the same access")))
                break
    return problems


def _groups_text(groups: tuple[str, ...]) -> str:
    return f" for {', '.join(groups)}" if groups else ""


def _read_folder(folder: Path, schema_name: str, files: CheckedFiles, problems: list[Problem]) -> Iterator[CheckedFile]:
    """The folder's YAML files that parse, checked against the schema; problems go to ``problems``."""
    if not folder.is_dir():
        return
    for path in sorted(p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file()):
        checked = _read_checked(path, schema_name, files, problems)
        if checked is not None:
            yield checked


def _read_checked(path: Path, schema_name: str, files: CheckedFiles, problems: list[Problem]) -> CheckedFile | None:
    """The parsed file, its schema problems added to ``problems``; None when it does not parse or is
    not a group of fields at all (nothing in it can be checked further)."""
    try:
        checked = files.check(path, schema_name)
    except ContentError as error:
        problems.extend(error.problems)
        return None
    problems.extend(checked.problems)
    return checked if isinstance(checked.file.data, dict) else None


def _file_id(checked: CheckedFile) -> set[str]:
    return {checked.file.data["id"]} if checked.sound(("id",)) else set()


def _indexes(checked: CheckedFile, field: str) -> range:
    """Positions of a list field, whatever the schema said about its entries (none if not a list)."""
    value = checked.file.data.get(field)
    return range(len(value)) if isinstance(value, list) else range(0)


def _value(checked: CheckedFile, field_path: FieldPath) -> object:
    data = checked.file.data
    for part in field_path:
        data = data[part]
    return data


def _image_references(checked: CheckedFile, field_paths: list[FieldPath]) -> list[ImageReference]:
    """The images named in these fields, where the schema accepted the field."""
    return [ImageReference(_value(checked, path), checked.file.origin(path), describe_field(path))
            for path in field_paths if checked.sound(path)]


def _text(value: Mapping[str, object]) -> Text:
    # Numbers are text too: a year written as `en: 1873` must not need quotes.
    return Text(vi=str(value["vi"]).strip(), en=str(value["en"]).strip())


def _nav_date(curator_file: CuratorFile, field_path: FieldPath, problems: list[Problem]) -> str | None:
    """A curator's date or date-time -> the UTC xsd:dateTime IIIF asks for (Presentation 3.0 §3.3.2)."""
    data = curator_file.data
    for part in field_path:
        data = data.get(part) if isinstance(data, dict) else None
    if data is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(data))
    except ValueError:
        problems.append(curator_file.problem(field_path, f"{data!r} is not a real date"))
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _document(checked: CheckedFile, problems: list[Problem]) -> Document | None:
    """The document, or None when its file has a problem. Each check runs on the fields the schema
    accepted, so a file with schema problems still has its other mistakes reported."""
    curator_file, data = checked.file, checked.file.data
    before = len(problems)
    if checked.sound(("rights",)) and (rights_message := rights_problem(data["rights"])):
        problems.append(curator_file.problem(("rights",), rights_message))
    behavior = tuple(Behavior(name) for name in data.get("behavior", ())) if checked.sound(("behavior",)) else ()
    if {Behavior.PAGED, Behavior.INDIVIDUALS} <= set(behavior):
        problems.append(curator_file.problem(("behavior",), "'paged' and 'individuals' cannot be combined; keep one"))
    page_count = len(data["pages"]) if isinstance(data.get("pages"), list) else None
    start = data.get("start") if checked.sound(("start",)) else None
    if start is not None and page_count is not None and start > page_count:
        problems.append(curator_file.problem(
            ("start",), f"page {start} does not exist; the document has {_pages(page_count)}"))
    contents: tuple[Section, ...] = ()
    if checked.sound(("contents",)) and page_count is not None:
        contents = _sections(curator_file, data.get("contents", []), ("contents",), page_count, problems)
    nav_date = _nav_date(curator_file, ("navDate",), problems) if checked.sound(("navDate",)) else None
    if checked.sound(("access",)) and data.get("access", {}).get("level") == "public" and "groups" in data["access"]:
        problems.append(curator_file.problem(
            ("access", "groups"), "a public document is open to everyone; remove 'groups' or choose another level"))
    if checked.problems or len(problems) > before:
        return None
    pages = tuple(
        Page(page["image"], _text(page["label"]) if "label" in page else None, curator_file.origin(("pages", index)))
        for index, page in enumerate(data["pages"])
    )
    provider = data["provider"]
    return Document(
        id=data["id"],
        label=_text(data["label"]),
        summary=_text(data["summary"]),
        metadata=tuple(
            MetadataEntry(_text(entry["label"]), _text(entry["value"])) for entry in data.get("metadata", [])
        ),
        rights=data["rights"],
        attribution=_text(data["attribution"]),
        provider=Provider(
            id=provider.get("id", provider["homepage"]),
            label=_text(provider["label"]),
            homepage=provider["homepage"],
            logo=provider.get("logo"),
        ),
        pages=pages,
        contents=contents,
        nav_date=nav_date,
        behavior=behavior,
        viewing_direction=ViewingDirection(data.get("viewingDirection", ViewingDirection.LEFT_TO_RIGHT.value)),
        start_page=None if start is None else start - 1,
        homepage=data.get("homepage"),
        access=_access(curator_file, data["access"]) if "access" in data else None,
        source=curator_file.path,
    )


def _access(curator_file: CuratorFile, access: Mapping[str, object]) -> DocumentAccess:
    groups = access.get("groups", [])
    assert isinstance(groups, list)  # the schema holds
    level = AccessLevel(access["level"])
    return DocumentAccess(level, tuple(sorted(set(map(str, groups)))), curator_file.origin(("access",)))


_PAGE_SPAN = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def _sections(
    curator_file: CuratorFile, entries: list[dict], path: FieldPath, page_count: int, problems: list[Problem]
) -> tuple[Section, ...]:
    sections = []
    for index, entry in enumerate(entries):
        entry_path = path + (index,)
        page_indexes: tuple[int, ...] = ()
        if "pages" in entry:
            span = _PAGE_SPAN.match(str(entry["pages"]))
            assert span is not None  # the schema's pattern already holds
            first, last = int(span[1]), int(span[2] or span[1])
            span_path = entry_path + ("pages",)
            if first < 1 or first > last:
                message = f"bad page span '{entry['pages']}': write first-last, e.g. 1-3"
                problems.append(curator_file.problem(span_path, message))
            elif last > page_count:
                message = f"page {last} does not exist; the document has {_pages(page_count)}"
                problems.append(curator_file.problem(span_path, message))
            else:
                page_indexes = tuple(range(first - 1, last))
        children = _sections(curator_file, entry.get("sections", []), entry_path + ("sections",), page_count, problems)
        if "pages" not in entry and not children:
            problems.append(curator_file.problem(entry_path, "a section needs 'pages', 'sections' or both"))
        sections.append(Section(_text(entry["label"]), page_indexes, children))
    return tuple(sections)


def _exhibition(
    checked: CheckedFile, documents: Mapping[str, Document], broken_ids: set[str], problems: list[Problem]
) -> Exhibition | None:
    """The exhibition, or None when its file has a problem; checks run on the fields the schema accepted."""
    curator_file, data = checked.file, checked.file.data
    before = len(problems)
    items = []
    for index in _indexes(checked, "items"):
        item_path = ("items", index)
        if not checked.sound(item_path + ("document",)):
            continue
        item = data["items"][index]
        document = documents.get(item["document"])
        if document is None:
            if item["document"] not in broken_ids:
                problems.append(curator_file.problem(item_path + ("document",),
                                                     _unknown("document", item["document"], documents)))
            continue
        if not checked.sound(item_path + ("page",)):
            continue
        page = item.get("page", 1)
        if page > len(document.pages):
            message = f"page {page} does not exist; '{document.id}' has {_pages(len(document.pages))}"
            problems.append(curator_file.problem(item_path + ("page",), message))
            continue
        region = None
        if "region" in item and checked.sound(item_path + ("region",)):
            region = Region(*item["region"])
            if region.width == 0 or region.height == 0:
                problems.append(curator_file.problem(item_path + ("region",), "width and height must be more than 0"))
                continue
        if checked.sound(item_path):
            narrative = _text(item["narrative"]) if "narrative" in item else None
            items.append(ExhibitionItem(document.id, page - 1, region, _text(item["caption"]), narrative,
                                        curator_file.origin(item_path)))
    nav_date = _nav_date(curator_file, ("navDate",), problems) if checked.sound(("navDate",)) else None
    if checked.problems or len(problems) > before:
        return None
    return Exhibition(
        id=data["id"],
        title=_text(data["title"]),
        introduction=_text(data["introduction"]),
        cover=CoverImage(data["cover"], curator_file.origin(("cover",))),
        items=tuple(items),
        nav_date=nav_date,
        source=curator_file.path,
    )


def _unknown(kind: str, name: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"no {kind} with id '{name}'{hint}"


def _top_collection(
    content_dir: Path,
    documents: Mapping[str, Document],
    exhibitions: Mapping[str, Exhibition],
    files: CheckedFiles,
    broken_ids: set[str],
    problems: list[Problem],
) -> TopCollection | None:
    path = next((content_dir / f"collections{suffix}" for suffix in YAML_SUFFIXES
                 if (content_dir / f"collections{suffix}").is_file()), None)
    if path is None:
        return TopCollection(DERIVED_TOP_LABEL, DERIVED_TOP_SUMMARY, tuple(exhibitions), ())
    checked = _read_checked(path, "collections.schema.json", files, problems)
    if checked is None:
        return None
    curator_file, data = checked.file, checked.file.data
    before = len(problems)
    exhibition_ids = tuple(data.get("exhibitions", exhibitions)) if checked.sound(("exhibitions",)) else ()
    for index, exhibition_id in enumerate(exhibition_ids):
        if exhibition_id not in exhibitions and exhibition_id not in broken_ids:
            problems.append(curator_file.problem(("exhibitions", index),
                                                 _unknown("exhibition", exhibition_id, exhibitions)))
    sections = []
    collection_ids = set(exhibitions)
    for index in _indexes(checked, "sections"):
        if not checked.sound(("sections", index)):
            continue
        section = data["sections"][index]
        if section["id"] in collection_ids:
            problems.append(curator_file.problem(("sections", index, "id"),
                                                 f"'{section['id']}' is already the id of an exhibition or section"))
        collection_ids.add(section["id"])
        for position, document_id in enumerate(section["documents"]):
            if document_id not in documents and document_id not in broken_ids:
                problems.append(curator_file.problem(("sections", index, "documents", position),
                                                     _unknown("document", document_id, documents)))
        sections.append(ThematicSection(section["id"], _text(section["label"]), _text(section["summary"]),
                                        tuple(section["documents"])))
    if checked.problems or len(problems) > before:
        return None
    return TopCollection(_text(data["label"]), _text(data["summary"]), exhibition_ids, tuple(sections))


def _pages(count: int) -> str:
    return "1 page" if count == 1 else f"{count} pages"
