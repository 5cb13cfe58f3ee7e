"""The Image API blueprints, one per version (/iiif/3/, /iiif/2/), and the substitutes' (/iiif/substitute/3/):
parse, call the pipeline, respond."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from iiif_server.info import V2_CONTEXT, V2_PROFILE_URI, V3_CONTEXT, V3_PROFILE_URI, info_json_v2, info_json_v3
from iiif_server.access.base import Reader, is_restricted
from iiif_server.auth.audit import AuditAction
from iiif_server.auth.services import AUTH_CONTEXT, image_auth_services, offered_access_profiles, substitute_service_url
from iiif_server.auth.web import audit_restricted_request, cookie_reader, credential_signer
from iiif_server.pipeline import ImagePipeline, PreparedImage
from iiif_server.request import ApiVersion, BaseUriRequest, ImageRequest, InfoRequest, parse_image_path
from iiif_server.sources.base import Master
from iiif_server.web.replay import REPLAYABLE_ENVIRON_KEY
from iiif_server.web.responses import (
    cacheable, last_modified_of, not_modified, not_modified_response, public_base_url, restricted, strong_etag,
    validator_headers,
)

_PROFILE_URI = {ApiVersion.V3: V3_PROFILE_URI, ApiVersion.V2: V2_PROFILE_URI}
_CONTEXT = {ApiVersion.V3: V3_CONTEXT, ApiVersion.V2: V2_CONTEXT}
_INFO_JSON = {ApiVersion.V3: info_json_v3, ApiVersion.V2: info_json_v2}


def image_api_blueprint(version: ApiVersion, substitute: bool = False) -> Blueprint:
    """The Image API of the masters, or with ``substitute`` (3.0 only, under SUBSTITUTE_PREFIX) of the
    public substitutes of restricted images: anyone gets them, and they have URLs of their own."""
    blueprint = Blueprint(f"image_api_v{version.value}" + ("_substitute" if substitute else ""), __name__)

    @blueprint.route("/<path:path>", methods=["GET", "HEAD", "OPTIONS"])
    def image_api(path: str) -> Response:
        if request.method == "OPTIONS":
            return Response(status=204)
        parsed = parse_image_path(path, version)
        if isinstance(parsed, InfoRequest):
            return _substitute_info_response(parsed) if substitute else _info_response(parsed)
        if isinstance(parsed, ImageRequest):
            return _image_response(parsed, substitute)
        return _base_uri_redirect(parsed, substitute)

    return blueprint


def _pipeline() -> ImagePipeline:
    return current_app.extensions["iiif"]


def service_id(version: ApiVersion, identifier: str, substitute: bool = False) -> str:
    return image_service_id(public_base_url(), version, identifier, substitute)


def image_service_id(base_url: str, version: ApiVersion, identifier: str, substitute: bool = False) -> str:
    if substitute:
        return substitute_service_url(base_url, identifier)
    return f"{base_url}/iiif/{version.value}/{quote(identifier, safe='')}"


def _profile_link(version: ApiVersion) -> str:
    return f'<{_PROFILE_URI[version]}>;rel="profile"'


def _info_response(parsed: InfoRequest) -> Response:
    master, document = _info_document(_pipeline(), parsed, public_base_url())
    restricted = is_restricted(_pipeline().access.rule_for(parsed.identifier))
    if restricted:
        audit_restricted_request(AuditAction.INFO, parsed.identifier, cookie_reader())
    if parsed.version is ApiVersion.V3 and restricted and credential_signer() is not None:
        services = image_auth_services(public_base_url(), parsed.identifier,
                                       offered_access_profiles(current_app.config["IIIF_SETTINGS"]))
        if services:
            # Auth 2.0 "Probe Service": the image service lists it; an extension's context comes before
            # the Image API's, which stays last (Image API 3.0 "Linked Data Context and Extensions").
            document["@context"] = [AUTH_CONTEXT, document["@context"]]
            document["service"] = services
    return _info_document_response(parsed, master, document, replayable=not restricted)


def _substitute_info_response(parsed: InfoRequest) -> Response:
    """The substitute's image information: public, with no Auth services (Auth 2.0 "substitute": a
    substitute that declares none must be accessible to whoever probed)."""
    master, info, _ = _pipeline().substitute_info(parsed.identifier)
    document = _INFO_JSON[parsed.version](info, service_id(parsed.version, parsed.identifier, True), _pipeline().limits)
    return _info_document_response(parsed, master, document, replayable=True)


def _info_document_response(parsed: InfoRequest, master: Master, document: dict[str, object], *,
                            replayable: bool) -> Response:
    encoded = encode_info(parsed.version, master, document, request.headers.get("Accept"))
    headers = _info_headers(parsed.version)
    if not_modified(encoded.etag, encoded.modified, request.environ):
        return not_modified_response(encoded.etag, encoded.modified, headers)
    response = Response(encoded.body, content_type=encoded.media_type, headers=headers)
    if replayable:  # not a restricted image's: a replayed answer would pass by the audit log
        request.environ[REPLAYABLE_ENVIRON_KEY] = master
    return cacheable(response, encoded.etag, encoded.modified)


@dataclass(frozen=True)
class EncodedInfo:
    body: str
    media_type: str
    etag: str
    modified: datetime


def encode_info(version: ApiVersion, master: Master, document: dict[str, object], accept: str | None) -> EncodedInfo:
    """An info.json document as the ``Accept`` header asks for it: JSON-LD with the API's context as
    its profile when the client prefers that, else plain JSON."""
    wants_jsonld = _prefers_jsonld(accept)
    media_type = f'application/ld+json;profile="{_CONTEXT[version]}"' if wants_jsonld else "application/json"
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return EncodedInfo(body, media_type, strong_etag(master.fingerprint.token, media_type, body),
                       last_modified_of(master.fingerprint.mtime_ns))


def _prefers_jsonld(accept: str | None) -> bool:
    # A header naming neither type (none, */*, image/*, application/*) gives both the same quality:
    # plain JSON, without parsing it.
    named = (accept or "").lower()
    if "ld+json" not in named and "application/json" not in named:
        return False
    accepted = parse_accept_header(accept, MIMEAccept)
    return accepted.quality("application/ld+json") > accepted.quality("application/json")


def answer_public_info(pipeline: ImagePipeline, parsed: InfoRequest, accept: str | None, base_url: str,
                       cache_control: str) -> tuple[Master, bytes, dict[str, str]]:
    """The master, body and headers of the info.json of an image no access rule restricts (a
    restricted one's lists Auth services and is audited: the view answers it), for web/direct.py."""
    master, document = _info_document(pipeline, parsed, base_url)
    encoded = encode_info(parsed.version, master, document, accept)
    headers = {**_info_headers(parsed.version), "Content-Type": encoded.media_type,
               **validator_headers(encoded.etag, encoded.modified, cache_control)}
    return master, encoded.body.encode(), headers


def _info_document(pipeline: ImagePipeline, parsed: InfoRequest, base_url: str) -> tuple[Master, dict[str, object]]:
    master, info = pipeline.image_info(parsed.identifier)
    service = image_service_id(base_url, parsed.version, parsed.identifier)
    return master, _INFO_JSON[parsed.version](info, service, pipeline.limits)


def _info_headers(version: ApiVersion) -> dict[str, str]:
    return {"Link": _profile_link(version), "Vary": "Accept"}


def _image_response(parsed: ImageRequest, substitute: bool) -> Response:
    reader = None if substitute else cookie_reader()
    if not substitute:  # a substitute is public: not a request for the restricted image
        # The region and size segments as sent: the last four segments are region, size, rotation, quality.format.
        region, size = request.path.rsplit("/", 4)[1:3]
        audit_restricted_request(AuditAction.IMAGE, parsed.identifier, reader, region, size)
    answer = answer_image(_pipeline(), parsed, reader, request.environ, public_base_url(),
                          current_app.config["IIIF_SETTINGS"].cache_control, substitute)
    # werkzeug leaves a 304 without the body's headers (RFC 9110 §15.4.5)
    response = Response(answer.data, status=200 if answer.data is not None else 304, headers=answer.headers)
    if answer.prepared.restricted:
        return restricted(response)
    if answer.data is not None:
        request.environ[REPLAYABLE_ENVIRON_KEY] = answer.prepared.master
    return response


@dataclass(frozen=True)
class ImageAnswer:
    """An image request's answer as the data path gives it, before any web framework sees it."""

    prepared: PreparedImage
    data: bytes | None  # None: the client's copy is current (a 304)
    headers: dict[str, str]  # Link, validators, Cache-Control; Content-Type with data


def answer_image(pipeline: ImagePipeline, parsed: ImageRequest, reader: Reader | None, environ: dict,
                 base_url: str, cache_control: str, substitute: bool = False) -> ImageAnswer:
    """The answer to an image request (the blueprint's and web/direct.py's): ``environ`` holds the
    client's validators; ``base_url`` is the public base the canonical link names."""

    def client_copy_is_current(prepared: PreparedImage) -> bool:
        return not_modified(_etag_of(prepared), _last_modified_of(prepared), environ)

    prepared, data = pipeline.answer(parsed, reader, client_copy_is_current, substitute)
    canonical = f"{image_service_id(base_url, parsed.version, parsed.identifier, substitute)}/{prepared.plan.canonical}"
    headers = {"Link": f'<{canonical}>;rel="canonical", {_profile_link(parsed.version)}',
               **validator_headers(_etag_of(prepared), _last_modified_of(prepared), cache_control)}
    if data is not None:
        headers["Content-Type"] = prepared.plan.format.media_type
    return ImageAnswer(prepared, data, headers)


def _etag_of(prepared: PreparedImage) -> str:
    return strong_etag(prepared.cache_key)


def _last_modified_of(prepared: PreparedImage) -> datetime:
    return last_modified_of(prepared.master.fingerprint.mtime_ns)


def _base_uri_redirect(parsed: BaseUriRequest, substitute: bool) -> Response:
    # 404 here rather than a redirect to a 404
    if substitute:
        _pipeline().substitute_info(parsed.identifier)
    else:
        _pipeline().locate(parsed.identifier)
    return redirect(f"{service_id(parsed.version, parsed.identifier, substitute)}/info.json", code=303)
