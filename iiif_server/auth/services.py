"""The IIIF Authorization Flow API 2.0 documents: the service descriptions an image's info.json lists,
the probe result, and the token service's messages. Pure: URLs and values in, JSON-ready dicts out."""

from __future__ import annotations

from urllib.parse import quote

from iiif_server.access.substitutes import Substitute

AUTH_CONTEXT = "http://iiif.io/api/auth/2/context.json"

LOGIN_LABEL = {"vi": ["Đăng nhập vào Lưu trữ"], "en": ["Log in to the Archives"]}
LOGIN_HEADING = {"vi": ["Tài liệu hạn chế"], "en": ["Restricted record"]}
LOGIN_NOTE = {
    "vi": ["Tài liệu này chỉ dành cho người đọc đã đăng nhập và được cấp quyền."],
    "en": ["This record is open only to signed-in readers who have been granted access."],
}
LOGIN_CONFIRM = {"vi": ["Đăng nhập"], "en": ["Log in"]}
LOGOUT_LABEL = {"vi": ["Đăng xuất khỏi Lưu trữ"], "en": ["Log out of the Archives"]}
DENIED_HEADING = {"vi": ["Không được phép xem"], "en": ["Access denied"]}
DENIED_NOTE = {
    "vi": ["Tài khoản của bạn không thuộc nhóm được xem tài liệu này."],
    "en": ["Your account is not in a group that may see this record."],
}
SUBSTITUTE_LABELS = {
    "reduced": {"vi": ["Bản thu nhỏ công khai"], "en": ["Public reduced copy"]},
    "watermarked": {"vi": ["Bản công khai có dấu chìm"], "en": ["Public watermarked copy"]},
    "reduced and watermarked": {"vi": ["Bản thu nhỏ công khai có dấu chìm"], "en": ["Public reduced, watermarked copy"]},
}
# Where a restricted image's public substitute is served: an Image API 3.0 service of its own, so that
# each version has its own URLs (Auth 2.0 "Introduction": "Each version of a resource must have a
# distinct URI to prevent web caches from providing the wrong version").
SUBSTITUTE_PREFIX = "/iiif/substitute/3"
TOKEN_ERROR_NOTES = {
    "invalidOrigin": {"vi": ["Trang này không được phép nhận mã truy cập."],
                      "en": ["This page may not receive access tokens."]},
    "missingAspect": {"vi": ["Bạn chưa đăng nhập."], "en": ["You are not logged in."]},
    "expiredAspect": {"vi": ["Phiên đăng nhập đã hết hạn."], "en": ["Your login has expired."]},
}


def auth_service_urls(base: str) -> dict[str, str]:
    return {name: f"{base}/auth/2/{name}" for name in ("login", "token", "logout")}


def probe_url(base: str, identifier: str) -> str:
    return f"{base}/auth/2/probe/{quote(identifier, safe='')}"


def substitute_service_url(base: str, identifier: str) -> str:
    return f"{base}{SUBSTITUTE_PREFIX}/{quote(identifier, safe='')}"


def substitute_resources(base: str, identifier: str, substitute: Substitute) -> list[dict[str, object]]:
    """The probe result's ``substitute`` (Auth 2.0 "Probe Service Response", "substitute"): an Image,
    as the access-controlled resource is, with the image service a deep-zoom client reads."""
    service = substitute_service_url(base, identifier)
    kind = " and ".join(word for word, present in (("reduced", substitute.max_size is not None),
                                                    ("watermarked", substitute.watermark)) if present)
    return [{
        "id": f"{service}/full/max/0/default.jpg",
        "type": "Image",
        "format": "image/jpeg",
        "label": SUBSTITUTE_LABELS[kind],
        "service": [{"id": service, "type": "ImageService3", "profile": "level2"}],
    }]


def image_auth_services(base: str, identifier: str) -> list[dict[str, object]]:
    """The ``service`` of a restricted image: a probe service, whose active access service lists its
    token and logout services (Auth 2.0 "Probe Service", "Access Service", "Access Token Service",
    "Logout Service")."""
    urls = auth_service_urls(base)
    return [{
        "id": probe_url(base, identifier),
        "type": "AuthProbeService2",
        "service": [{
            "id": urls["login"],
            "type": "AuthAccessService2",
            "profile": "active",
            "label": LOGIN_LABEL,
            "heading": LOGIN_HEADING,
            "note": LOGIN_NOTE,
            "confirmLabel": LOGIN_CONFIRM,
            "service": [
                {"id": urls["token"], "type": "AuthAccessTokenService2"},
                {"id": urls["logout"], "type": "AuthLogoutService2", "label": LOGOUT_LABEL},
            ],
        }],
    }]


def probe_result(
    probe_id: str, status: int, signed_in: bool, substitute: list[dict[str, object]] | None = None
) -> dict[str, object]:
    """``status`` is what the image request with the same credentials would get (Auth 2.0 "Probe Service
    Response"); ``substitute`` is listed only with a refusal, as the spec requires."""
    result: dict[str, object] = {"@context": AUTH_CONTEXT, "id": probe_id, "type": "AuthProbeResult2", "status": status}
    if status != 200:
        if substitute:
            result["substitute"] = substitute
        result["heading"] = DENIED_HEADING if signed_in else LOGIN_HEADING
        result["note"] = DENIED_NOTE if signed_in else LOGIN_NOTE
    return result


def access_token_message(token: str, expires_in: int, message_id: str) -> dict[str, object]:
    return {"@context": AUTH_CONTEXT, "type": "AuthAccessToken2", "accessToken": token,
            "expiresIn": expires_in, "messageId": message_id}


def access_token_error(profile: str, message_id: str) -> dict[str, object]:
    return {"@context": AUTH_CONTEXT, "type": "AuthAccessTokenError2", "profile": profile,
            "note": TOKEN_ERROR_NOTES[profile], "messageId": message_id}
