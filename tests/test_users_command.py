"""``iiif-archive users add|remove|list``: the embedded users file, through the real click group."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from iiif_archive.cli import main
from iiif_server.access.base import Reader
from iiif_server.auth.users import UsersFile


def test_add_list_remove(tmp_path: Path):
    path = tmp_path / "users.json"
    runner = CliRunner()
    added = runner.invoke(main, ["users", "add", "lan", "--group", "archivists", "--users-file", str(path)],
                          input="mật khẩu\nmật khẩu\n")
    assert added.exit_code == 0, added.output
    assert "lan: saved (groups: archivists)" in added.output
    assert UsersFile(path).verify("lan", "mật khẩu") == Reader("lan", frozenset({"archivists"}))
    listed = runner.invoke(main, ["users", "list", "--users-file", str(path)])
    assert listed.output == "lan\tarchivists\n" and "argon2" not in listed.output
    assert runner.invoke(main, ["users", "remove", "lan", "--users-file", str(path)]).exit_code == 0
    missing = runner.invoke(main, ["users", "remove", "lan", "--users-file", str(path)])
    assert missing.exit_code == 1 and "no user 'lan'" in missing.output


def test_the_file_comes_from_the_settings(tmp_path: Path):
    path = tmp_path / "users.json"
    runner = CliRunner(env={"IIIF_AUTH_USERS_FILE": str(path)})
    assert runner.invoke(main, ["users", "add", "minh", "--password", "pw"]).exit_code == 0
    assert runner.invoke(main, ["users", "list"]).output == "minh\t\n"
    unnamed = CliRunner(env={"IIIF_AUTH_USERS_FILE": ""}).invoke(main, ["users", "list"])
    assert unnamed.exit_code == 2 and "name the users file" in unnamed.output
