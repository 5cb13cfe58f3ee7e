"""auth/users.py: the embedded users file with Argon2 password hashes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from iiif_server.access.base import Reader
from iiif_server.auth.users import UsersFile
from iiif_server.settings import SettingsError


def test_add_verify_remove(tmp_path: Path):
    users = UsersFile(tmp_path / "users.json")
    assert users.readers() == [] and users.verify("lan", "x") is None
    users.add("lan", "mật khẩu", ("archivists", "staff"))
    users.add("minh", "other", ())
    assert users.verify("lan", "mật khẩu") == Reader("lan", frozenset({"archivists", "staff"}))
    assert users.verify("lan", "mat khau") is None
    assert users.verify("nobody", "mật khẩu") is None
    assert [reader.user for reader in users.readers()] == ["lan", "minh"]
    assert users.remove("minh") and not users.remove("minh")
    assert [reader.user for reader in users.readers()] == ["lan"]


def test_the_file_holds_argon2id_hashes_readable_by_its_owner_only(tmp_path: Path):
    path = tmp_path / "users.json"
    UsersFile(path).add("lan", "mật khẩu", ("archivists",))
    text = path.read_text()
    assert "mật khẩu" not in text
    assert json.loads(text)["users"]["lan"]["password_hash"].startswith("$argon2id$")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_adding_again_replaces_password_and_groups(tmp_path: Path):
    users = UsersFile(tmp_path / "users.json")
    users.add("lan", "first", ("a",))
    users.add("lan", "second", ("b",))
    assert users.verify("lan", "first") is None
    assert users.verify("lan", "second") == Reader("lan", frozenset({"b"}))


@pytest.mark.parametrize("name", ["", " lan", "lan\n"])
def test_unprintable_or_padded_names_are_refused(tmp_path: Path, name: str):
    with pytest.raises(ValueError, match="user name"):
        UsersFile(tmp_path / "users.json").add(name, "pw", ())


def test_a_broken_file_names_itself(tmp_path: Path):
    path = tmp_path / "users.json"
    path.write_text('{"users": []}')
    with pytest.raises(SettingsError, match="auth_users_file"):
        UsersFile(path).verify("lan", "pw")
