"""The access contract. Called once per image request after the master is located and before any
pixel is read; must be thread-safe. Image information (info.json) is always public, as the IIIF
Authorization Flow requires, so that a client can learn which access service to use."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class AccessDecision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True)
class AccessRequest:
    identifier: str
    # The bearer token a client sent (Authorization header), if any.
    token: str | None = None


class AccessPolicy(Protocol):
    def decide(self, request: AccessRequest) -> AccessDecision: ...
