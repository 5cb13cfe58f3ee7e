"""The landing page at /: every master with its size, info.json links and a thumbnail that the server
really renders; broken and restricted masters; the built manifests with viewer links."""

from __future__ import annotations

import html
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import obstore
import pytest
import pyvips
import requests

from iiif_archive import landing
from iiif_archive.app import create_platform_app
from iiif_archive.samples import sample_masters, write_sample_masters
from iiif_archive.settings import PlatformSettings
from iiif_server.settings import ObjectStoreRoot
from tests.conftest import SeaweedFS, settle

TINY_SIZE = (50, 30)  # smaller than the thumbnail box: the page must not ask for an upscale


class ListedEntries(HTMLParser):
    """The page's image cards (one per <li>) and its manifest table rows, as plain dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, dict] = {}
        self.rows: list[dict] = []
        self._current: dict | None = None
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("li", "tr"):
            self._current = {"text": "", "links": [], "img": None}
        elif self._current is not None and tag == "a":
            self._current["links"].append(values["href"])
        elif self._current is not None and tag == "img":
            self._current["img"] = values
        elif tag == "code":
            self._in_code = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code = False
        elif tag == "li" and self._current is not None:
            self.cards[self._current["identifier"]] = self._current
            self._current = None
        elif tag == "tr" and self._current is not None:
            self.rows.append(self._current)
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is None:
            return
        self._current["text"] += data
        if self._in_code and "identifier" not in self._current:
            self._current["identifier"] = data


def parse_page(html: str) -> ListedEntries:
    parser = ListedEntries()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def landing_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing-images")
    write_sample_masters(root, 0.05)
    (root / "broken.tif").write_bytes(b"II*\x00 this is no TIFF")
    (root / "notes.txt").write_text("not a master\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.tif").write_bytes((root / "photos" / "ba-dinh-1945.tif").read_bytes())
    (root / "photos" / ".ba-dinh-1945.tif.partial").write_bytes(b"half written")
    pyvips.Image.black(*TINY_SIZE, bands=3).cast("uchar").pngsave(str(root / "tiny.png"))
    # The same stem twice is one identifier (the TIFF wins, as the resolver decides).
    pyvips.Image.black(*TINY_SIZE, bands=3).cast("uchar").jpegsave(str(root / "maps" / "hanoi-1873.jpg"))
    outside = tmp_path_factory.mktemp("outside") / "elsewhere.tif"
    outside.write_bytes((root / "photos" / "ba-dinh-1945.tif").read_bytes())
    os.symlink(outside, root / "escape.tif")
    return root


@pytest.fixture(scope="module")
def presentation_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("presentation")
    (root / "manifests").mkdir()
    (root / "manifests" / "decree-1945.json").write_text(json.dumps(
        {"type": "Manifest", "label": {"vi": ["Sắc lệnh số 14"], "en": ["Decree no. 14"]}, "items": []}))
    (root / "collection.json").write_text(json.dumps({"type": "Collection", "label": {"en": ["All documents"]}}))
    (root / "settings.json").write_text(json.dumps({"theme": "dark"}))
    (root / "truncated.json").write_text('{"type": "Manif')
    return root


@pytest.fixture(scope="module")
def landing_app(landing_root: Path, presentation_root: Path):
    return create_platform_app(PlatformSettings(image_root=landing_root, presentation_root=presentation_root,
                               restricted_prefixes="letter-1946"))


@pytest.fixture(scope="module")
def page(landing_app) -> ListedEntries:
    response = landing_app.test_client().get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return parse_page(response.get_data(as_text=True))


def test_every_master_is_listed_once(page: ListedEntries) -> None:
    expected = {master.identifier for master in sample_masters()} | {"broken", "tiny"}
    assert set(page.cards) == expected


def test_headings_are_in_vietnamese_and_english(landing_app) -> None:
    html = landing_app.test_client().get("/").get_data(as_text=True)
    for heading in ("Ảnh gốc", "Images", "Manifest và bộ sưu tập", "Manifests and collections"):
        assert heading in html


@pytest.mark.parametrize("identifier", ["maps/hanoi-1873", "decree-1945/p1", "photos/ba-dinh-1945", "tiny"])
def test_card_shows_size_and_both_info_json(landing_app, page: ListedEntries, identifier: str) -> None:
    client = landing_app.test_client()
    card = page.cards[identifier]
    info_links = [link for link in card["links"] if link.endswith("/info.json")]
    escaped = identifier.replace("/", "%2F")
    assert info_links == [f"/iiif/3/{escaped}/info.json", f"/iiif/2/{escaped}/info.json"]
    for link in info_links:
        info = client.get(link).get_json()
        assert f"{info['width']} × {info['height']} px" in card["text"]


@pytest.mark.parametrize("identifier", ["maps/hanoi-1873", "decree-1945/p4", "photos/ba-dinh-1945", "tiny"])
def test_thumbnail_is_rendered_at_its_stated_size_without_upscaling(landing_app, page: ListedEntries,
                                                                     identifier: str) -> None:
    client = landing_app.test_client()
    image = page.cards[identifier]["img"]
    width, height = int(image["width"]), int(image["height"])
    info = client.get(f"/iiif/3/{identifier.replace('/', '%2F')}/info.json").get_json()
    assert width <= min(200, info["width"]) and height <= min(200, info["height"])
    assert max(width, height) == min(200, max(info["width"], info["height"]))
    response = client.get(image["src"])
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    thumbnail = pyvips.Image.new_from_buffer(response.data, "")
    assert (thumbnail.width, thumbnail.height) == (width, height)


def test_small_master_thumbnail_is_its_full_size(page: ListedEntries) -> None:
    image = page.cards["tiny"]["img"]
    assert (int(image["width"]), int(image["height"])) == TINY_SIZE
    assert image["src"] == f"/iiif/3/tiny/full/{TINY_SIZE[0]},{TINY_SIZE[1]}/0/default.jpg"


def test_broken_master_is_shown_unreadable_and_the_page_still_works(page: ListedEntries) -> None:
    card = page.cards["broken"]
    assert "unreadable" in card["text"]
    # libtiff refuses its header, and the only other loader that would try (ImageMagick) is blocked.
    assert "image 'broken' is not a supported master" in card["text"]
    assert card["img"] is None and card["links"] == []


def test_restricted_master_is_listed_without_thumbnail(page: ListedEntries) -> None:
    card = page.cards["letter-1946/p1"]
    assert "restricted" in card["text"]
    assert card["img"] is None


def test_built_manifests_and_collections_are_listed_with_viewer_links(page: ListedEntries) -> None:
    rows = {row["links"][0]: row for row in page.rows if row["links"]}
    assert set(rows) == {"/iiif/presentation/manifests/decree-1945.json", "/iiif/presentation/collection.json"}
    manifest = rows["/iiif/presentation/manifests/decree-1945.json"]
    assert "Sắc lệnh số 14 / Decree no. 14" in manifest["text"]
    viewer = urlsplit(manifest["links"][1])
    assert viewer.path == "/viewer/embed"
    assert parse_qs(viewer.query) == {"manifest": ["http://localhost/iiif/presentation/manifests/decree-1945.json"]}
    collection = rows["/iiif/presentation/collection.json"]
    assert "All documents" in collection["text"] and len(collection["links"]) == 1


def test_manifest_links_use_the_configured_base_url(landing_root: Path, presentation_root: Path) -> None:
    app = create_platform_app(PlatformSettings(image_root=landing_root, presentation_root=presentation_root,
                              base_url="https://iiif.archives.example"))
    rows = parse_page(app.test_client().get("/").get_data(as_text=True)).rows
    viewer_links = [link for row in rows for link in row["links"] if link.startswith("/viewer/")]
    assert viewer_links == [
        "/viewer/embed?manifest=https%3A%2F%2Fiiif.archives.example%2Fiiif%2Fpresentation%2Fmanifests%2Fdecree-1945.json"
    ]


def test_without_presentation_root_no_manifest_section(landing_root: Path) -> None:
    html = create_platform_app(PlatformSettings(image_root=landing_root)).test_client().get("/").get_data(as_text=True)
    assert "Manifests and collections" not in html
    assert parse_page(html).rows == []


def test_empty_image_root_says_so(tmp_path: Path) -> None:
    html = create_platform_app(PlatformSettings(image_root=tmp_path)).test_client().get("/").get_data(as_text=True)
    assert "The image root holds no masters yet." in html


def test_landing_page_and_its_thumbnails_over_gunicorn(gunicorn_server) -> None:
    """The suite's shared server (grid masters and a corrupt TIFF) answers / and its thumbnails."""
    response = requests.get(gunicorn_server.base_url + "/", timeout=30)
    assert response.status_code == 200
    cards = parse_page(response.text).cards
    assert "unreadable" in cards["corrupt"]["text"]
    image = cards["grid-tiff"]["img"]
    thumbnail = requests.get(gunicorn_server.base_url + image["src"], timeout=30)
    assert thumbnail.status_code == 200
    decoded = pyvips.Image.new_from_buffer(thumbnail.content, "")
    assert (decoded.width, decoded.height) == (int(image["width"]), int(image["height"]))
    info = requests.get(gunicorn_server.base_url + cards["grid-tiff"]["links"][0], timeout=30).json()
    assert info["id"] == f"{gunicorn_server.base_url}/iiif/3/grid-tiff"


def test_a_large_root_lists_a_page_of_masters_and_says_how_many_more(tmp_path, monkeypatch) -> None:
    import pyvips

    from iiif_archive.app import create_platform_app
    from iiif_archive.settings import PlatformSettings
    from iiif_archive import landing

    for number in range(3):
        pyvips.Image.black(8, 8).pngsave(str(tmp_path / f"page-{number}.png"))
    monkeypatch.setattr(landing, "LANDING_MAX_IMAGES", 2)
    page = create_platform_app(PlatformSettings(image_root=tmp_path)).test_client().get("/").get_data(as_text=True)
    assert "page-0" in page and "page-1" in page and "page-2" not in page
    assert "1 more images are not listed" in page


MANY_MASTERS = (100, 100)  # folders, masters per folder
LANDING_BOUND_SECONDS = 0.050  # issue 11: "answers in under 50 ms after the first"


def test_a_root_of_ten_thousand_masters_answers_in_under_50_ms_after_the_first(tmp_path: Path) -> None:
    import statistics
    import time

    tiny = tmp_path / "tiny.png"
    pyvips.Image.black(8, 8).pngsave(str(tiny))
    root = tmp_path / "images"
    folders, per_folder = MANY_MASTERS
    for folder in range(folders):
        (root / f"box-{folder:03}").mkdir(parents=True)
        for number in range(per_folder):
            os.link(tiny, root / f"box-{folder:03}" / f"page-{number:03}.png")
    client = create_platform_app(PlatformSettings(image_root=root)).test_client()
    first = client.get("/")
    assert first.status_code == 200
    cards = parse_page(first.get_data(as_text=True)).cards
    assert len(cards) == 500 and "box-000/page-000" in cards and "box-004/page-099" in cards
    assert "9500 more images are not listed" in first.get_data(as_text=True)
    durations = []
    for _ in range(15):
        started = time.perf_counter()
        response = client.get("/")
        durations.append(time.perf_counter() - started)
        assert response.data == first.data
    # The median: the machine running the suite is shared, and one slow request is not the page.
    assert statistics.median(durations) < LANDING_BOUND_SECONDS, durations


def test_the_listing_is_kept_until_a_master_or_the_built_folder_changes(tmp_path: Path, monkeypatch) -> None:
    from iiif_archive import landing

    monkeypatch.setattr(landing, "RECHECK_SECONDS", 0.0)  # every request checks (the default is every 2 s)
    described: list[str] = []
    describe_master = landing.describe_master
    monkeypatch.setattr(landing, "describe_master",
                        lambda pipeline, identifier: described.append(identifier) or describe_master(pipeline, identifier))
    images, presentation = tmp_path / "images", tmp_path / "public"
    (images / "box").mkdir(parents=True)
    pyvips.Image.black(40, 30).pngsave(str(images / "box" / "a.png"))
    presentation.mkdir()
    settle(tmp_path)
    client = create_platform_app(PlatformSettings(image_root=images, presentation_root=presentation)).test_client()

    def cards() -> dict[str, dict]:
        return parse_page(client.get("/").get_data(as_text=True)).cards

    assert "40 × 30 px" in cards()["box/a"]["text"] and described == ["box/a"]
    cards(), cards()
    assert described == ["box/a"]  # nothing walked or read again
    pyvips.Image.black(40, 30).pngsave(str(images / "box" / "b.png"))
    assert set(cards()) == {"box/a", "box/b"}
    (images / "box" / "b.png").unlink()
    assert set(cards()) == {"box/a"}
    with open(images / "box" / "a.png", "r+b") as master:  # rewritten in place: the folder does not change
        master.write(pyvips.Image.black(64, 48).pngsave_buffer())
    assert "64 × 48 px" in cards()["box/a"]["text"]
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    (rebuilt / "manifest.json").write_text(json.dumps({"type": "Manifest", "label": {"en": ["Rebuilt"]}}))
    presentation.rename(tmp_path / "old")
    rebuilt.rename(presentation)  # as iiif-archive build swaps the folder
    assert "Rebuilt" in client.get("/").get_data(as_text=True)
def test_the_page_has_a_content_security_policy_and_no_inline_style(landing_app) -> None:
    client = landing_app.test_client()
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "style-src 'self';" in policy and "frame-ancestors 'self'" in policy
    html = response.get_data(as_text=True)
    assert "<style" not in html and "<script" not in html
    stylesheet = client.get("/landing/static/landing.css")
    assert stylesheet.status_code == 200 and stylesheet.mimetype == "text/css"
    assert '<link rel="stylesheet" href="/landing/static/landing.css">' in html


# -- a bucket: listed a page at a time -----------------------------------------------------------------

BUCKET_MASTERS = 2500


@pytest.fixture(scope="module")
def crowded_bucket(seaweedfs: SeaweedFS) -> ObjectStoreRoot:
    """2,500 masters below a prefix (empty: the page shows them unreadable, which costs no decoding),
    a hidden one and a key that is no master."""
    root = ObjectStoreRoot("masters", "landing-crowded")
    store = seaweedfs.store(root.bucket)
    names = [f"box-{number:04d}.png" for number in range(BUCKET_MASTERS)] + [".hidden.png", "readme.txt"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: obstore.put(store, root.key(name), b""), names))
    return root


def test_a_bucket_is_listed_a_page_at_a_time_never_whole(seaweedfs: SeaweedFS, crowded_bucket: ObjectStoreRoot,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(landing, "LANDING_MAX_IMAGES", 5)
    keys_read: list[int] = []
    real_list = obstore.list

    def counting_list(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - obstore.list's own signature
        for batch in real_list(*args, **kwargs):
            keys_read.append(len(batch))
            yield batch

    monkeypatch.setattr(obstore, "list", counting_list)
    s3 = seaweedfs.settings(crowded_bucket)
    client = create_platform_app(PlatformSettings(**{name: getattr(s3, name) for name in s3.__dataclass_fields__})
                                 ).test_client()

    def listed(url: str) -> tuple[list[str], str | None]:
        response = client.get(url)
        assert response.status_code == 200, response.text
        page = parse_page(response.get_data(as_text=True))
        next_links = [href for href in re.findall(r'href="([^"]+)"', response.get_data(as_text=True))
                      if href.startswith("/?after=")]
        return sorted(page.cards), html.unescape(next_links[0]) if next_links else None

    first, next_page = listed("/")
    assert first == [f"box-{number:04d}" for number in range(5)]
    assert next_page == "/?after=box-0004.png"
    # One LIST request's worth of keys (S3 returns at most 1,000), of the 2,502 in the prefix.
    assert sum(keys_read) <= 1000 < BUCKET_MASTERS
    assert listed("/") == (first, next_page) and len(keys_read) == 1  # kept for info_cache_ttl
    second, _ = listed(next_page)
    assert second == [f"box-{number:04d}" for number in range(5, 10)]
    last, no_next_page = listed("/?after=box-2497.png")
    assert last == ["box-2498", "box-2499"] and no_next_page is None  # neither readme.txt nor .hidden.png
    assert client.get("/?after=" + "x" * 1025).status_code == 400
