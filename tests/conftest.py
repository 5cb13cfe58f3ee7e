"""Fixtures shared by the whole suite: masters generated once per session, the app, a gunicorn server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench import seaweedfs as seaweedfs_launcher
from iiif_server import create_app
from iiif_server.loaders import allow_only_master_loaders
from iiif_server.settings import ObjectStoreRoot, Settings
from tests.grid import write_grid_masters

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
VALIDATOR_IMAGE_ID = "67352ccc-d1b0-11e1-89ae-279075081939"
VALIDATOR = REPO_ROOT / ".venv-validator" / "bin" / "iiif-validate.py"
GRID_COLUMNS, GRID_ROWS = 16, 12  # 1600 x 1200 px


@pytest.fixture(scope="session", autouse=True)
def only_master_loaders() -> None:
    """create_app blocks every libvips loader but the masters' in the whole process; block them from
    the start, so that what a test sees does not depend on whether an app was created before it."""
    allow_only_master_loaders()


@pytest.fixture(scope="session")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image root with the grid masters, the validator's test image, nested ids and a corrupt file."""
    root = tmp_path_factory.mktemp("images")
    write_grid_masters(root, GRID_COLUMNS, GRID_ROWS)
    write_grid_masters(root / "nested" / "deeper", 4, 3)
    shutil.copy(SHARED / "testimages" / f"{VALIDATOR_IMAGE_ID}.png", root / f"{VALIDATOR_IMAGE_ID}.png")
    (root / "corrupt.tif").write_bytes(b"II*\x00" + os.urandom(2000))
    (root / "not-an-image.jpg").write_text("this is a text file, not a JPEG\n")
    return root


@pytest.fixture(scope="session")
def settings(image_root: Path) -> Settings:
    return Settings(image_root=image_root, max_width=5000, max_height=5000, max_area=16_000_000)


class SeaweedFS:
    """A running SeaweedFS S3 server (bench/seaweedfs.py) and helpers to reach it."""

    ACCESS_KEY, SECRET_KEY, REGION = seaweedfs_launcher.ACCESS_KEY, seaweedfs_launcher.SECRET_KEY, seaweedfs_launcher.REGION

    def __init__(self, running: seaweedfs_launcher.SeaweedProcess) -> None:
        self.running = running
        self.endpoint = running.endpoint
        self.environ = running.environ

    def settings(self, root: ObjectStoreRoot, **changes: object) -> Settings:
        return Settings(image_root=root, aws_endpoint_url=self.endpoint, aws_access_key_id=self.ACCESS_KEY,
                        aws_secret_access_key=self.SECRET_KEY, aws_region=self.REGION, **changes)

    def store(self, bucket: str):
        from iiif_server.sources.s3 import open_object_store

        return open_object_store(ObjectStoreRoot(bucket), self.settings(ObjectStoreRoot(bucket)))

    def upload_folder(self, folder: Path, root: ObjectStoreRoot) -> None:
        import obstore

        store = self.store(root.bucket)
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                obstore.put(store, root.key(path.relative_to(folder).as_posix()), path.read_bytes())


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """SeaweedFS with its S3 gateway on loopback ports, started once per session when a test needs it."""
    running = seaweedfs_launcher.start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield SeaweedFS(running)
    finally:
        running.stop()


@pytest.fixture(scope="session")
def s3_image_root(seaweedfs: SeaweedFS, image_root: Path) -> ObjectStoreRoot:
    """The session's image root, copied into a bucket below a prefix."""
    root = ObjectStoreRoot("masters", "archive/images")
    seaweedfs.upload_folder(image_root, root)
    return root


@pytest.fixture(scope="session")
def s3_settings(seaweedfs: SeaweedFS, s3_image_root: ObjectStoreRoot, settings: Settings) -> Settings:
    return seaweedfs.settings(s3_image_root, max_width=settings.max_width, max_height=settings.max_height,
                              max_area=settings.max_area)


@pytest.fixture(params=["filesystem", "s3"])
def client_on_each_source(request: pytest.FixtureRequest, settings: Settings):
    """The app on the local image root and on the same masters in SeaweedFS: answers must agree."""
    chosen = settings if request.param == "filesystem" else request.getfixturevalue("s3_settings")
    return create_app(chosen).test_client()


@pytest.fixture()
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture()
def client(app):
    return app.test_client()


def settle(root: Path) -> None:
    """Date a folder and everything in it a second back, past the file-system clock tick of their
    writing: manifests.watch looks again at paths changed more recently than that."""
    past = time.time_ns() - 1_000_000_000
    for path in [root, *root.rglob("*")]:
        os.utime(path, ns=(past, past), follow_symlinks=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    def __init__(self, process: subprocess.Popen, base_url: str, port: int) -> None:
        self.process = process
        self.base_url = base_url
        self.port = port

    def rss_bytes(self) -> int:
        """Resident memory of the gunicorn master and its workers, now."""
        pids = [self.process.pid] + _children(self.process.pid)
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            for line in fields.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total


    def http_workers(self) -> list[int]:
        """gunicorn's HTTP workers: the leader's children but the render pool's arbiter, the one
        whose children are the heavy-render processes (iiif_server/render_pool.py)."""
        return [child for child in _children(self.process.pid) if not _children(child)]

    def render_processes(self) -> list[int]:
        return [grandchild for child in _children(self.process.pid) for grandchild in _children(child)]


def _children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            children += [int(child) for child in text]
    except OSError:
        return []  # exited meanwhile
    return children


def start_server(image_root: Path | str, *extra_args: str, env: dict[str, str] | None = None,
                 port: int | None = None, log_file: Path | None = None) -> RunningServer:
    """``iiif-archive serve`` as a real gunicorn process on a loopback port (a free one unless given);
    waits until it answers. Its stderr (the log) goes to ``log_file`` when given: a pipe nobody reads
    would fill and stall it."""
    port = port or free_port()
    command = [sys.executable, "-m", "iiif_archive", "serve", "--images", str(image_root),
               "--host", "127.0.0.1", "--port", str(port), *extra_args]
    log_stream = log_file.open("ab") if log_file else None
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=log_stream or subprocess.PIPE)
    if log_stream:
        log_stream.close()  # the server holds its own copy
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_file.read_text(errors="replace") if log_file else process.stderr.read().decode()
            raise RuntimeError(f"server exited: {log[-2000:]}")
        try:
            requests.get(base_url + "/iiif/3/none/info.json", timeout=5)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
            continue
        server = RunningServer(process, base_url, port)
        if server.render_processes():  # from here on, http_workers() tells the workers apart
            return server
        time.sleep(0.1)
    stop_server(RunningServer(process, base_url, port))
    raise RuntimeError("server did not start within 60 s")


def stop_server(server: RunningServer) -> None:
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


def assert_validator_passes(port: int, prefix: str, version: str) -> None:
    """The community's Image API validator at level 2 against a server on ``port``: zero failures."""
    result = subprocess.run(
        [str(VALIDATOR), "-s", f"127.0.0.1:{port}", "-p", prefix, "-i", VALIDATOR_IMAGE_ID,
         f"--version={version}", "--level=2"],
        capture_output=True, text=True, timeout=300,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert ", 0 failures)" in report and "FAIL" not in report, report


@pytest.fixture(scope="session")
def gunicorn_server(image_root: Path) -> Iterator[RunningServer]:
    server = start_server(image_root, "--workers", "2", "--threads", "4")
    yield server
    stop_server(server)
