"""The server's heavy-render processes, in a real gunicorn server: low priority, the same pixels as
a render in the worker, and a killed render process (or its arbiter) answered 503 and replaced."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import pyvips
import requests

from iiif_server import create_app
from iiif_server.render_pool import RENDER_NICENESS, WorkerGoneFilter
from iiif_server.settings import Settings
from tests.conftest import RunningServer, _children, start_server, stop_server
from tests.grid import grid_image

GENEROUS = 300  # seconds: renders at low priority crawl while the machine is busy with other work
# Outputs of more than 100,000 px are heavy here, so most heavy requests below cost little.
HEAVY_ENV = {"IIIF_HEAVY_OUTPUT_PIXELS": "100000", "IIIF_HEAVY_DEADLINE_MS": str(GENEROUS * 1000),
             "IIIF_HEAVY_WAIT_SECONDS": str(GENEROUS)}


@pytest.fixture(scope="module")
def noisy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2000 x 1500 pyramidal TIFF of a grid under grain: a large PNG of it takes seconds to encode."""
    root = tmp_path_factory.mktemp("render-pool")
    grain = pyvips.Image.gaussnoise(2000, 1500, sigma=12)
    image = (grid_image(20, 15, cell=100) + grain).cast("uchar")
    image.tiffsave(str(root / "map.tif"), tile=True, pyramid=True, compression="jpeg", Q=85, tile_width=256,
                   tile_height=256)
    return root


@pytest.fixture(scope="module")
def server(noisy_root: Path, tmp_path_factory: pytest.TempPathFactory):
    running = start_server(noisy_root, "--workers", "2", env=HEAVY_ENV,
                           log_file=tmp_path_factory.mktemp("render-pool-log") / "server.log")
    yield running
    stop_server(running)


def wait_for(condition, seconds: float = GENEROUS):  # noqa: ANN001, ANN201 - a callable and what it returns
    give_up_at = time.monotonic() + seconds
    while time.monotonic() < give_up_at:
        if found := condition():
            return found
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pixels(png: bytes) -> np.ndarray:
    image = pyvips.Image.new_from_buffer(png, "")
    return np.ndarray(buffer=image.write_to_memory(), dtype=np.uint8, shape=(image.height, image.width, image.bands))


def test_render_processes_run_at_low_priority_and_the_workers_do_not(server: RunningServer) -> None:
    renderers = wait_for(server.render_processes)
    assert len(renderers) == Settings().heavy_slots
    for pid in renderers:
        assert os.sched_getscheduler(pid) == os.SCHED_BATCH and os.getpriority(os.PRIO_PROCESS, pid) == RENDER_NICENESS
    workers = server.http_workers()
    assert len(workers) == 2
    for pid in workers:
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER


def test_a_heavy_answer_has_the_pixels_of_a_render_in_the_worker(server: RunningServer, noisy_root: Path) -> None:
    path = "/iiif/3/map/full/1200,/30/default.png"
    pooled = requests.get(server.base_url + path, timeout=GENEROUS)
    assert pooled.status_code == 200, pooled.text
    in_process = create_app(Settings(image_root=noisy_root, heavy_output_pixels=100_000)).test_client().get(path)
    assert in_process.status_code == 200
    assert np.array_equal(pixels(pooled.content), pixels(in_process.data))
    assert pooled.headers["ETag"] == in_process.headers["ETag"]


def test_a_killed_render_process_fails_its_request_with_503_and_is_replaced(server: RunningServer) -> None:
    (renderer,) = wait_for(server.render_processes)
    answers: list[requests.Response] = []
    # A 27 Mpx PNG of grain: seconds of CPU, long enough to be killed in the middle of it.
    costly = threading.Thread(target=lambda: answers.append(
        requests.get(f"{server.base_url}/iiif/3/map/full/^6000,/0/default.png", timeout=GENEROUS)))
    costly.start()
    before = cpu_seconds(renderer)
    wait_for(lambda: cpu_seconds(renderer) > before + 0.3)  # it is rendering
    os.kill(renderer, signal.SIGKILL)
    costly.join(GENEROUS)
    (answer,) = answers
    assert answer.status_code == 503
    assert answer.text == "the heavy-render process stopped before answering; retry later\n"
    assert answer.headers["Retry-After"] == "1"
    (replacement,) = wait_for(lambda: [pid for pid in server.render_processes() if pid != renderer])
    # It lowers its priority as it starts, before it takes a render: wait for that, not just for the process.
    wait_for(lambda: os.sched_getscheduler(replacement) == os.SCHED_BATCH)
    again = requests.get(f"{server.base_url}/iiif/3/map/full/500,/0/default.png", timeout=GENEROUS)
    assert again.status_code == 200 and pixels(again.content).shape == (375, 500, 3)


def test_a_killed_pool_arbiter_is_replaced_and_every_worker_reaches_the_new_one(server: RunningServer) -> None:
    (renderer,) = wait_for(server.render_processes)
    (pool_arbiter,) = set(_children(server.process.pid)) - set(server.http_workers())
    os.kill(pool_arbiter, signal.SIGKILL)
    # Its render process goes with it (it would otherwise hold the dead arbiter's socket open).
    wait_for(lambda: not Path(f"/proc/{renderer}").exists() or "Z" in Path(f"/proc/{renderer}/stat").read_text().split()[2])
    wait_for(lambda: [pid for pid in server.render_processes() if pid != renderer])
    # Both workers (the requests are spread over them) send heavy requests to the new arbiter.
    for width in range(500, 508):
        answer = requests.get(f"{server.base_url}/iiif/3/map/full/{width},/0/default.png", timeout=GENEROUS)
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("error", [ConnectionResetError(104, "Connection reset by peer"), BrokenPipeError(32, "Broken pipe")])
def test_a_worker_gone_mid_answer_is_one_line_in_the_render_process_log(error: OSError) -> None:
    """gunicorn's dirty worker logs a client that went away with its own formatted traceback as an argument."""
    record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, "Error during streaming: %s\n%s",
                               (error, "Traceback (most recent call last):\n  ..."), None)
    assert WorkerGoneFilter().filter(record)
    assert record.getMessage() == f"the worker that asked for a heavy render went away: {error}"


def test_other_render_process_errors_keep_their_traceback() -> None:
    record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, "Error executing %s.%s: %s\n%s",
                               ("app", "render", ValueError("bug"), "Traceback (most recent call last):\n  ..."), None)
    assert WorkerGoneFilter().filter(record)
    assert "Traceback" in record.getMessage()
