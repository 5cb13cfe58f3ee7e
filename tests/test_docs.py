"""The README is part of the interface: every setting, command and endpoint must be documented there."""

from __future__ import annotations

import dataclasses
import re

import click
import pytest

from iiif_archive.app import create_platform_app
from iiif_archive.cli import main
from iiif_archive.settings import PlatformSettings
from iiif_server.settings import ENV_PREFIX
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1].strip().splitlines()
    assert first_block == ["bash scripts/demo.sh", "bash scripts/test.sh"]


@pytest.mark.parametrize("name", [field.name for field in dataclasses.fields(PlatformSettings)])
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README
    assert f"`{ENV_PREFIX}{name.upper()}`" in README


def _commands(group: click.Group, prefix: str) -> list[str]:
    found = []
    for name, command in group.commands.items():
        found.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix} {name}")
    return found


@pytest.mark.parametrize("command", _commands(main, "iiif-archive"))
def test_every_command_is_documented(command: str) -> None:
    assert command in README


def test_every_endpoint_is_documented(tmp_path) -> None:
    app = create_platform_app(PlatformSettings(image_root=tmp_path, presentation_root=tmp_path))
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        fixed_part = re.split(r"<", rule.rule)[0]
        if fixed_part not in README:
            missing.append(rule.rule)
    assert not missing, f"endpoints missing from README: {missing}"
