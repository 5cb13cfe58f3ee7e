"""pipeline.py: the orchestrator's own answers (what a listing of masters is told), with a real
in-memory source."""

from __future__ import annotations

import pyvips

from iiif_server.info import MasterKind
from iiif_server.metrics import UncountedMetrics
from iiif_server.pipeline import MasterDescription, build_pipeline
from iiif_server.settings import Settings
from iiif_server.sources.memory import MemorySource


def listing_pipeline():
    source = MemorySource()
    page = (pyvips.Image.black(300, 200, bands=3) + [200, 180, 150]).cast("uchar")
    source.put("letters/open", page.pngsave_buffer(), ".png")
    source.put("closed/letter", page.jpegsave_buffer(), ".jpg")
    source.put("broken", b"not a PNG at all", ".png")
    settings = Settings(restricted_prefixes="closed/")
    return build_pipeline(settings, source, UncountedMetrics())


def test_describe_gives_size_and_kind_of_a_readable_master():
    assert listing_pipeline().describe("letters/open") == MasterDescription(
        "letters/open", restricted=False, width=300, height=200, kind=MasterKind.FLAT
    )


def test_describe_says_a_master_is_restricted_and_still_gives_its_size():
    described = listing_pipeline().describe("closed/letter")
    assert (described.restricted, described.width, described.height) == (True, 300, 200)


def test_describe_names_the_problem_of_an_unreadable_master():
    described = listing_pipeline().describe("broken")
    assert described.width is None and described.problem
    assert "broken" in described.problem


def test_describe_has_nothing_for_an_unknown_identifier():
    assert listing_pipeline().describe("nobody/here") is None
