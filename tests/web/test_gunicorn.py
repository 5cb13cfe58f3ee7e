"""The server as it runs in production: ``iiif-archive serve`` (gunicorn) on a loopback port."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import time
from pathlib import Path

import pytest
import pyvips
import requests

from iiif_server import create_app
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


def established_connections_by_worker(server: RunningServer) -> dict[int, int]:
    """Open client connections each worker process holds on the server's port (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        if local_port == server.port and state == "01":  # ESTABLISHED
            inodes.add(f"socket:[{inode}]")
    counts = {}
    for worker in worker_pids(server):
        fd_folder = Path(f"/proc/{worker}/fd")
        counts[worker] = sum(1 for fd in fd_folder.iterdir() if _link(fd) in inodes)
    return counts


def worker_pids(server: RunningServer) -> list[int]:
    return server.http_workers()


def _link(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


def open_keep_alive_connections(server: RunningServer, count: int) -> list[http.client.HTTPConnection]:
    connections = []
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        connections.append(connection)
    return connections


def test_keep_alive_connections_are_spread_over_the_workers(image_root: Path) -> None:
    server = start_server(image_root, "--workers", "2", "--threads", "2")
    connections = []
    try:
        connections = open_keep_alive_connections(server, 16)
        counts = established_connections_by_worker(server)
        assert len(counts) == 2 and sum(counts.values()) == 16, counts
        assert max(counts.values()) - min(counts.values()) <= 2, counts
    finally:
        for connection in connections:
            connection.close()
        stop_server(server)


def test_a_replaced_worker_leaves_the_balance_to_the_live_ones(image_root: Path) -> None:
    server = start_server(image_root, "--workers", "2", "--threads", "2")
    connections = []
    try:
        first, second = worker_pids(server)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while first in worker_pids(server) or len(worker_pids(server)) < 2:
            assert time.monotonic() < deadline, "gunicorn did not replace the worker"
            time.sleep(0.2)
        connections = open_keep_alive_connections(server, 12)
        counts = established_connections_by_worker(server)
        assert sum(counts.values()) == 12 and second in counts, counts
        assert max(counts.values()) - min(counts.values()) <= 2, counts
    finally:
        for connection in connections:
            connection.close()
        stop_server(server)


def test_clients_that_keep_their_sockets_open_after_the_answer_hold_up_no_one(image_root: Path) -> None:
    # gunicorn waits up to 2 s for such a client to close after its answer; on the worker's event
    # loop that stopped every other request of the worker (iiif_server/lingering.py).
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


class RecordingSocket:
    """What gunicorn's response writes, one entry per send."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))


def gunicorn_response(request_line: bytes) -> tuple[RecordingSocket, object]:
    from gunicorn.config import Config
    from gunicorn.http import wsgi
    from gunicorn.http.message import Request
    from gunicorn.http.unreader import IterUnreader

    from iiif_server.wsgi import SingleSendResponse

    config = Config()
    request = Request(config, IterUnreader([request_line + b"\r\nHost: localhost\r\n\r\n"]), ("127.0.0.1", 5000), 1)
    sock = RecordingSocket()
    response, _environ = wsgi.create(request, sock, ("127.0.0.1", 5000), ("127.0.0.1", 8000), config,
                                     response_class=SingleSendResponse)
    return sock, response


def test_a_whole_body_goes_out_in_one_send_with_its_headers():
    sock, response = gunicorn_response(b"GET /iiif/3/a/full/max/0/default.jpg HTTP/1.1")
    response.start_response("200 OK", [("Content-Type", "image/jpeg"), ("Content-Length", "5")])
    response.write(b"\xff\xd8\xff\xd9!")
    response.close()
    assert len(sock.sends) == 1
    head, body = sock.sends[0].split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nContent-Length: 5" in head
    assert body == b"\xff\xd8\xff\xd9!"


@pytest.mark.parametrize(("headers", "chunks"), [
    pytest.param([("Content-Length", "6")], [b"abc", b"def"], id="body in several pieces"),
    pytest.param([], [b"abc", b"def"], id="chunked, no length"),
])
def test_streamed_answers_keep_their_separate_sends(headers, chunks):
    sock, response = gunicorn_response(b"GET /viewer/ HTTP/1.1")
    response.start_response("200 OK", [("Content-Type", "text/plain"), *headers])
    for chunk in chunks:
        response.write(chunk)
    response.close()
    assert sock.sends[0].endswith(b"\r\n\r\n"), "headers first, on their own"
    assert b"".join(sock.sends).count(b"abc") == 1 and len(sock.sends) >= 3


def test_a_head_answer_sends_its_headers_only():
    sock, response = gunicorn_response(b"HEAD /iiif/3/a/info.json HTTP/1.1")
    response.start_response("200 OK", [("Content-Type", "application/ld+json"), ("Content-Length", "5")])
    response.write(b"{...}")
    response.close()
    assert len(sock.sends) == 1 and sock.sends[0].endswith(b"\r\n\r\n")
