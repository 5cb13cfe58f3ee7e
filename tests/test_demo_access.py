"""The demo's restricted record and its reader (scripts/demo-access.sh, sourced by scripts/demo.sh): the
user made with `iiif-archive users add`, the printed credentials, a signing key made once and kept
private, and settings under which the letter is refused to anonymous readers and shown to the demo user."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iiif_archive.app import create_platform_app
from iiif_archive.samples import sample_masters, write_sample_master
from iiif_archive.settings import PlatformSettings
from iiif_server.settings import load_settings
from tests.conftest import REPO_ROOT

VENV_BIN = Path(sys.executable).parent
CREDENTIALS = re.compile(r"restricted record: (?P<prefix>\S+) .*demo reader: (?P<user>\S+), password: (?P<password>\S+)$")
# The letter's TIFF page and an open decree page, small.
MASTERS = ("letter-1946/p2", "decree-1945/p1")


def prepare(folder: Path) -> str:
    command = f'source scripts/demo-access.sh && prepare_demo_access "$0" "$1"'
    return subprocess.run(["bash", "-c", command, str(folder), str(VENV_BIN)], cwd=REPO_ROOT, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-data")


@pytest.fixture(scope="module")
def printed(demo_folder: Path) -> re.Match:
    match = CREDENTIALS.search(prepare(demo_folder).strip())
    assert match, "prepare_demo_access prints the restricted record and the demo reader's credentials"
    return match


@pytest.fixture(scope="module")
def demo_client(demo_folder: Path, printed, tmp_path_factory: pytest.TempPathFactory):
    images = tmp_path_factory.mktemp("images")
    for master in sample_masters():
        if master.identifier in MASTERS:
            write_sample_master(images, master, 0.05)
    settings = load_settings(demo_folder / "access.toml", environ={}, overrides={"image_root": images},
                             settings_class=PlatformSettings)
    return create_platform_app(settings).test_client()


def test_the_demo_restricts_a_document_of_the_content_folder(printed) -> None:
    letter = yaml.safe_load((REPO_ROOT / "content" / "documents" / "letter-1946.yml").read_text(encoding="utf-8"))
    pages = [page["image"] for page in letter["pages"]]
    assert pages and all(page.startswith(printed["prefix"] + "/") for page in pages)


def test_the_signing_key_is_made_once_private_and_ignored_by_git(demo_folder: Path, printed) -> None:
    key = (demo_folder / "auth-secret").read_text()
    assert len(key.strip()) >= 40
    prepare(demo_folder)  # demo.sh runs it at every start
    assert (demo_folder / "auth-secret").read_text() == key
    for name in ("auth-secret", "access.toml", "users.json"):
        assert stat.S_IMODE((demo_folder / name).stat().st_mode) == 0o600, name
    secrets = ["demo-data/auth-secret", "demo-data/access.toml", "demo-data/users.json"]
    ignored = subprocess.run(["git", "check-ignore", *secrets], cwd=REPO_ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == secrets


def test_the_demo_user_is_made_with_the_users_command(demo_folder: Path, printed) -> None:
    listed = subprocess.run([VENV_BIN / "iiif-archive", "users", "list", "--users-file", demo_folder / "users.json"],
                            check=True, capture_output=True, text=True).stdout
    assert listed.split("\n")[0].split("\t") == [printed["user"], "researchers"]


def test_demo_sh_serves_with_the_demo_access_settings() -> None:
    script = (REPO_ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    assert "source scripts/demo-access.sh" in script and "prepare_demo_access demo-data .venv/bin" in script
    assert "--config demo-data/access.toml" in script


def test_anonymous_readers_get_the_letters_substitute_and_the_demo_user_the_letter(demo_client, printed) -> None:
    restricted = "/iiif/3/letter-1946%2Fp2/full/64,/0/default.jpg"
    assert demo_client.get("/iiif/3/decree-1945%2Fp1/full/64,/0/default.jpg").status_code == 200
    assert demo_client.get(restricted).status_code == 403
    [probe] = demo_client.get("/iiif/3/letter-1946%2Fp2/info.json").get_json()["service"]
    assert probe["type"] == "AuthProbeService2"
    [substitute] = demo_client.get("/auth/2/probe/letter-1946%2Fp2").get_json()["substitute"]
    [service] = substitute["service"]
    assert demo_client.get(f"{service['id']}/full/64,/0/default.jpg").status_code == 200
    form = demo_client.get("/auth/2/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    signed_in = demo_client.post("/auth/2/login", data={"csrf_token": csrf, "user": printed["user"],
                                                        "password": printed["password"]})
    assert signed_in.status_code == 200
    assert demo_client.get(restricted).status_code == 200
