"""The embedded users file: readers, their groups and Argon2 password hashes (JSON, written atomically).

``{"users": {"lan": {"password_hash": "$argon2id$...", "groups": ["archivists"]}}}``. Read at each
login (logins are rare; an edit takes effect without a restart). Thread-safe for reading."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from iiif_server.access.base import Reader
from iiif_server.settings import SettingsError

_HASHER = PasswordHasher()
# Verified when the user is unknown, so that a wrong name takes as long as a wrong password.
_DECOY_HASH = _HASHER.hash("decoy password that no one has")


class UsersFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, dict]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as error:
            raise SettingsError(f"auth_users_file {self.path}: cannot be read ({error})") from None
        users = document.get("users") if isinstance(document, dict) else None
        if not isinstance(users, dict):
            raise SettingsError(f"auth_users_file {self.path}: expected an object with an object \"users\"")
        return users

    def _write(self, users: dict[str, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".users-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:  # mkstemp makes it 0600: hashes stay private
            json.dump({"users": users}, stream, ensure_ascii=False, indent=2, sort_keys=True)
        os.replace(temporary, self.path)

    def verify(self, user: str, password: str) -> Reader | None:
        """The reader ``user`` is when ``password`` is theirs; None otherwise."""
        entry = self._read().get(user)
        stored = entry.get("password_hash") if isinstance(entry, dict) else None
        try:
            _HASHER.verify(stored if isinstance(stored, str) else _DECOY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if entry is None:
            return None
        return Reader(user, frozenset(str(group) for group in entry.get("groups", [])))

    def add(self, user: str, password: str, groups: tuple[str, ...]) -> None:
        """Adds ``user``, or replaces their password and groups."""
        if not user or not user.isprintable() or user != user.strip():
            raise ValueError(f"user name {user!r} must be printable, without surrounding spaces")
        users = self._read()
        users[user] = {"password_hash": _HASHER.hash(password), "groups": sorted(set(groups))}
        self._write(users)

    def remove(self, user: str) -> bool:
        users = self._read()
        if users.pop(user, None) is None:
            return False
        self._write(users)
        return True

    def readers(self) -> list[Reader]:
        return [Reader(user, frozenset(entry.get("groups", []))) for user, entry in sorted(self._read().items())]
