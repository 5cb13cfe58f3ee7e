"""Several servers behind nginx, as real processes: two ``iiif-archive serve`` servers on their own ports
(as if on two machines) and Debian's nginx with the configuration ``iiif-archive deploy nginx`` writes.
Every test runs twice: the servers share a folder of masters, then a bucket (a real SeaweedFS)."""

from __future__ import annotations

import getpass
import itertools
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from iiif_archive.cli import main
from iiif_server.settings import ImageRoot, ObjectStoreRoot
from tests.conftest import RunningServer, SeaweedFS, free_port, start_server, stop_server
from tests.grid import grid_image

NGINX = Path("/usr/sbin/nginx")
# Shared caches keep a response 2 s before asking the servers again; browsers keep it a day.
S_MAXAGE_SECONDS = 2
CACHE_CONTROL = f"public, max-age=86400, s-maxage={S_MAXAGE_SECONDS}"
# The bucket's servers trust a located master this long (info_cache_ttl), as every server would.
BUCKET_TTL_SECONDS = 2
LOG_LINE = re.compile(r'"GET (?P<path>\S+) HTTP/1.1" (?P<status>\d+) \d+ cache=(?P<cache>\S+) upstream="(?P<upstream>[^"]*)"')


def write_master(path: Path, columns: int, rows: int) -> None:
    """Written beside its place and renamed in, as ingest does: a server never sees half a file."""
    temporary = path.with_name(f".{path.name}.new")
    grid_image(columns, rows).tiffsave(str(temporary), tile=True, pyramid=True, compression="jpeg", Q=90,
                                       tile_width=256, tile_height=256)
    os.replace(temporary, path)


def upload_master(store: object, key: str, columns: int, rows: int, scratch: Path) -> None:
    """Written locally and put whole, as ingest does: S3 shows an object only once it is complete."""
    import obstore

    local = scratch / f"{key.replace('/', '_')}.upload.tif"
    write_master(local, columns, rows)
    obstore.put(store, key, local.read_bytes())
    local.unlink()


@dataclass(frozen=True)
class SharedMasters:
    """The image root every server of the fleet reads: a folder, or a bucket with its client."""

    image_root: ImageRoot
    # Seconds until a master replaced below the image root is what every server serves (0: at once).
    replaced_within: float
    store: object | None = None
    scratch: Path | None = None  # where a bucket's masters are written before they are uploaded

    def put(self, identifier: str, columns: int, rows: int) -> None:
        if isinstance(self.image_root, ObjectStoreRoot):
            assert self.scratch is not None
            upload_master(self.store, self.image_root.key(f"{identifier}.tif"), columns, rows, self.scratch)
        else:
            write_master(self.image_root / f"{identifier}.tif", columns, rows)


@dataclass
class Fleet:
    masters: SharedMasters
    servers: list[RunningServer]
    nginx: subprocess.Popen
    url: str
    run_dir: Path
    server_args: tuple[str, ...]
    server_env: dict[str, str]

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def server_get(self, server: RunningServer, path: str) -> requests.Response:
        """Straight to one server, naming the public host as nginx does."""
        return requests.get(server.base_url + path, headers={"Host": self.host}, timeout=30)

    def restart(self, index: int) -> None:
        port = self.servers[index].port
        self.servers[index] = start_server(self.masters.image_root, *self.server_args, env=self.server_env, port=port)

    def log_lines(self) -> list[re.Match]:
        text = (self.run_dir / "access.log").read_text()
        return [match for match in map(LOG_LINE.search, text.splitlines()) if match]

    def logged(self, paths: set[str], timeout: float = 15) -> dict[str, re.Match]:
        """The access-log lines of ``paths`` (nginx flushes its log buffer every second)."""
        deadline = time.monotonic() + timeout
        while True:
            found = {match["path"]: match for match in self.log_lines() if match["path"] in paths}
            if len(found) == len(paths) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


def start_nginx(config: Path, run_dir: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(NGINX), "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "error.log"), "-g", "daemon off;"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {process.stderr.read().decode()[-2000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    stop_nginx(process)
    raise RuntimeError("nginx did not start within 30 s")


def stop_nginx(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module", params=["folder", "bucket"])
def fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    work = tmp_path_factory.mktemp("fleet")
    server_env = {"IIIF_CACHE_CONTROL": CACHE_CONTROL}
    if request.param == "bucket":
        seaweedfs: SeaweedFS = request.getfixturevalue("seaweedfs")
        bucket_root = ObjectStoreRoot("masters", f"fleet-{work.name}")
        masters = SharedMasters(bucket_root, BUCKET_TTL_SECONDS, seaweedfs.store(bucket_root.bucket), work)
        server_env |= {**seaweedfs.environ, "IIIF_INFO_CACHE_TTL": str(BUCKET_TTL_SECONDS)}
    else:
        masters = SharedMasters(work / "images", replaced_within=0)
        (work / "images").mkdir()
    masters.put("grid", 16, 12)
    image_root = masters.image_root
    nginx_port = free_port()
    url = f"http://127.0.0.1:{nginx_port}"
    server_args = ("--workers", "1", "--threads", "2", "--base-url", url)
    with ThreadPoolExecutor(2) as starting:  # each start waits for its workers' warm-up
        servers = list(starting.map(lambda _: start_server(image_root, *server_args, env=server_env), range(2)))
    run_dir, config = work / "nginx", work / "nginx.conf"
    try:
        arguments = ["deploy", "nginx", "--listen", f"127.0.0.1:{nginx_port}", "--cache-dir", str(work / "cache"),
                     "--cache-size", "64m", "--run-dir", str(run_dir), "--user", getpass.getuser(),
                     "--out", str(config)]
        for server in servers:
            arguments += ["--upstream", f"127.0.0.1:{server.port}"]
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 0, result.output
        nginx = start_nginx(config, run_dir, nginx_port)
    except BaseException:
        for server in servers:
            stop_server(server)
        raise
    fleet = Fleet(masters, servers, nginx, url, run_dir, server_args, server_env)
    yield fleet
    stop_nginx(nginx)
    for server in fleet.servers:
        if server.process.poll() is None:
            stop_server(server)


def distinct_tiles(start: int) -> Iterator[str]:
    """Tile requests nginx has not cached yet: each region is new."""
    for y, x in itertools.product(range(0, 1100, 40), range(start, 1500, 3)):
        yield f"/iiif/3/grid/{x},{y},96,96/48,/0/default.jpg"


def test_a_repeated_tile_comes_from_the_shared_cache_with_the_servers_validators(fleet: Fleet) -> None:
    path = "/iiif/3/grid/0,0,512,512/256,/0/default.jpg"
    first = requests.get(fleet.url + path, timeout=30)
    again = requests.get(fleet.url + path, timeout=30)
    assert (first.status_code, first.headers["X-Cache-Status"]) == (200, "MISS")
    assert (again.status_code, again.headers["X-Cache-Status"]) == (200, "HIT")
    assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == CACHE_CONTROL
    # A client's conditional request is answered by nginx from the cached validators.
    conditional = requests.get(fleet.url + path, headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
    assert conditional.status_code == 304
    # Past its s-maxage nginx asks a server with the ETag; the unchanged master's 304 renews the entry.
    # nginx keeps time in whole seconds and an entry stays fresh through its last second: past
    # s-maxage + 1 s it is stale whatever the fraction of the second it was stored in.
    time.sleep(S_MAXAGE_SECONDS + 1.5)
    renewed = requests.get(fleet.url + path, timeout=30)
    assert (renewed.headers["X-Cache-Status"], renewed.content) == ("REVALIDATED", first.content)
    assert requests.get(fleet.url + path, timeout=30).headers["X-Cache-Status"] == "HIT"


def test_answers_to_requests_with_credentials_are_never_stored(fleet: Fleet) -> None:
    path = "/iiif/3/grid/512,0,512,512/256,/0/default.jpg"
    for credentials in ({"Authorization": "Bearer reader-token"}, {"Cookie": "session=reader"}):
        answer = requests.get(fleet.url + path, headers=credentials, timeout=30)
        assert (answer.status_code, answer.headers["X-Cache-Status"]) == (200, "BYPASS")
    # Had either been stored, this would be a HIT.
    assert requests.get(fleet.url + path, timeout=30).headers["X-Cache-Status"] == "MISS"


def test_info_json_variants_negotiated_on_accept_are_kept_apart(fleet: Fleet) -> None:
    path = fleet.url + "/iiif/3/grid/info.json"
    json_ld = {"Accept": "application/ld+json"}
    for headers in (json_ld, {}, json_ld, {}):
        answer = requests.get(path, headers=headers, timeout=30)
        expected = "application/ld+json" if headers else "application/json"
        assert answer.headers["Content-Type"].startswith(expected)
        assert answer.json()["id"] == f"{fleet.url}/iiif/3/grid"


def test_errors_are_not_cached(fleet: Fleet) -> None:
    for _ in range(2):
        answer = requests.get(fleet.url + "/iiif/3/missing/info.json", timeout=30)
        assert (answer.status_code, answer.headers["X-Cache-Status"]) == (404, "MISS")


def test_a_replaced_master_shows_on_every_server_within_its_ttl_and_through_the_cache_within_its_s_maxage(
        fleet: Fleet) -> None:
    fleet.masters.put("replaced", 4, 3)
    info = "/iiif/3/replaced/info.json"
    tile = "/iiif/3/replaced/full/100,/0/default.png"
    for server in fleet.servers:  # each server's info cache and replay store now hold the old master
        assert fleet.server_get(server, info).json()["width"] == 400
        assert fleet.server_get(server, tile).status_code == 200
    assert requests.get(fleet.url + info, timeout=30).json()["width"] == 400
    old_tile = requests.get(fleet.url + tile, timeout=30).content
    fleet.masters.put("replaced", 8, 6)
    replaced = time.monotonic()
    # A folder's change shows at once; a bucket's within info_cache_ttl, plus the time the answering
    # request itself takes on the loaded test machine.
    serving_within = fleet.masters.replaced_within + 3 if fleet.masters.replaced_within else 0
    for server in fleet.servers:
        while fleet.server_get(server, info).json()["width"] != 800:
            assert time.monotonic() - replaced < serving_within, f"{server.base_url} still serves the old master"
            time.sleep(0.2)
        assert fleet.server_get(server, tile).content != old_tile
    while requests.get(fleet.url + info, timeout=30).json()["width"] != 800:
        assert time.monotonic() - replaced < 15, "nginx still serves the old info.json"
        time.sleep(0.2)
    while requests.get(fleet.url + tile, timeout=30).content == old_tile:
        assert time.monotonic() - replaced < 15, "nginx still serves the old tile"
        time.sleep(0.2)


def test_a_server_killed_under_load_costs_no_request_and_rejoins_when_restarted(fleet: Fleet) -> None:
    victim, survivor = fleet.servers
    victim_address, survivor_address = f"127.0.0.1:{victim.port}", f"127.0.0.1:{survivor.port}"
    paths = iter(distinct_tiles(start=0))
    total, kill_after = 400, 80
    lock = threading.Lock()
    taken: list[str] = []
    failures: list[str] = []
    resent: list[str] = []
    killed = threading.Event()

    def fetch(session: requests.Session, path: str) -> None:
        answer = session.get(fleet.url + path, timeout=60)
        if answer.status_code != 200 or not answer.content.startswith(b"\xff\xd8"):
            failures.append(f"{path}: {answer.status_code}")

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if len(taken) == total:
                        return
                    path = next(paths)
                    taken.append(path)
                    if len(taken) == kill_after:
                        os.killpg(victim.process.pid, signal.SIGKILL)  # the whole machine goes, workers too
                        killed.set()
                try:
                    try:
                        fetch(session, path)
                    except requests.exceptions.ChunkedEncodingError:
                        # The dead server had begun its answer, which nginx had begun to pass on and
                        # so cannot take elsewhere: the reader gets a cut answer and asks again, as
                        # viewers do for a tile. Only those in flight at the kill may be cut.
                        resent.append(path)
                        fetch(session, path)
                except requests.RequestException as error:
                    failures.append(f"{path}: {error}")

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    victim.process.wait(timeout=30)
    assert killed.is_set() and len(taken) == total
    assert failures == [] and len(resent) <= len(threads)
    lines = fleet.logged(set(taken))
    assert len(lines) == total
    upstreams = [lines[path]["upstream"] for path in taken]
    assert victim_address in upstreams[:kill_after - 8] and survivor_address in upstreams[:kill_after - 8]
    # The requests the dead server was given (in flight, or on a kept-alive connection) were retried.
    assert f"{victim_address}, {survivor_address}" in upstreams[kill_after - 8:]

    after = list(itertools.islice(paths, 40))
    for path in after:
        assert requests.get(fleet.url + path, timeout=60).status_code == 200
    assert {lines["upstream"].split(", ")[-1] for lines in fleet.logged(set(after)).values()} == {survivor_address}

    fleet.restart(0)
    rejoined_within = time.monotonic() + 60
    while True:
        batch = list(itertools.islice(paths, 10))
        for path in batch:
            assert requests.get(fleet.url + path, timeout=60).status_code == 200
        if any(line["upstream"] == victim_address for line in fleet.logged(set(batch)).values()):
            break
        assert time.monotonic() < rejoined_within, "the restarted server got no request within 60 s"
        time.sleep(0.5)
