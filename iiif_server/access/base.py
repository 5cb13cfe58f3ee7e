"""The access contract. ``rule_for`` and ``decide`` are called once per image request after the master
is located and before any pixel is read; both must be thread-safe. Image information (info.json) is
always public, as the IIIF Authorization Flow requires, so that a client can learn which access service
to use."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class AccessDecision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


class AccessLevel(enum.Enum):
    PUBLIC = "public"  # anyone
    RESTRICTED = "restricted"  # signed-in readers (of the rule's groups, when it names any)
    # Readers at the reading room's terminals, and staff: readers of the rule's groups, and when it
    # names none, of READING_ROOM_GROUP (the group reading-room terminals and accounts are given).
    READING_ROOM = "reading-room"


READING_ROOM_GROUP = "reading-room"


@dataclass(frozen=True)
class AccessRule:
    # An identifier, or a folder of identifiers: the rule covers it and everything below it.
    prefix: str
    level: AccessLevel
    # Groups whose readers may see what the rule covers; empty: every signed-in reader.
    groups: frozenset[str] = frozenset()

    def covers(self, identifier: str) -> bool:
        return identifier == self.prefix or identifier.startswith(self.prefix + "/")

    def admits(self, reader: Reader | None) -> bool:
        """``reader`` (None: anonymous) may see what the rule covers."""
        if self.level is AccessLevel.PUBLIC:
            return True
        groups = self.groups or (frozenset({READING_ROOM_GROUP}) if self.level is AccessLevel.READING_ROOM else frozenset())
        return reader is not None and (not groups or bool(groups & reader.groups))


def is_restricted(rule: AccessRule | None) -> bool:
    """Some readers may not see what ``rule`` governs: its answers are theirs alone, never shared."""
    return rule is not None and rule.level is not AccessLevel.PUBLIC


@dataclass(frozen=True)
class Reader:
    """A signed-in reader, as the signed access cookie or token names them."""

    user: str
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AccessRequest:
    identifier: str
    # Who asks, when the request carries a valid access cookie (images) or token (probe).
    reader: Reader | None = None


class AccessPolicy(Protocol):
    def rule_for(self, identifier: str) -> AccessRule | None:
        """The rule that governs ``identifier``; None when none does (the image is public)."""
        ...

    def decide(self, request: AccessRequest) -> AccessDecision: ...
