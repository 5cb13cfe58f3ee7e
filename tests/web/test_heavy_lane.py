"""The heavy-request lane in a real gunicorn process: large renders take turns across the server's
workers, in its render processes (render_pool.py), and tiles go past them."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pyvips
import requests

from iiif_server import create_app
from iiif_server.settings import Settings
from tests.conftest import start_server, stop_server
from tests.grid import grid_image

WIDTH, HEIGHT = 4000, 3000
HEAVY_REQUESTS = 8
# Each answers a new PNG of about 2400 x 1800 px (4.3 Mpx, above the 2048 x 2048 threshold) of grainy pixels.
HEAVY_WIDTHS = [2400 - n for n in range(HEAVY_REQUESTS)]


@pytest.fixture(scope="module")
def noisy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4000 x 3000 pyramidal TIFF whose grain makes a PNG of it costly, as a scanned map is."""
    root = tmp_path_factory.mktemp("heavy")
    grain = pyvips.Image.gaussnoise(WIDTH, HEIGHT, sigma=12)
    image = (grid_image(40, 30, cell=100) + grain).cast("uchar")
    image.tiffsave(str(root / "map.tif"), tile=True, pyramid=True, compression="jpeg", Q=85, tile_width=256,
                   tile_height=256)
    return root


def test_a_full_lane_refuses_heavy_requests_only_and_never_a_cached_one(settings: Settings) -> None:
    # The 1600 x 1200 grid: 800 px wide is 480,000 px, above this threshold; 200 px wide is below it.
    app = create_app(settings.replace(heavy_output_pixels=100_000, heavy_slots=1, heavy_queue=0,
                                      response_cache_bytes=0))
    client = app.test_client()
    cached = "/iiif/3/grid-tiff/full/800,/0/default.png"
    assert client.get(cached).status_code == 200
    with app.extensions["iiif"].heavy_lane.turn():  # the worker's only slot is taken
        refused = client.get("/iiif/3/grid-tiff/full/801,/0/default.png")
        assert refused.status_code == 503
        assert refused.headers["Retry-After"].isdigit() and int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["Cache-Control"] == "no-store"
        assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]
        assert refused.text == "heavy-request lane is full: large outputs are rendered a few at a time; retry later\n"
        assert client.get("/iiif/3/grid-tiff/full/200,/0/default.png").status_code == 200
        assert client.get("/iiif/3/grid-tiff/0,0,256,256/256,/0/default.jpg").status_code == 200
        assert client.get("/iiif/3/grid-tiff/info.json").status_code == 200
        assert client.get(cached).status_code == 200  # from the derivative cache: no render, no lane


def timed_get(url: str) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    response = requests.get(url, timeout=300)
    return response, time.perf_counter() - started


def test_heavy_requests_take_turns_and_tiles_do_not_wait_behind_them(noisy_root: Path) -> None:
    # Two workers; 1 heavy slot and 1 queue place for the whole server. Renders at low priority crawl
    # on a busy machine: a long deadline.
    # Threads enough for every request at once: a heavy request waiting for a thread would reach the
    # lane only after the first render ended, and find a place there.
    server = start_server(noisy_root, "--workers", "2", "--threads", "8",
                          env={"IIIF_HEAVY_SLOTS": "1", "IIIF_HEAVY_QUEUE": "1", "IIIF_HEAVY_DEADLINE_MS": "300000"})
    base = f"{server.base_url}/iiif/3/map"
    heavy_running = threading.Event()
    tile_latencies: list[float] = []
    try:
        # Rendered tiles (a quarter-size output each), never the same URL twice: no cache answers them.
        tile_urls = iter(f"{base}/{x},{y},512,512/256,/0/default.jpg" for y in range(0, 2560, 512)
                         for x in range(0, 3584, 512))

        def tiles_while_heavy_run() -> list[requests.Response]:
            heavy_running.wait(30)
            answers = []
            for url in tile_urls:
                if not heavy_running.is_set():
                    break
                response, seconds = timed_get(url)
                answers.append(response)
                tile_latencies.append(seconds)
            return answers

        # All heavy requests leave together, once every client thread is up: on a loaded machine,
        # threads started one by one could send the last ones after the first render has ended.
        together = threading.Barrier(HEAVY_REQUESTS)

        def heavy_get(url: str) -> tuple[requests.Response, float]:
            together.wait(60)
            return timed_get(url)

        with ThreadPoolExecutor(HEAVY_REQUESTS + 1) as pool:
            tiles = pool.submit(tiles_while_heavy_run)
            heavy = [pool.submit(heavy_get, f"{base}/full/{width},/90/default.png") for width in HEAVY_WIDTHS]
            time.sleep(0.05)
            heavy_running.set()
            heavy_answers = [future.result() for future in heavy]
            heavy_running.clear()
            tile_answers = tiles.result()
    finally:
        stop_server(server)

    statuses = sorted(response.status_code for response, _ in heavy_answers)
    print(f"heavy: {[(r.status_code, round(s, 2)) for r, s in heavy_answers]}; {len(tile_latencies)} tiles meanwhile "
          f"in {[round(s * 1000) for s in tile_latencies]} ms")
    assert set(statuses) <= {200, 503}, statuses
    answered = [seconds for response, seconds in heavy_answers if response.status_code == 200]
    refused = [response for response, _ in heavy_answers if response.status_code == 503]
    # Everything arrives at once, spread over both workers: the server's one slot and one queue place
    # take two, and a request that reaches the lane just as the first render ends may take the freed
    # place (seen at once on a quiet machine); the rest are refused, none lost.
    assert answered and refused, statuses
    assert len(answered) <= 3 and len(refused) >= HEAVY_REQUESTS - 3, statuses
    for response in refused:
        assert int(response.headers["Retry-After"]) >= 1
        assert "heavy-request lane" in response.text
    for (response, _), width in zip(heavy_answers, HEAVY_WIDTHS):
        if response.status_code == 200:
            assert pyvips.Image.new_from_buffer(response.content, "").height == width  # rotated 90 degrees
    assert tile_answers and all(response.status_code == 200 for response in tile_answers)
    # Tiles kept being answered while the heavy renders ran, each far quicker than one heavy render.
    assert len(tile_latencies) >= 3, tile_latencies
    assert statistics.median(tile_latencies) < min(answered) / 3, (tile_latencies, answered)
