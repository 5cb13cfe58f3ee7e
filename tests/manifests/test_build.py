"""PURE builders: model -> iiif-prezi3 objects, checked on their JSON and against the Presentation 3.0 schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manifests.build import (
    ParentCollection,
    Urls,
    build_exhibition_collection,
    build_manifest,
    build_section_collection,
    build_top_collection,
    parent_collections,
    plan_outputs,
    thumbnail_size,
)
from manifests.images import ImageSize, check_content
from manifests.model import (
    Behavior,
    Content,
    CoverImage,
    Document,
    Exhibition,
    ExhibitionItem,
    MetadataEntry,
    Origin,
    Page,
    Provider,
    Section,
    Text,
    ThematicSection,
    TopCollection,
    ViewingDirection,
)
from manifests.write import render_json, schema_errors

URLS = Urls("https://iiif.archives.example.vn")
HERE = Origin(Path("test.yml"), 1)
SIZES = {"decree/p1": ImageSize(2000, 3000), "decree/p2": ImageSize(2010, 3020), "photo": ImageSize(300, 200)}
DECREE = Document(
    id="decree",
    label=Text("Sắc lệnh", "Decree"),
    summary=Text("Tóm tắt", "Summary"),
    metadata=(MetadataEntry(Text("Ngày ban hành", "Date issued"), Text("8/9/1945", "8 Sep 1945")),),
    rights="http://creativecommons.org/publicdomain/mark/1.0/",
    attribution=Text("Trung tâm Lưu trữ quốc gia III", "National Archives Centre III"),
    provider=Provider("https://archives.example.vn/", Text("Cục Lưu trữ", "Archives Department"),
                      "https://archives.example.vn/", "https://archives.example.vn/logo.png"),
    pages=(Page("decree/p1", Text("Bìa", "Cover"), HERE), Page("decree/p2", None, HERE)),
    contents=(Section(Text("Phần một", "Part one"), (0,), (Section(Text("Điều 1", "Article 1"), (1,)),)),),
    nav_date="1945-09-08T00:00:00Z",
    behavior=(Behavior.PAGED,),
    viewing_direction=ViewingDirection.LEFT_TO_RIGHT,
    start_page=1,
    homepage="https://archives.example.vn/decree",
)
PHOTO = Document(
    id="photo", label=Text("Ảnh", "Photograph"), summary=Text("Ảnh", "Photograph"), metadata=(),
    rights="http://rightsstatements.org/vocab/NoC-NC/1.0/", attribution=Text("Lưu trữ", "Archives"),
    provider=Provider("https://archives.example.vn/", Text("Cục Lưu trữ", "Archives Department"),
                      "https://archives.example.vn/"),
    pages=(Page("photo", None, HERE),),
)
SHOW = Exhibition(
    id="show", title=Text("Triển lãm", "Exhibition"), introduction=Text("Giới thiệu", "Introduction"),
    cover=CoverImage("photo", HERE),
    items=(ExhibitionItem("photo", 0, None, Text("Ảnh", "Photo"), None, HERE),
           ExhibitionItem("decree", 1, None, Text("Trang 2", "Page 2"), None, HERE),
           ExhibitionItem("photo", 0, None, Text("Lại", "Again"), None, HERE)),
    nav_date="2020-09-02T00:00:00Z",
)
CONTENT = Content(
    documents=(DECREE, PHOTO), exhibitions=(SHOW,),
    top=TopCollection(Text("Tài liệu", "Documents"), Text("Tóm tắt", "Summary"), ("show",),
                      (ThematicSection("photos", Text("Ảnh", "Photos"), Text("Ảnh.", "Photos."), ("photo",)),)),
)
BOTH = {"vi": ["Sắc lệnh"], "en": ["Decree"]}


def as_json(resource) -> dict:
    return render_json(resource)[0]


@pytest.fixture(scope="module")
def decree() -> dict:
    part_of = (ParentCollection(URLS.collection("show"), SHOW.title),)
    return as_json(build_manifest(DECREE, SIZES, URLS, part_of))


@pytest.mark.parametrize("size, box, expected", [
    (ImageSize(2000, 3000), 400, (267, 400)),
    (ImageSize(3000, 2000), 400, (400, 267)),
    (ImageSize(300, 200), 400, (300, 200)),  # never larger than the image: the server refuses upscaling
    (ImageSize(10_000, 10), 400, (400, 1)),  # never a zero side
])
def test_thumbnail_size_fits_the_box_without_upscaling(size: ImageSize, box: int, expected: tuple[int, int]) -> None:
    assert thumbnail_size(size, box) == expected


def test_manifest_descriptive_properties(decree: dict) -> None:
    assert decree["@context"] == "http://iiif.io/api/presentation/3/context.json"
    assert decree["id"] == "https://iiif.archives.example.vn/iiif/presentation/manifests/decree.json"
    assert (decree["type"], decree["label"]) == ("Manifest", BOTH)
    assert decree["summary"] == {"vi": ["Tóm tắt"], "en": ["Summary"]}
    assert decree["metadata"] == [{"label": {"vi": ["Ngày ban hành"], "en": ["Date issued"]},
                                   "value": {"vi": ["8/9/1945"], "en": ["8 Sep 1945"]}}]
    assert decree["rights"] == "http://creativecommons.org/publicdomain/mark/1.0/"
    assert decree["requiredStatement"] == {"label": {"vi": ["Ghi công"], "en": ["Attribution"]},
                                           "value": {"vi": ["Trung tâm Lưu trữ quốc gia III"],
                                                     "en": ["National Archives Centre III"]}}
    assert decree["navDate"] == "1945-09-08T00:00:00Z"
    assert decree["behavior"] == ["paged"] and decree["viewingDirection"] == "left-to-right"
    assert decree["homepage"] == [{"id": "https://archives.example.vn/decree", "type": "Text", "label": BOTH,
                                   "format": "text/html"}]
    assert decree["partOf"] == [{"id": "https://iiif.archives.example.vn/iiif/presentation/collections/show.json",
                                 "type": "Collection", "label": {"vi": ["Triển lãm"], "en": ["Exhibition"]}}]


def test_manifest_provider(decree: dict) -> None:
    (provider,) = decree["provider"]
    assert provider["id"] == "https://archives.example.vn/" and provider["type"] == "Agent"
    assert provider["label"] == {"vi": ["Cục Lưu trữ"], "en": ["Archives Department"]}
    assert provider["homepage"][0]["id"] == "https://archives.example.vn/"
    assert provider["logo"] == [{"id": "https://archives.example.vn/logo.png", "type": "Image", "format": "image/png"}]


def test_canvases_are_sized_from_the_masters_and_paint_the_full_image(decree: dict) -> None:
    first, second = decree["items"]
    canvas_id = "https://iiif.archives.example.vn/iiif/presentation/manifests/decree/canvas/p1"
    assert (first["id"], first["width"], first["height"]) == (canvas_id, 2000, 3000)
    assert (second["width"], second["height"]) == (2010, 3020)
    assert first["label"] == {"vi": ["Bìa"], "en": ["Cover"]}
    assert second["label"] == {"vi": ["Trang 2"], "en": ["Page 2"]}  # pages without a label are numbered
    (annotation_page,) = first["items"]
    (painting,) = annotation_page["items"]
    assert painting["motivation"] == "painting" and painting["target"] == canvas_id
    body = painting["body"]
    assert body["id"] == "https://iiif.archives.example.vn/iiif/3/decree%2Fp1/full/max/0/default.jpg"
    assert (body["type"], body["format"], body["width"], body["height"]) == ("Image", "image/jpeg", 2000, 3000)
    assert body["service"] == [
        {"id": "https://iiif.archives.example.vn/iiif/3/decree%2Fp1", "type": "ImageService3", "profile": "level2"},
        {"@id": "https://iiif.archives.example.vn/iiif/2/decree%2Fp1", "@type": "ImageService2",
         "profile": "http://iiif.io/api/image/2/level2.json"},
    ]


def test_thumbnails_come_from_the_image_service(decree: dict) -> None:
    (thumbnail,) = decree["thumbnail"]
    assert thumbnail["id"] == "https://iiif.archives.example.vn/iiif/3/decree%2Fp1/full/267,400/0/default.jpg"
    assert (thumbnail["width"], thumbnail["height"]) == (267, 400)
    assert thumbnail["service"][0]["id"] == "https://iiif.archives.example.vn/iiif/3/decree%2Fp1"
    assert decree["items"][1]["thumbnail"][0]["id"].endswith("/decree%2Fp2/full/266,400/0/default.jpg")


def test_table_of_contents_becomes_nested_ranges(decree: dict) -> None:
    base = "https://iiif.archives.example.vn/iiif/presentation/manifests/decree"
    assert decree["structures"] == [{
        "id": f"{base}/range/1", "type": "Range", "label": {"vi": ["Phần một"], "en": ["Part one"]},
        "items": [
            {"id": f"{base}/canvas/p1", "type": "Canvas"},
            {"id": f"{base}/range/1-1", "type": "Range", "label": {"vi": ["Điều 1"], "en": ["Article 1"]},
             "items": [{"id": f"{base}/canvas/p2", "type": "Canvas"}]},
        ],
    }]
    assert decree["start"] == {"id": f"{base}/canvas/p2", "type": "Canvas"}


def test_optional_properties_are_left_out_when_not_set() -> None:
    photo = as_json(build_manifest(PHOTO, SIZES, URLS))
    for absent in ("navDate", "behavior", "homepage", "partOf", "start", "structures"):
        assert absent not in photo
    assert "logo" not in photo["provider"][0]


def test_exhibition_collection_lists_each_document_once_in_order() -> None:
    collection = as_json(build_exhibition_collection(SHOW, CONTENT, SIZES, URLS))
    assert collection["id"] == "https://iiif.archives.example.vn/iiif/presentation/collections/show.json"
    assert collection["type"] == "Collection" and collection["label"] == {"vi": ["Triển lãm"], "en": ["Exhibition"]}
    assert collection["summary"] == {"vi": ["Giới thiệu"], "en": ["Introduction"]}
    assert [(item["id"].rsplit("/", 1)[1], item["type"]) for item in collection["items"]] == [
        ("photo.json", "Manifest"), ("decree.json", "Manifest")]
    assert collection["items"][1]["label"] == BOTH
    assert collection["thumbnail"][0]["id"].endswith("/iiif/3/photo/full/300,200/0/default.jpg")
    assert collection["navDate"] == "2020-09-02T00:00:00Z"
    assert collection["partOf"][0]["id"] == URLS.top_collection()


def test_section_and_top_collections() -> None:
    section = as_json(build_section_collection(CONTENT.top.sections[0], CONTENT, SIZES, URLS))
    assert [item["id"] for item in section["items"]] == [URLS.manifest("photo")]
    top = as_json(build_top_collection(CONTENT, URLS))
    assert top["id"] == "https://iiif.archives.example.vn/iiif/presentation/collection.json"
    assert [(item["id"], item["type"]) for item in top["items"]] == [
        (URLS.collection("show"), "Collection"), (URLS.collection("photos"), "Collection")]


def test_part_of_names_every_exhibition_and_section_a_document_is_in() -> None:
    parents = parent_collections(CONTENT, URLS)
    assert [parent.id for parent in parents["photo"]] == [URLS.collection("show"), URLS.collection("photos")]
    assert [parent.id for parent in parents["decree"]] == [URLS.collection("show")]


def test_every_planned_output_matches_the_presentation_schema() -> None:
    outputs = plan_outputs(CONTENT, SIZES, URLS)
    assert [output.path for output in outputs] == [
        "manifests/decree.json", "manifests/photo.json", "collections/show.json", "collections/photos.json",
        "collection.json", ".access-rules.json"]
    for output in outputs:
        if output.presentation:
            assert schema_errors(as_json(output.make())) == [], output.path


def test_the_demo_content_builds_valid_manifests_and_collections(demo_content: Path, sample_images: Path) -> None:
    content, sizes = check_content(demo_content, sample_images)
    for output in plan_outputs(content, sizes, Urls("http://127.0.0.1:8000")):
        document = as_json(output.make())
        assert not output.presentation or schema_errors(document) == [], output.path
        text = json.dumps(document, ensure_ascii=False)
        assert "example.org" not in text  # no auto-generated ids


@pytest.mark.parametrize("damage, expected", [
    (lambda m: m.pop("items"), "(top): 'items' is a required property"),
    (lambda m: m.update(rights="https://creativecommons.org/licenses/by/4.0/"), "rights: 'https://creativecommons.org"),
    (lambda m: m["items"][0].update(width="wide"), "items/0/width: 'wide' is not of type 'integer'"),
], ids=["no items", "rights with https", "canvas width not a number"])
def test_the_schema_check_catches_broken_manifests(decree: dict, damage, expected: str) -> None:
    broken = json.loads(json.dumps(decree))
    damage(broken)
    errors = schema_errors(broken)
    assert errors and expected in errors[0]
