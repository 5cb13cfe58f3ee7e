"""A document's ``access:`` -> the rules file the build writes -> what the image server decides."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from iiif_archive.app import create_platform_app
from iiif_archive.settings import PlatformSettings
from iiif_server.access.base import AccessLevel
from iiif_server.access.rules import RULES_FILE_CHECK_SECONDS, parse_rules_file
from iiif_server.auth.services import AUTH_CONTEXT
from manifests.build import ACCESS_RULES_PATH, Urls, build_access_rules, plan_outputs
from manifests.images import check_content
from manifests.load import ContentError, load_content
from manifests.model import DocumentAccess
from manifests.write import publish, schema_errors
from tests.manifests.conftest import MINIMAL_DOCUMENT, write_document


def document_with(document_id: str, image: str, access: str) -> str:
    return MINIMAL_DOCUMENT.format(id=document_id, image=image) + access


def test_a_document_states_its_access(tmp_path: Path) -> None:
    write_document(tmp_path, "closed", text=document_with("closed", "fonds/p1", "access:\n  level: restricted\n"
                                                                                 "  groups: [lawyers, archivists]\n"))
    write_document(tmp_path, "room", text=document_with("room", "fonds/p2", "access: {level: reading-room}\n"))
    write_document(tmp_path, "open", image="fonds/p3")
    documents = {document.id: document for document in load_content(tmp_path).documents}
    assert documents["closed"].access == DocumentAccess(AccessLevel.RESTRICTED, ("archivists", "lawyers"))
    assert documents["room"].access == DocumentAccess(AccessLevel.READING_ROOM)
    assert documents["open"].access is None


@pytest.mark.parametrize(("access", "line", "message"), [
    pytest.param("access: {level: secret}\n", 11, "access > level: 'secret' is not", id="unknown level"),
    pytest.param("access: {groups: [archivists]}\n", 11, "access: ", id="no level"),
    pytest.param("access: {level: restricted, groups: ['a,b']}\n", 11, "access > groups > item 1: ", id="group with a comma"),
    pytest.param("access:\n  level: public\n  groups: [archivists]\n", 13, "access > groups: a public document is open",
                 id="public with groups"),
])
def test_access_mistakes_name_file_line_and_field(tmp_path: Path, access: str, line: int, message: str) -> None:
    path = write_document(tmp_path, "doc", text=document_with("doc", "fonds/p1", access))
    with pytest.raises(ContentError) as raised:
        load_content(tmp_path)
    [problem] = str(raised.value).splitlines()
    assert problem.startswith(f"{path}:{line}: {message}")


def test_an_image_shown_by_two_documents_of_different_access_is_refused(tmp_path: Path) -> None:
    write_document(tmp_path, "a-closed", text=document_with("a-closed", "fonds/p1", "access: {level: restricted}\n"))
    second = write_document(tmp_path, "b-open", text=document_with("b-open", "fonds/p1", "access: {level: public}\n"))
    write_document(tmp_path, "c-same", text=document_with("c-same", "fonds/p1", "access: {level: restricted}\n"))
    with pytest.raises(ContentError) as raised:
        load_content(tmp_path)
    assert str(raised.value).splitlines() == [
        f"{second}:11: access: image 'fonds/p1' is also in {tmp_path / 'documents' / 'a-closed.yml'} with access "
        "'restricted'; give both documents the same access"]


def test_the_build_writes_one_rule_per_page_of_each_document_stating_access(tmp_path: Path) -> None:
    write_document(tmp_path, "closed", text=document_with("closed", "fonds/p1", "access: {level: restricted, groups: [archivists]}\n"))
    write_document(tmp_path, "open", text=document_with("open", "fonds/p2", "access: {level: public}\n"))
    write_document(tmp_path, "plain", image="fonds/p3")
    rules = json.loads(build_access_rules(load_content(tmp_path)).json())
    assert rules == {"rules": [{"prefix": "fonds/p1", "level": "restricted", "groups": ["archivists"]},
                               {"prefix": "fonds/p2", "level": "public", "groups": []}]}
    # Exactly the format the image server reads.
    assert [rule.prefix for rule in parse_rules_file(json.dumps(rules), "built")] == ["fonds/p1", "fonds/p2"]


@pytest.fixture()
def restricted_build(tmp_path: Path, image_root: Path) -> tuple[Path, Path]:
    content, out = tmp_path / "content", tmp_path / "public"
    write_document(content, "closed", text=document_with("closed", "grid-png", "access: {level: restricted}\n"))
    write_document(content, "plain", image="grid-tiff")
    checked, sizes = check_content(content, image_root)
    publish(plan_outputs(checked, sizes, Urls("http://localhost")), out, stream_url="http://localhost/iiif/discovery",
            progress=False)
    return content, out


def test_the_platform_serves_what_the_build_restricted(restricted_build, image_root: Path) -> None:
    """The build writes, the server reads: the image server never imports the manifests."""
    content, out = restricted_build
    assert (out / ACCESS_RULES_PATH).is_file()
    app = create_platform_app(PlatformSettings(image_root=image_root, presentation_root=out, auth_secret="k",
                                               auth_users_file=out.parent / "users.json",
                                               restricted_prefixes="grid-jpeg"))
    client = app.test_client()
    assert client.get("/iiif/3/grid-png/0,0,256,256/128,/0/default.jpg").status_code == 403
    assert client.get("/iiif/3/grid-png/info.json").get_json()["service"][0]["type"] == "AuthProbeService2"
    assert client.get("/iiif/3/grid-tiff/0,0,256,256/128,/0/default.jpg").status_code == 200  # no rule: public
    assert client.get("/iiif/3/grid-jpeg/0,0,256,256/128,/0/default.jpg").status_code == 403  # the settings' rule
    assert client.get(f"/iiif/presentation/{ACCESS_RULES_PATH}").status_code == 404  # never handed out
    # A rebuild that opens the document governs within a second, without a restart.
    write_document(content, "closed", text=document_with("closed", "grid-png", "access: {level: public}\n"))
    checked, sizes = check_content(content, image_root)
    publish(plan_outputs(checked, sizes, Urls("http://localhost")), out, stream_url="http://localhost/iiif/discovery",
            progress=False)
    deadline = time.monotonic() + 10 * RULES_FILE_CHECK_SECONDS
    while client.get("/iiif/3/grid-png/0,0,256,256/128,/0/default.jpg").status_code != 200:
        assert time.monotonic() < deadline, "the rebuilt rules were not read"
        time.sleep(0.2)


def probe_services(services: list[dict]) -> list[dict]:
    return [service for service in services if service.get("type") == "AuthProbeService2"]


def test_restricted_images_carry_the_probe_service_in_manifests(restricted_build, image_root: Path) -> None:
    """Auth 2.0 "Declaring Services": the probe "MAY additionally be declared in the Manifest with the image
    service", its access services inside it, the Auth context before the Presentation one."""
    content, out = restricted_build
    closed = json.loads((out / "manifests" / "closed.json").read_text())
    assert schema_errors(closed) == []
    assert closed["@context"] == [AUTH_CONTEXT, "http://iiif.io/api/presentation/3/context.json"]
    canvas = closed["items"][0]
    body = canvas["items"][0]["items"][0]["body"]
    # A users file makes the active access service work, so info.json lists the probe (else it has none).
    app = create_platform_app(PlatformSettings(image_root=image_root, presentation_root=out, auth_secret="k",
                                               auth_users_file=out.parent / "users.json"))
    info = app.test_client().get("/iiif/3/grid-png/info.json").get_json()
    # The same services as the image's info.json, so a client can start the flow from either.
    for services in (body["service"], canvas["thumbnail"][0]["service"], closed["thumbnail"][0]["service"]):
        assert [service.get("type", service.get("@type")) for service in services] == [
            "ImageService3", "ImageService2", "AuthProbeService2"]
        assert probe_services(services) == info["service"]
    [probe] = probe_services(body["service"])
    assert probe["id"] == "http://localhost/auth/2/probe/grid-png"
    [access] = probe["service"]
    assert (access["type"], access["profile"]) == ("AuthAccessService2", "active")
    assert [service["type"] for service in access["service"]] == ["AuthAccessTokenService2", "AuthLogoutService2"]
    plain = json.loads((out / "manifests" / "plain.json").read_text())
    assert plain["@context"] == "http://iiif.io/api/presentation/3/context.json"
    assert not probe_services(plain["items"][0]["items"][0]["items"][0]["body"]["service"])
