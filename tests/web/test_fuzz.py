"""Issue 10 point 9: hypothesis-generated Image API paths against a real gunicorn process.

Any printable and non-ASCII text, percent-encodings, huge, negative and non-ASCII numbers in every
parameter position of both API versions: never a 5xx, never a traceback in the server's log. Every
answer is one the IIIF specifications name: 200, 303, 304, 400, 403, 404 or 501.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import RunningServer, start_server, stop_server
from tests.grid import write_grid_masters

ALLOWED_STATUSES = {200, 303, 304, 400, 403, 404, 501}
IDENTIFIERS = ["grid-tiff", "grid-jp2", "grid-jpeg", "grid-png", "closed/grid-png"]
# Kept raw in a path so that the server, not the client, decodes (or refuses) what follows a '%'.
RAW_CHARACTERS = "%:,!^.@$&'()*+;=-_~"
PERCENT_ENCODINGS = ["%2F", "%2f", "%00", "%25", "%2e%2e", "%5C", "%ZZ", "%", "%E2%80%AE", "%C0%AF", "%FF", "%0A"]
UNICODE_DIGITS = "\u0660\u0661\u0669\u06f5\u0966\uff10\uff11\uff19\u00b2\u2167\U0001d7ce"

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
percent = st.lists(st.one_of(st.sampled_from(PERCENT_ENCODINGS), text), min_size=1, max_size=4).map("".join)
integers = st.one_of(
    st.integers(0, 5000), st.integers(-(10**6), -1), st.integers(10**8, 10**400), st.just(2**63), st.just(2**64 + 1),
).map(str)
decimals = st.one_of(
    integers,
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.sampled_from(["1e5", "1E-3", ".5", "5.", "0x10", "nan", "inf", "-0", "+1", "1_000", "١٢", "１０"]),
    st.text(st.sampled_from("0123456789." + UNICODE_DIGITS), min_size=1, max_size=12),
)
junk = st.one_of(text, percent)
# Plausible values, so that a good share of requests gets past the parser to the planner and renderer.
pixels = st.integers(0, 2000).map(str)
percentages = st.floats(0, 120, allow_nan=False).map(lambda value: f"{value:.6g}")
plausible_region = st.one_of(
    st.sampled_from(["full", "square"]),
    st.tuples(pixels, pixels, pixels, pixels).map(",".join),
    st.tuples(percentages, percentages, percentages, percentages).map(lambda parts: "pct:" + ",".join(parts)),
)
plausible_size = st.one_of(
    st.sampled_from(["max", "^max", "full"]),
    st.tuples(st.sampled_from(["", "^", "!", "^!"]), st.one_of(pixels, st.just("")), st.one_of(pixels, st.just("")))
    .map(lambda parts: f"{parts[0]}{parts[1]},{parts[2]}"),
    st.tuples(st.sampled_from(["pct:", "^pct:"]), percentages).map("".join),
)
plausible_rotation = st.tuples(
    st.sampled_from(["", "!"]), st.floats(0, 360, allow_nan=False).map(lambda value: f"{value:.6g}"),
).map("".join)
region = st.one_of(
    plausible_region,
    st.sampled_from(["full", "square"]),
    st.tuples(integers, integers, integers, integers).map(",".join),
    st.tuples(decimals, decimals, decimals, decimals).map(lambda parts: "pct:" + ",".join(parts)),
    junk,
)
size = st.one_of(
    plausible_size,
    st.sampled_from(["max", "^max", "full", "^full"]),
    st.tuples(st.sampled_from(["", "^", "!", "^!"]), st.one_of(integers, st.just("")), st.one_of(integers, st.just("")))
    .map(lambda parts: f"{parts[0]}{parts[1]},{parts[2]}"),
    st.tuples(st.sampled_from(["pct:", "^pct:"]), decimals).map("".join),
    junk,
)
rotation = st.one_of(
    plausible_rotation, st.sampled_from(["0", "90", "180", "270", "!0"]),
    st.tuples(st.sampled_from(["", "!"]), decimals).map("".join), junk,
)
quality_format = st.one_of(
    st.tuples(st.sampled_from(["default", "color", "gray", "bitonal", "native", ""]),
              st.sampled_from(["jpg", "png", "webp", "tif", "gif", "jp2", "pdf", "bmp", ""]))
    .map(".".join),
    junk,
)
identifier = st.one_of(st.sampled_from(IDENTIFIERS), st.sampled_from(IDENTIFIERS), junk,
                       st.tuples(junk, junk).map("/".join))


def segment(value: str) -> str:
    return quote(value, safe=RAW_CHARACTERS)


def identifier_segment(value: str) -> str:
    return quote(value, safe=RAW_CHARACTERS + "/")


plausible_quality_format = st.tuples(st.sampled_from(["default", "color", "gray", "bitonal"]),
                                     st.sampled_from(["jpg", "png", "webp", "gif"])).map(".".join)


@st.composite
def image_paths(draw: st.DrawFn) -> str:
    """A plausible request with none, one or several of its parts replaced by anything at all."""
    plausible = [st.sampled_from(IDENTIFIERS), plausible_region, plausible_size, plausible_rotation,
                 plausible_quality_format]
    wild = [identifier, region, size, rotation, quality_format]
    replaced = draw(st.sets(st.integers(0, 4), max_size=3))
    parts = [draw(wild[n] if n in replaced else plausible[n]) for n in range(5)]
    version = draw(st.sampled_from("23"))
    return f"/iiif/{version}/{identifier_segment(parts[0])}/" + "/".join(segment(part) for part in parts[1:])


info_path = st.tuples(st.sampled_from("23"), identifier).map(lambda p: f"/iiif/{p[0]}/{identifier_segment(p[1])}/info.json")
other_path = st.tuples(st.sampled_from("23"), st.lists(junk, max_size=7)).map(
    lambda p: f"/iiif/{p[0]}/" + "/".join(segment(part) for part in p[1])
)
paths = st.one_of(image_paths(), image_paths(), info_path, other_path)


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    root = tmp_path_factory.mktemp("fuzz-images")
    write_grid_masters(root, 4, 3)
    write_grid_masters(root / "closed", 2, 2)
    log_file = tmp_path_factory.mktemp("fuzz-log") / "server.log"
    # Small limits keep the largest allowed answer cheap; restricted answers exercise 403.
    env = {"IIIF_MAX_WIDTH": "1200", "IIIF_MAX_HEIGHT": "1200", "IIIF_MAX_AREA": "1000000",
           "IIIF_RESTRICTED_PREFIXES": "closed"}
    server = start_server(root, "--workers", "1", "--threads", "4", env=env, log_file=log_file)
    yield server, log_file
    stop_server(server)


def test_no_path_gives_a_server_error_or_a_traceback(fuzzed_server: tuple[RunningServer, Path]) -> None:
    server, log_file = fuzzed_server
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    answers: dict[int, int] = {}

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(paths)
    # The URLs, and numbers Python's int() and float() read but the grammar does not.
    @example("/iiif/3/grid-tiff/full/" + "9" * 400 + ",/0/default.jpg")
    @example("/iiif/3/grid-tiff/pct:0,0," + "9" * 400 + ",10/max/0/default.jpg")
    @example("/iiif/2/grid-tiff/full/pct:" + "9" * 400 + "/0/default.jpg")
    @example("/iiif/3/grid-tiff/full/max/" + quote("١٢") + "/default.jpg")
    @example("/iiif/2/grid-jp2/0,0," + quote("１０") + ",10/full/0/default.jpg")
    @example("/iiif/3/grid-png/full/max/nan/default.png")
    @example("/iiif/3/" + "x" * 300 + "/info.json")
    @example("/iiif/3/grid-tiff%00/info.json")
    @example("/iiif/2/closed%2Fgrid-png/full/full/0/default.jpg")
    def request_answers_within_the_spec(path: str) -> None:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        answers[response.status] = answers.get(response.status, 0) + 1
        assert response.status in ALLOWED_STATUSES, f"{path} -> {response.status} {body[:200]!r}"
        if response.status >= 400:
            assert b"internal error" not in body

    try:
        request_answers_within_the_spec()
    finally:
        connection.close()
    log = log_file.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "ERROR" not in log, log[-3000:]
    # The run reached past the parser: images were served and refused for each reason.
    assert {200, 400, 404} <= answers.keys(), answers
