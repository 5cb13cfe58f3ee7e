"""auth/credentials.py: signed, expiring access cookies and tokens."""

from __future__ import annotations

import pytest

from iiif_server.access.base import Reader
from iiif_server.auth.credentials import CredentialKind, CredentialSigner

LAN = Reader("lan", frozenset({"archivists", "staff"}))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_credential_names_the_reader_and_its_groups_until_it_expires():
    clock = Clock()
    signer = CredentialSigner("secret", 600, clock)
    value, grant = signer.issue(CredentialKind.COOKIE, LAN)
    assert signer.read(CredentialKind.COOKIE, value) == grant
    assert grant.reader == LAN and grant.expires_at == 1_800_000_600
    clock.now += 599
    assert signer.seconds_left(signer.read(CredentialKind.COOKIE, value)) == 1
    clock.now += 1
    assert signer.read(CredentialKind.COOKIE, value) is None


def test_a_token_is_not_a_cookie_and_a_cookie_is_not_a_token():
    signer = CredentialSigner("secret", 600)
    token, _ = signer.issue(CredentialKind.TOKEN, LAN)
    cookie, _ = signer.issue(CredentialKind.COOKIE, LAN)
    assert signer.read(CredentialKind.COOKIE, token) is None
    assert signer.read(CredentialKind.TOKEN, cookie) is None


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda value: value[:-2] + ("AA" if not value.endswith("AA") else "BB"), id="signature changed"),
    pytest.param(lambda value: "x" + value, id="payload changed"),
    pytest.param(lambda value: "", id="empty"),
    pytest.param(lambda value: "not.a.credential", id="garbage"),
])
def test_tampered_credentials_are_refused(tamper):
    signer = CredentialSigner("secret", 600)
    value, _ = signer.issue(CredentialKind.TOKEN, LAN)
    assert signer.read(CredentialKind.TOKEN, tamper(value)) is None


def test_another_key_signs_other_credentials():
    value, _ = CredentialSigner("secret", 600).issue(CredentialKind.COOKIE, LAN)
    assert CredentialSigner("other secret", 600).read(CredentialKind.COOKIE, value) is None
