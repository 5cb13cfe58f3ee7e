"""The rights URIs IIIF accepts: Creative Commons licences and RightsStatements.org statements.

IIIF Presentation 3.0 §3.3.1 (rights) asks for these two vocabularies, written with ``http://``.
"""

from __future__ import annotations

import difflib
import functools

CREATIVE_COMMONS_LICENCES = ("by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd")
CREATIVE_COMMONS_VERSIONS = ("1.0", "2.0", "2.5", "3.0", "4.0")
# Version 1.0 licences combined "nc" and "nd" in the other order and had no by-nc-nd.
CREATIVE_COMMONS_1_0 = ("by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nd-nc")
CREATIVE_COMMONS_PUBLIC_DOMAIN = ("zero/1.0", "mark/1.0")
RIGHTS_STATEMENTS = (
    "InC", "InC-OW-EU", "InC-EDU", "InC-NC", "InC-RUU",
    "NoC-CR", "NoC-NC", "NoC-OKLR", "NoC-US",
    "CNE", "UND", "NKC",
)


@functools.cache
def known_rights_uris() -> frozenset[str]:
    uris = {f"http://creativecommons.org/licenses/{name}/1.0/" for name in CREATIVE_COMMONS_1_0}
    uris |= {
        f"http://creativecommons.org/licenses/{name}/{version}/"
        for name in CREATIVE_COMMONS_LICENCES
        for version in CREATIVE_COMMONS_VERSIONS[1:]
    }
    uris |= {f"http://creativecommons.org/publicdomain/{path}/" for path in CREATIVE_COMMONS_PUBLIC_DOMAIN}
    uris |= {f"http://rightsstatements.org/vocab/{name}/1.0/" for name in RIGHTS_STATEMENTS}
    return frozenset(uris)


def rights_problem(uri: str) -> str | None:
    """None if ``uri`` is a known rights URI, else a one-line explanation with the closest known one."""
    if uri in known_rights_uris():
        return None
    guess = uri.strip().replace("https://", "http://", 1)
    guess = guess if guess.endswith("/") else guess + "/"
    if guess in known_rights_uris():
        return f"write the rights URI exactly as {guess}"
    close = difflib.get_close_matches(guess, sorted(known_rights_uris()), n=1, cutoff=0.8)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (
        f"{uri!r} is not a Creative Commons or RightsStatements.org URI{hint}; "
        "see https://creativecommons.org/licenses/ and https://rightsstatements.org/page/1.0/"
    )
