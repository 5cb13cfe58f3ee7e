"""The audit trail's events, their file, its rotation, and the filter `iiif-archive audit` applies."""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from iiif_server.auth.audit import (
    AuditAction, AuditEvent, AuditFilter, AuditOutcome, JsonLinesAuditLog, MemoryAuditLog, read_audit_events,
    rotated_log_files,
)

NOON = datetime(2026, 11, 30, 12, 0, 0, 250_000, tzinfo=timezone.utc)


def event(user: str = "lan", identifier: str = "fonds-7/dossier-3/page-1", moment: datetime = NOON) -> AuditEvent:
    return AuditEvent(moment, AuditAction.IMAGE, AuditOutcome.ALLOWED, "10.20.0.5", user, identifier, "0,0,512,512",
                      "512,", "")


def test_an_event_is_one_json_line_and_reads_back_the_same():
    line = event(user="Nguyễn Lan\nforged line").json_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # a newline in a name cannot start a forged line
    fields = json.loads(line)
    assert fields["time"] == "2026-11-30T12:00:00.250Z"
    assert (fields["action"], fields["outcome"], fields["client"]) == ("image", "allowed", "10.20.0.5")
    assert AuditEvent.from_json_line(line.decode()) == event(user="Nguyễn Lan\nforged line")


@pytest.mark.parametrize(("wanted", "matches"), [
    pytest.param(AuditFilter(), True, id="no filter"),
    pytest.param(AuditFilter(user="lan"), True, id="user"),
    pytest.param(AuditFilter(user="minh"), False, id="other user"),
    pytest.param(AuditFilter(identifier="fonds-7/dossier-3/page-1"), True, id="identifier"),
    pytest.param(AuditFilter(identifier="fonds-7"), True, id="folder of the identifier"),
    pytest.param(AuditFilter(identifier="fonds-7/dossier-3/"), True, id="folder with a trailing slash"),
    pytest.param(AuditFilter(identifier="fonds-7/dossier"), False, id="a name that only starts the same"),
    pytest.param(AuditFilter(since=NOON), True, id="since is inclusive"),
    pytest.param(AuditFilter(until=NOON), False, id="until is exclusive"),
    pytest.param(AuditFilter(since=datetime(2026, 12, 1, tzinfo=timezone.utc)), False, id="before since"),
    pytest.param(AuditFilter(user="lan", identifier="fonds-8"), False, id="every set field must hold"),
])
def test_the_filter(wanted: AuditFilter, matches: bool):
    assert wanted.matches(event()) is matches


def test_the_file_survives_reopening_and_follows_rotation(tmp_path: Path):
    path = tmp_path / "logs" / "audit.jsonl"
    log = JsonLinesAuditLog(path)
    log.record(event(user="first"))
    log.close()
    again = JsonLinesAuditLog(path)  # a restart appends, it does not truncate
    again.record(event(user="second"))
    os.rename(path, path.with_name("audit.jsonl.1"))  # logrotate's default: rename, the writer reopens
    again.record(event(user="third"))
    with gzip.open(path.with_name("audit.jsonl.2.gz"), "wb") as older:
        older.write(event(user="zeroth").json_line())
    path.with_name("audit.jsonl.bak").write_text("not a rotation\n")
    again.close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    files = rotated_log_files(path)
    assert [file.name for file in files] == ["audit.jsonl.2.gz", "audit.jsonl.1", "audit.jsonl"]
    assert [read.user for read in read_audit_events(files)] == ["zeroth", "first", "second", "third"]


def test_a_truncated_log_is_appended_to_from_its_start(tmp_path: Path):
    """logrotate's copytruncate: O_APPEND writes land at the new end, leaving no hole of zero bytes."""
    path = tmp_path / "audit.jsonl"
    log = JsonLinesAuditLog(path)
    log.record(event(user="before"))
    path.write_bytes(b"")
    log.record(event(user="after"))
    log.close()
    assert [read.user for read in read_audit_events([path])] == ["after"]


def test_a_line_that_is_not_an_event_is_reported_with_its_place(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(event().json_line() + b'{"time": "yesterday"}\n')
    with pytest.raises(ValueError, match=r"audit.jsonl:2: not an audit event"):
        list(read_audit_events([path]))


def test_the_memory_log_keeps_events_in_order():
    log = MemoryAuditLog()
    log.record(event(user="a"))
    log.record(event(user="b"))
    assert [kept.user for kept in log.events()] == ["a", "b"]
