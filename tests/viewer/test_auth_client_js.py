"""viewer/static/auth-client.js: reading Auth 2.0 service descriptions and probe results, run in Chromium."""

from __future__ import annotations

import pytest

PROBE = "https://iiif.example.org/auth/2/probe/letter"
TOKEN = {"id": "https://iiif.example.org/auth/2/token", "type": "AuthAccessTokenService2"}
LOGOUT = {"id": "https://iiif.example.org/auth/2/logout", "type": "AuthLogoutService2", "label": {"en": ["Log out"]}}
ACTIVE = {"id": "https://iiif.example.org/auth/2/login", "type": "AuthAccessService2", "profile": "active",
          "label": {"en": ["Log in to the Archives"]}, "heading": {"vi": ["Tài liệu hạn chế"]},
          "note": {"en": ["Readers only."]}, "confirmLabel": {"en": ["Log in"]}, "service": [TOKEN, LOGOUT]}
KIOSK = {"id": "https://iiif.example.org/auth/2/kiosk", "type": "AuthAccessService2", "profile": "kiosk",
         "service": [TOKEN]}
EXTERNAL = {"type": "AuthAccessService2", "profile": "external", "label": {"en": ["Portal"]}, "service": [TOKEN]}


def info_with(*access: dict, probe_id: str = PROBE) -> dict:
    return {"id": "https://iiif.example.org/iiif/3/letter", "type": "ImageService3",
            "service": [{"id": probe_id, "type": "AuthProbeService2", "service": list(access)}]}


SERVICE_CASES = [
    pytest.param(info_with(ACTIVE), [("active", ACTIVE["id"], TOKEN["id"], LOGOUT["id"])],
                 id="2.1 Declaring Services: probe > access > token and logout"),
    pytest.param(info_with(ACTIVE, KIOSK, EXTERNAL),
                 [("external", None, TOKEN["id"], None), ("kiosk", KIOSK["id"], TOKEN["id"], None),
                  ("active", ACTIVE["id"], TOKEN["id"], LOGOUT["id"])],
                 id="3.3 Interaction Patterns: external, then kiosk, then active"),
    pytest.param(info_with({**ACTIVE, "service": [LOGOUT]}), [],
                 id="3.1 service: an access service without its token service is unusable"),
    pytest.param(info_with({**ACTIVE, "id": "javascript:alert(1)"}), [],
                 id="3.1 id: an active access service must have an http(s) URI"),
    pytest.param(info_with({**ACTIVE, "profile": "clickthrough"}), [],
                 id="3.1 profile: only active, kiosk and external"),
    pytest.param(info_with({**ACTIVE, "service": [TOKEN, {**LOGOUT, "id": "data:text/html,x"}]}),
                 [("active", ACTIVE["id"], TOKEN["id"], None)],
                 id="6.1 id: a logout service that is not http(s) is left out"),
]


@pytest.fixture(scope="module")
def auth_client(browser, published_site):
    """A page on the server's origin with auth-client.js imported as window.authClient."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{published_site.base_url}/viewer/exhibitions/")
    page.evaluate("async () => { window.authClient = await import('/viewer/static/auth-client.js'); }")
    yield page
    context.close()


@pytest.mark.parametrize(("info", "expected"), SERVICE_CASES)
def test_auth_services(auth_client, info: dict, expected: list) -> None:
    probes = auth_client.evaluate("(info) => window.authClient.authServices(info)", info)
    assert [probe["id"] for probe in probes] == [PROBE]
    found = [(access["profile"], access["id"], access["token"]["id"], (access["logout"] or {}).get("id"))
             for access in probes[0]["access"]]
    assert found == expected


def test_auth_services_keep_the_language_maps_of_the_active_pattern(auth_client) -> None:
    """3.3.1 Active Interaction Pattern: label, heading, note and confirmLabel, as language maps."""
    [probe] = auth_client.evaluate("(info) => window.authClient.authServices(info)", info_with(ACTIVE))
    [access] = probe["access"]
    assert {name: access[name] for name in ("label", "heading", "note", "confirmLabel")} == {
        name: ACTIVE[name] for name in ("label", "heading", "note", "confirmLabel")}


def test_a_resource_without_a_probe_service_is_open(auth_client) -> None:
    """2.1: the probe service is what marks an access-controlled resource; a bad probe id is no probe."""
    open_info = {"id": "https://iiif.example.org/iiif/3/decree", "type": "ImageService3",
                 "service": [{"id": "https://iiif.example.org/search", "type": "SearchService2"}]}
    assert auth_client.evaluate("(info) => window.authClient.authServices(info)", open_info) == []
    bad_probe = info_with(ACTIVE, probe_id="javascript:alert(1)")
    assert auth_client.evaluate("(info) => window.authClient.authServices(info)", bad_probe) == []


IMAGE_SOURCE_CASES = [
    pytest.param({"id": "https://iiif.example.org/iiif/3/letter-substitute/", "type": "ImageService3"},
                 {"infoUrl": "https://iiif.example.org/iiif/3/letter-substitute/info.json"},
                 id="5.2 substitute: an image service"),
    pytest.param({"id": "https://iiif.example.org/iiif/3/letter-substitute/full/max/0/default.jpg", "type": "Image",
                  "service": [{"id": "https://iiif.example.org/iiif/3/letter-substitute", "type": "ImageService3"}]},
                 {"infoUrl": "https://iiif.example.org/iiif/3/letter-substitute/info.json"},
                 id="5.2 substitute: an image with its image service"),
    pytest.param({"id": "https://iiif.example.org/letter-watermarked.jpg", "type": "Image"},
                 {"imageUrl": "https://iiif.example.org/letter-watermarked.jpg"},
                 id="5.2 substitute: a plain image"),
    pytest.param({"id": "https://iiif.example.org/letter.mp4", "type": "Video"}, None,
                 id="5.2 substitute: not an image"),
    pytest.param({"id": "javascript:alert(1)", "type": "Image"}, None, id="5.2 substitute: not http(s)"),
    pytest.param(None, None, id="5.2 location: absent"),
]


@pytest.mark.parametrize(("resource", "expected"), IMAGE_SOURCE_CASES)
def test_image_source(auth_client, resource, expected) -> None:
    assert auth_client.evaluate("(resource) => window.authClient.imageSource(resource)", resource) == expected
