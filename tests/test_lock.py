"""requirements.lock is what gets installed: it pins every dependency of pyproject.toml within its
bounds, leaves out pyvips-binary, and the environment the tests run in is exactly the lock's."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO_ROOT

RELOCK = "run `bash scripts/lock.sh` and commit requirements.lock"


def locked_versions() -> dict[str, Version]:
    text = (REPO_ROOT / "requirements.lock").read_text()
    return {canonicalize_name(name): Version(version)
            for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, flags=re.MULTILINE)}


def declared_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in (*project["dependencies"], *project["optional-dependencies"]["test"])]


@pytest.mark.parametrize("requirement", declared_requirements(), ids=str)
def test_every_declared_dependency_is_locked_within_its_bounds(requirement: Requirement) -> None:
    locked = locked_versions().get(canonicalize_name(requirement.name))
    assert locked is not None, f"{requirement.name} is not in requirements.lock: {RELOCK}"
    assert requirement.specifier.contains(locked, prereleases=True), (
        f"requirements.lock pins {requirement.name} {locked}, outside {requirement.specifier}: {RELOCK}")


def test_the_lock_keeps_gunicorn_27_and_debians_libvips() -> None:
    locked = locked_versions()
    assert locked["gunicorn"] >= Version("27")
    assert "pyvips-binary" not in locked  # pyvips must bind Debian's libvips42


def test_the_environment_is_the_locked_one() -> None:
    differing = {}
    for name, version in locked_versions().items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            differing[name] = (str(version), str(installed))
    assert not differing, f"installed versions differ from requirements.lock (locked, installed): {differing}"
