"""Access policies that need no external service."""

from __future__ import annotations

from iiif_server.access.base import AccessDecision, AccessRequest


class OpenAccess:
    """Every image is public: the archive's published collections."""

    def decide(self, request: AccessRequest) -> AccessDecision:
        return AccessDecision.ALLOW


class RestrictedPrefixes:
    """Identifiers under the given prefixes are refused (403) until an authorization service exists for them."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = tuple(prefix.rstrip("/") + "/" for prefix in prefixes)

    def decide(self, request: AccessRequest) -> AccessDecision:
        restricted = (request.identifier + "/").startswith(self.prefixes)
        return AccessDecision.DENY if restricted else AccessDecision.ALLOW
