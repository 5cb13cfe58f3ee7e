"""The server as it runs in production: ``iiif-archive serve`` (gunicorn with granian's HTTP handling) on a
loopback port."""

from __future__ import annotations

import os
import random
import signal
import socket
import time
from pathlib import Path

import pytest
import pyvips
import requests

from iiif_server import create_app
from iiif_server.http_worker import HEADER_READ_TIMEOUT_MS
from iiif_server.request import ApiVersion, parse_image_path
from iiif_server.settings import Settings
from tests.conftest import RunningServer, assert_validator_passes, start_server, stop_server
from tests.grid import grid_image

BIG_WIDTH, BIG_HEIGHT = 30_000, 16_000


@pytest.mark.parametrize(("prefix", "version"), [("iiif/3", "3.0"), ("iiif/2", "2.0")], ids=["image-api-3.0", "image-api-2.x"])
def test_iiif_validator_level2_passes_with_zero_failures(gunicorn_server: RunningServer, prefix: str, version: str) -> None:
    assert_validator_passes(gunicorn_server.port, prefix, version)


def test_encoded_identifiers_and_tricks_over_real_http(gunicorn_server: RunningServer) -> None:
    base = gunicorn_server.base_url
    nested = requests.get(f"{base}/iiif/3/nested%2Fdeeper%2Fgrid-tiff/info.json", timeout=10)
    assert nested.status_code == 200
    assert nested.json()["id"] == f"{base}/iiif/3/nested%2Fdeeper%2Fgrid-tiff"
    for trick in ("..%2F..%2F..%2Fetc%2Fpasswd", "nested%2F..%2F..%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"):
        response = requests.get(f"{base}/iiif/3/{trick}/info.json", timeout=10)
        assert response.status_code == 400, trick
        assert "identifier" in response.text
    assert requests.get(f"{base}/iiif/3/%252e%252e%252fetc%252fpasswd/info.json", timeout=10).status_code == 404


def test_tiles_over_http_with_conditional_get(gunicorn_server: RunningServer) -> None:
    url = f"{gunicorn_server.base_url}/iiif/3/grid-tiff/512,256,256,256/256,256/0/default.jpg"
    first = requests.get(url, timeout=10)
    assert first.status_code == 200 and first.headers["Content-Type"] == "image/jpeg"
    tile = pyvips.Image.new_from_buffer(first.content, "")
    assert (tile.width, tile.height) == (256, 256)
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    assert requests.get(url.replace("/3/", "/2/").replace("/256,256/", "/256,/"), timeout=10).status_code == 200


def test_a_corrupt_master_does_not_take_down_the_workers(gunicorn_server: RunningServer) -> None:
    base = gunicorn_server.base_url
    for _ in range(4):
        assert requests.get(f"{base}/iiif/3/corrupt/full/max/0/default.jpg", timeout=10).status_code == 500
    assert requests.get(f"{base}/iiif/3/grid-png/full/100,/0/default.png", timeout=10).status_code == 200


@pytest.fixture(scope="session")
def big_master_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30,000 x 16,000 pyramidal TIFF (1.4 GB if decoded whole), written streaming in seconds."""
    root = tmp_path_factory.mktemp("big")
    grid_image(60, 32, cell=500).tiffsave(
        str(root / "big.tif"), tile=True, pyramid=True, compression="jpeg", Q=75, tile_width=256, tile_height=256
    )
    return root


def test_a_reduced_request_plans_a_reduced_level(big_master_root: Path) -> None:
    pipeline = create_app(Settings(image_root=big_master_root)).extensions["iiif"]
    request = parse_image_path("big/full/1000,/0/default.jpg", ApiVersion.V3)
    plan = pipeline.prepare(request).plan
    assert plan.level_index == 4  # 30000 / 16 = 1875 px wide: the smallest level still >= 1000 px
    assert (plan.level.width, plan.crop.width) == (1875, 1875)
    assert plan.level.load_option == ("page", 4)


def test_reduced_and_region_requests_do_not_decode_the_whole_master(big_master_root: Path) -> None:
    server = start_server(big_master_root, "--workers", "1", "--threads", "1")
    try:
        base = f"{server.base_url}/iiif/3/big"
        assert requests.get(f"{base}/info.json", timeout=10).status_code == 200
        baseline = server.rss_bytes()
        for path in ("full/1000,/0/default.jpg", "12000,6000,2048,2048/max/0/default.jpg",
                     "full/max/0/default.jpg", "0,0,30000,4000/!3000,3000/90/gray.png"):
            response = requests.get(f"{base}/{path}", timeout=60)
            assert response.status_code == 200, (path, response.text)
        growth = server.rss_bytes() - baseline
        print(f"resident memory growth after reduced and region requests: {growth / 2**20:.0f} MiB")
        # A full decode would need 30000 * 16000 * 3 bytes = 1.44 GB.
        assert growth < 250 * 1024 * 1024, f"resident memory grew by {growth / 2**20:.0f} MiB"
        too_large = requests.get(f"{base}/full/^30000,/0/default.jpg", timeout=10)
        assert too_large.status_code == 400 and "maxWidth" in too_large.text
    finally:
        stop_server(server)


def worker_pids(server: RunningServer) -> list[int]:
    return server.http_workers()


def _link(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


def two_connections_on_one_worker(server: RunningServer) -> list[socket.socket]:
    """Two keep-alive connections the same worker accepted, once every worker has accepted one: a
    worker still warming up has not joined the load table yet, and while it is the only other one,
    the balance rightly sends no one away."""
    accepted: dict[int, list[socket.socket]] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        read_answer(sock)
        holder = next(worker for worker in worker_pids(server) if _holds(worker, sock))
        accepted.setdefault(holder, []).append(sock)
        shared = next((pair for pair in accepted.values() if len(pair) >= 2), None)
        if shared is not None and set(accepted) >= set(worker_pids(server)):
            return shared[:2]
        time.sleep(0.05)
    raise AssertionError(f"connections by worker: {accepted}")


def _holds(worker: int, sock: socket.socket) -> bool:
    """Whether ``worker`` holds the server side of ``sock`` (its client port, from /proc)."""
    client_port = sock.getsockname()[1]
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == client_port and fields[3] == "01":
            inodes.add(f"socket:[{fields[9]}]")
    return any(_link(fd) in inodes for fd in Path(f"/proc/{worker}/fd").iterdir())


def read_answer(sock: socket.socket) -> dict[str, str]:
    """One answer's headers (lower-cased names), its body read to its Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:])
    headers = {name.lower(): value for name, value in headers.items()}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return headers


def answers_to_two_renders_at_once(sockets: list[socket.socket]) -> list[dict[str, str]]:
    """Renders of about 100 ms that no cache has seen (3 Mpx PNGs, below the heavy lane's
    threshold), one per connection, sent together."""
    width = random.randrange(1900, 2000)
    for rotation, sock in zip((90, 270), sockets):
        sock.sendall(f"GET /iiif/3/grid-tiff/full/^{width},/{rotation}/default.png HTTP/1.1\r\n"
                     f"Host: 127.0.0.1\r\n\r\n".encode())
    return [read_answer(sock) for sock in sockets]


@pytest.mark.parametrize("replaced", [False, True], ids=["workers as started", "a worker replaced"])
def test_a_crowded_worker_sends_a_client_elsewhere(image_root: Path, replaced: bool) -> None:
    # The kernel gives a new connection to whichever worker accepts first: measured, 11 of 16 on
    # one of two, and at 4 connections now and then all 4 on one (iiif_server/http_worker.py).
    server = start_server(image_root, "--workers", "2", "--threads", "2")
    try:
        if replaced:  # the dead worker's row no longer counts, the replacement's does
            killed = worker_pids(server)[0]
            os.kill(killed, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while killed in worker_pids(server) or len(worker_pids(server)) < 2:
                assert time.monotonic() < deadline, "gunicorn did not replace the worker"
                time.sleep(0.2)
        answers = answers_to_two_renders_at_once(two_connections_on_one_worker(server))
        # The first answer leaves its worker running the second while the other worker runs none.
        assert [answer.get("connection") for answer in answers].count("close") >= 1, answers
    finally:
        stop_server(server)


def threads_cores(pid: int) -> dict[str, set[frozenset[int]]]:
    """The sets of cores the threads of process ``pid`` may run on, by thread name."""
    found: dict[str, set[frozenset[int]]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            allowed = frozenset(os.sched_getaffinity(int(task.name)))  # a thread's id names it here
        except OSError:  # the thread ended
            continue
        found.setdefault(name, set()).add(allowed)
    return found


def test_each_worker_answers_on_a_core_of_its_own(image_root: Path) -> None:
    cores = frozenset(os.sched_getaffinity(0))
    server = start_server(image_root, "--workers", str(len(cores)), "--threads", "2")
    try:
        base = f"{server.base_url}/iiif/3/grid-tiff"
        for _ in range(2 * len(cores)):  # a render (on every core, then back), then a tile, on each worker
            width = random.randrange(1900, 2000)
            assert requests.get(f"{base}/full/^{width},/90/default.png", timeout=30).status_code == 200
            assert requests.get(f"{base}/0,0,256,256/256,/0/default.jpg", timeout=30).status_code == 200
        # granian's runtime and the request threads it starts are named after the runtime
        answering = [threads_cores(pid)["tokio-rt-worker"] for pid in worker_pids(server)]
        assert all(len(sets) == 1 and len(next(iter(sets))) == 1 for sets in answering), answering
        assert {core for sets in answering for core in next(iter(sets))} == cores, answering
        assert all(threads_cores(pid)["python"] == {cores} for pid in server.render_processes())
    finally:
        stop_server(server)


def test_fewer_workers_than_cores_are_left_to_the_scheduler(image_root: Path) -> None:
    cores = frozenset(os.sched_getaffinity(0))
    assert len(cores) >= 2, "this test needs 2 cores, as CI has"
    server = start_server(image_root, "--workers", "1", "--threads", "2")
    try:
        assert requests.get(f"{server.base_url}/iiif/3/grid-tiff/info.json", timeout=30).status_code == 200
        (worker,) = worker_pids(server)
        assert threads_cores(worker)["tokio-rt-worker"] == {cores}
    finally:
        stop_server(server)


def test_a_worker_no_busier_than_the_others_keeps_its_connections(image_root: Path) -> None:
    server = start_server(image_root, "--workers", "1", "--threads", "2")
    try:
        sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(2)]
        answers = answers_to_two_renders_at_once(sockets)
        assert all("connection" not in answer for answer in answers), answers
    finally:
        stop_server(server)


def test_clients_that_keep_their_sockets_open_after_the_answer_hold_up_no_one(image_root: Path) -> None:
    # gthread waited up to 2 s on its event loop for such a client to close after its answer,
    # and every other request of the worker waited with it.
    server = start_server(image_root, "--workers", "1", "--threads", "2")
    idle = []
    try:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):  # the server's FIN ends the answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")
            idle.append(sock)  # read, and never closed by its client
        started = time.perf_counter()
        assert requests.get(f"{server.base_url}/iiif/3/grid-tiff/info.json", timeout=30).status_code == 200
        waited = time.perf_counter() - started
        assert waited < 1.0, f"a request waited {waited:.1f} s behind connections lingering on the event loop"
    finally:
        for sock in idle:
            sock.close()
        stop_server(server)


def test_an_idle_keep_alive_connection_is_closed_after_the_header_timeout(image_root: Path) -> None:
    server = start_server(image_root, "--workers", "1", "--threads", "2")
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_READ_TIMEOUT_MS / 1000 + 5)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ok\n")
        assert HEADER_READ_TIMEOUT_MS / 1000 - 0.5 < waited < HEADER_READ_TIMEOUT_MS / 1000 + 2, waited
        sock.close()
    finally:
        stop_server(server)
