"""The audit trail: who logged in, got a token, logged out, or asked for a restricted image, and what
they got. One JSON object per line, appended (README "Audit log" says why JSON lines).

An event carries only the fields below: never a token, cookie, password or secret. The log is
written by every worker process at once: each event is one ``write`` of one whole line to a file
opened with ``O_APPEND``, which Linux makes atomic against other appends to a local file, so lines
never interleave. A rotated log (renamed or removed by logrotate) is noticed before the next write,
which goes to a new file at the configured path."""

from __future__ import annotations

import enum
import gzip
import json
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol


class AuditAction(enum.Enum):
    LOGIN = "login"
    TOKEN = "token"
    LOGOUT = "logout"
    INFO = "info"  # info.json of a restricted image
    IMAGE = "image"  # an image request for a restricted image
    PROBE = "probe"  # the probe of a restricted image


class AuditOutcome(enum.Enum):
    ALLOWED = "allowed"
    REFUSED = "refused"


@dataclass(frozen=True)
class AuditEvent:
    time: datetime  # timezone-aware, UTC
    action: AuditAction
    outcome: AuditOutcome
    # The client address (the proxy's client when the proxy is trusted: README "Kiosk").
    client: str
    # The reader the credential names, or the name given at a login; empty for an anonymous request.
    user: str = ""
    identifier: str = ""
    # The image request's region and size segments, as the client sent them.
    region: str = ""
    size: str = ""
    # How: the login method (password, oidc, kiosk, external), or why it was refused (throttled,
    # missingAspect, ...).
    detail: str = ""

    def json_line(self) -> bytes:
        fields = asdict(self)
        fields.update(time=_iso(self.time), action=self.action.value, outcome=self.outcome.value)
        return (json.dumps(fields, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    @classmethod
    def from_json_line(cls, line: str) -> AuditEvent:
        fields = json.loads(line)
        return cls(**{**fields, "time": datetime.fromisoformat(fields["time"]),
                      "action": AuditAction(fields["action"]), "outcome": AuditOutcome(fields["outcome"])})


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None:
        """Keep ``event``; called on the request's thread, from any number of threads at once."""
        ...


class MemoryAuditLog:
    """The events of this process, in order, in memory."""

    def __init__(self) -> None:
        self._events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> None:
        with self._lock:
            self._events.append(event)

    def events(self) -> list[AuditEvent]:
        with self._lock:
            return list(self._events)


class JsonLinesAuditLog:
    """Appends events to a file, opened at the first event and again after each rotation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor: int | None = None
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> None:
        line = event.json_line()
        with self._lock:
            descriptor = self._current_descriptor()
            written = os.write(descriptor, line)
        if written != len(line):  # only a full disk cuts a regular file's write short
            raise OSError(f"audit log {self.path}: wrote {written} of {len(line)} bytes")

    def _current_descriptor(self) -> int:
        if self._descriptor is not None:
            try:
                on_disk = os.stat(self.path)
            except FileNotFoundError:
                on_disk = None
            held = os.fstat(self._descriptor)
            if on_disk is not None and (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino):
                return self._descriptor
            os.close(self._descriptor)  # rotated away: the next line starts the new file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._descriptor

    def close(self) -> None:
        with self._lock:
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None


@dataclass(frozen=True)
class AuditFilter:
    """Which events ``iiif-archive audit`` lists: all of these that are set must hold."""

    user: str | None = None
    # An identifier, or a folder of identifiers (as in access rules).
    identifier: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def matches(self, event: AuditEvent) -> bool:
        prefix = self.identifier.strip("/") if self.identifier is not None else None
        return ((self.user is None or event.user == self.user)
                and (prefix is None or event.identifier == prefix or event.identifier.startswith(prefix + "/"))
                and (self.since is None or event.time >= self.since)
                and (self.until is None or event.time < self.until))


def rotated_log_files(path: Path) -> list[Path]:
    """``path`` after the files logrotate has rotated it into (``audit.jsonl.1``, ``audit.jsonl.2.gz``,
    ...), oldest first."""
    numbered = []
    for candidate in path.parent.glob(path.name + ".*"):
        number = candidate.name[len(path.name) + 1:].removesuffix(".gz")
        if number.isdigit():
            numbered.append((int(number), candidate))
    current = [path] if path.exists() else []
    return [candidate for _, candidate in sorted(numbered, reverse=True)] + current


def read_audit_events(paths: Iterable[Path]) -> Iterator[AuditEvent]:
    """The events of the files in order (name rotated files oldest first); ``.gz`` files are read
    compressed, as logrotate leaves them."""
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        yield AuditEvent.from_json_line(line)
                    except (ValueError, KeyError, TypeError) as error:
                        raise ValueError(f"{path}:{number}: not an audit event ({error})") from None
