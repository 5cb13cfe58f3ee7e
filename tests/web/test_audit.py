"""The audit log after a sequence of requests (Flask client), `iiif-archive audit` over it, and a real
multi-worker gunicorn server writing it at once while it is rotated."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from click.testing import CliRunner

from iiif_archive.cli import main
from iiif_server import create_app
from iiif_server.access.base import Reader
from iiif_server.auth.audit import read_audit_events
from iiif_server.auth.credentials import CredentialKind, CredentialSigner
from iiif_server.auth.users import UsersFile
from iiif_server.auth.web import ACCESS_COOKIE
from iiif_server.settings import Settings
from tests.conftest import start_server, stop_server
from tests.web.test_auth import PORTAL, RESTRICTED_INFO, RESTRICTED_TILE, PUBLIC_TILE, log_in, token_message

PASSWORD = "mật khẩu của Lan"
SECRET = "audit test key"


def test_the_audit_log_after_a_sequence_of_requests(image_root: Path, tmp_path: Path):
    users_file, audit_log = tmp_path / "users.json", tmp_path / "audit" / "audit.jsonl"
    UsersFile(users_file).add("lan", PASSWORD, ("archivists",))
    app = create_app(Settings(image_root=image_root, restricted_prefixes="nested:archivists", auth_secret=SECRET,
                              auth_users_file=users_file, auth_token_origins=PORTAL, audit_log=audit_log))
    client = app.test_client()
    assert client.get(RESTRICTED_INFO).status_code == 200
    assert client.get(RESTRICTED_TILE).status_code == 403
    assert client.get(PUBLIC_TILE).status_code == 200  # public: not audited
    assert log_in(client, "lan", "a guess").status_code == 401
    assert log_in(client, "lan", PASSWORD).status_code == 200
    message, _, _ = token_message(client)
    token = message["accessToken"]
    probe = client.get("/auth/2/probe/nested%2Fdeeper%2Fgrid-png", headers={"Authorization": f"Bearer {token}"})
    assert probe.get_json()["status"] == 200
    assert client.get(RESTRICTED_TILE).status_code == 200
    cookie = client.get_cookie(ACCESS_COOKIE).value
    assert client.get("/auth/2/logout").status_code == 200

    identifier = "nested/deeper/grid-png"
    events = list(read_audit_events([audit_log]))
    assert [(e.action.value, e.outcome.value, e.user, e.identifier, e.region, e.size, e.detail) for e in events] == [
        ("info", "refused", "", identifier, "", "", ""),
        ("image", "refused", "", identifier, "0,0,256,256", "128,", ""),
        ("login", "refused", "lan", "", "", "", "password"),
        ("login", "allowed", "lan", "", "", "", "password"),
        ("token", "allowed", "lan", "", "", "", ""),
        ("probe", "allowed", "lan", identifier, "", "", ""),
        ("image", "allowed", "lan", identifier, "0,0,256,256", "128,", ""),
        ("logout", "allowed", "lan", "", "", "", ""),
    ]
    assert {e.client for e in events} == {"127.0.0.1"}
    assert all(e.time.tzinfo is not None and abs(time.time() - e.time.timestamp()) < 600 for e in events)
    text = audit_log.read_text(encoding="utf-8")
    for secret in (PASSWORD, "a guess", token, cookie, SECRET):
        assert secret not in text

    runner = CliRunner()
    listed = runner.invoke(main, ["audit", "--log", str(audit_log), "--user", "lan", "--identifier", "nested"])
    assert listed.exit_code == 0, listed.output
    rows = [line.split("\t") for line in listed.output.splitlines()]
    assert [(row[1], row[2], row[6]) for row in rows] == [("probe", "allowed", ""), ("image", "allowed", "128,")]
    settings_file = tmp_path / "server.toml"
    settings_file.write_text(f'audit_log = "{audit_log}"\n')
    later = runner.invoke(main, ["audit", "--config", str(settings_file), "--since", "2999-01-01"])
    assert later.exit_code == 0 and later.output == ""
    everything = runner.invoke(main, ["audit", "--config", str(settings_file), "--until", "2999-01-01T00:00:00"])
    assert len(everything.output.splitlines()) == len(events)
    unnamed = runner.invoke(main, ["audit"], env={"IIIF_AUDIT_LOG": ""})
    assert unnamed.exit_code == 2 and "name the audit log" in unnamed.output


def test_several_workers_append_whole_lines_across_a_rotation(image_root: Path, tmp_path: Path):
    """Four gunicorn workers log long events (a 2,000-character user name: lines above PIPE_BUF) at once;
    the log is renamed half-way, as logrotate does. Every request is in one of the two files, on a line
    of its own."""
    audit_log = tmp_path / "audit.jsonl"
    server = start_server(image_root, "--workers", "4", "--threads", "4", log_file=tmp_path / "server.log", env={
        "IIIF_AUDIT_LOG": str(audit_log), "IIIF_RESTRICTED_PREFIXES": "nested:archivists", "IIIF_AUTH_SECRET": SECRET,
        "IIIF_RESPONSE_CACHE_BYTES": "0"})
    long_name = "độc giả " + "ê" * 2000
    cookie = CredentialSigner(SECRET, 3600).issue(CredentialKind.COOKIE, Reader(long_name, frozenset({"visitors"})))[0]
    tile = server.base_url + "/iiif/3/nested%2Fdeeper%2Fgrid-png/{x},0,16,16/16,/0/default.png"

    def ask(x: int) -> int:
        return requests.get(tile.format(x=x), cookies={ACCESS_COOKIE: cookie}, timeout=60).status_code

    try:
        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(ask, range(0, 200)))
            os.rename(audit_log, tmp_path / "audit.jsonl.1")
            second = list(pool.map(ask, range(200, 400)))
    finally:
        stop_server(server)
    assert set(first + second) == {403}
    lines = [line for name in ("audit.jsonl.1", "audit.jsonl")
             for line in (tmp_path / name).read_bytes().split(b"\n")[:-1]]
    events = [json.loads(line) for line in lines]
    assert len(events) == 400 and all(len(line) > 4096 for line in lines)
    assert sorted(int(e["region"].split(",")[0]) for e in events) == list(range(400))
    assert {(e["user"], e["outcome"]) for e in events} == {(long_name, "refused")}
    assert (tmp_path / "audit.jsonl").stat().st_size > 0  # the workers went on in a new file
