"""Rights URIs: Presentation 3.0 §3.3.1 asks for Creative Commons or RightsStatements.org, written with http://."""

from __future__ import annotations

import pytest

from manifests.rights import known_rights_uris, rights_problem


@pytest.mark.parametrize("uri", [
    "http://creativecommons.org/licenses/by/4.0/",
    "http://creativecommons.org/licenses/by-nc-nd/3.0/",
    "http://creativecommons.org/licenses/by-nd-nc/1.0/",
    "http://creativecommons.org/publicdomain/zero/1.0/",
    "http://creativecommons.org/publicdomain/mark/1.0/",
    "http://rightsstatements.org/vocab/InC/1.0/",
    "http://rightsstatements.org/vocab/NoC-OKLR/1.0/",
    "http://rightsstatements.org/vocab/UND/1.0/",
])
def test_known_uris_pass(uri: str) -> None:
    assert rights_problem(uri) is None


@pytest.mark.parametrize("uri, message", [
    ("https://creativecommons.org/licenses/by/4.0/", "write the rights URI exactly as http://creativecommons.org/licenses/by/4.0/"),
    ("http://creativecommons.org/licenses/by/4.0", "write the rights URI exactly as http://creativecommons.org/licenses/by/4.0/"),
    ("http://creativecommons.org/licenses/by-nc-nd/1.0/", "did you mean http://creativecommons.org/licenses/by-nc-nd/4.0/?"),
    ("http://rightsstatements.org/vocab/InC-XX/1.0/", "did you mean http://rightsstatements.org/vocab/InC/1.0/?"),
    ("http://creativecommons.org/licenses/by/5.0/", "is not a Creative Commons or RightsStatements.org URI"),
    ("All rights reserved", "'All rights reserved' is not a Creative Commons or RightsStatements.org URI;"),
], ids=["https instead of http", "no trailing slash", "licence that has no 1.0", "unknown statement", "no such version",
        "free text"])
def test_unknown_uris_are_explained(uri: str, message: str) -> None:
    assert message in rights_problem(uri)


def test_the_list_has_every_licence_and_statement() -> None:
    uris = known_rights_uris()
    # 6 licences in 4 versions, 6 in version 1.0, 2 public-domain tools, 12 rights statements.
    assert len(uris) == 6 * 4 + 6 + 2 + 12
    assert all(uri.startswith("http://") and uri.endswith("/") for uri in uris)
