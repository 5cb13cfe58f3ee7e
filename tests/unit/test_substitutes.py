"""access/substitutes.py: the substitute settings and the substitute's size (IIIF Auth 2.0 "Tiered Access")."""

from __future__ import annotations

import pytest

from iiif_server.access.base import AccessLevel
from iiif_server.access.substitutes import Substitute, parse_substitute, substitutes_of
from iiif_server.settings import Settings, SettingsError


@pytest.mark.parametrize(("setting", "substitute"), [
    pytest.param("", None, id="empty: no substitute"),
    pytest.param("max:1024", Substitute(1024, False), id="reduced"),
    pytest.param("watermark", Substitute(None, True), id="watermarked"),
    pytest.param("max:800, watermark", Substitute(800, True), id="both, comma"),
    pytest.param("  watermark   max:800 ", Substitute(800, True), id="both, spaces, any order"),
])
def test_parse_substitute(setting, substitute):
    assert parse_substitute(setting, "restricted_substitute") == substitute


@pytest.mark.parametrize(("setting", "reason"), [
    pytest.param("max:", "needs a whole number", id="no number"),
    pytest.param("max:0", "needs a whole number", id="zero"),
    pytest.param("max:-5", "needs a whole number", id="negative"),
    pytest.param("max:١٠٠", "needs a whole number", id="non-ASCII digits"),
    pytest.param("blur", "unknown word 'blur'", id="unknown word"),
])
def test_parse_substitute_refuses(setting, reason):
    with pytest.raises(SettingsError, match=reason) as error:
        parse_substitute(setting, "reading_room_substitute")
    assert str(error.value).startswith("reading_room_substitute: ")


@pytest.mark.parametrize(("substitute", "master", "size"), [
    pytest.param(Substitute(1000, False), (4000, 3000), (1000, 750), id="landscape: the long side is the width"),
    pytest.param(Substitute(1000, False), (3000, 4000), (750, 1000), id="portrait: the long side is the height"),
    pytest.param(Substitute(1000, False), (800, 600), (800, 600), id="never enlarged"),
    pytest.param(Substitute(100, False), (10000, 10), (100, 1), id="never below one pixel"),
    pytest.param(Substitute(None, True), (4000, 3000), (4000, 3000), id="watermark only: full resolution"),
])
def test_substitute_size(substitute, master, size):
    assert substitute.size_of(*master) == size


def test_tiers_name_what_differs_from_the_full_image():
    tiers = {Substitute(1000, False).tier, Substitute(1000, True).tier, Substitute(None, True).tier,
             Substitute(800, False).tier, "full"}
    assert len(tiers) == 5


def test_substitutes_of_the_settings():
    settings = Settings(restricted_substitute="max:1200", reading_room_substitute="watermark")
    assert substitutes_of(settings) == {AccessLevel.RESTRICTED: Substitute(1200, False),
                                        AccessLevel.READING_ROOM: Substitute(None, True)}
    assert substitutes_of(Settings()) == {}
