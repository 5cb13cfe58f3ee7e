"""deadlines.py and its use: every request answers within its deadline (503 after it) and frees its
thread, whether its work hangs in a system call or grinds through a pathological master.

Slow and stuck sources are real ImageSource implementations (a MemorySource whose reads sleep or
block); the last test runs a real gunicorn worker with one thread. Timings are generous: the
machine may be loaded.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import pyvips
import requests

from iiif_server import create_app
from iiif_server.deadlines import CallingThreadRunner, Deadline, DeadlineRunner
from iiif_server.errors import DeadlineExceeded
from iiif_server.info import Jpeg2000Layout
from iiif_server.jpeg2000 import Jpeg2000Regions
from iiif_server.metrics import UncountedMetrics
from iiif_server.pipeline import DeadlineAllowances, TILE_DEADLINE_MAX_PIXELS, build_pipeline
from iiif_server.plan import Box, LevelReader
from iiif_server.request import ApiVersion, parse_image_path
from iiif_server.settings import Settings
from iiif_server.sources.base import Master
from iiif_server.sources.memory import MemorySource
from tests.conftest import start_server, stop_server
from tests.grid import grid_image

# Far above any deadline in these tests: an answer this late means the deadline did not work.
TOO_LATE_SECONDS = 10


# -- the runner ------------------------------------------------------------------------------------


def test_the_runner_returns_the_result_or_raises_the_error_of_its_work():
    runner = DeadlineRunner(max_threads=2)
    assert runner.run(Deadline.after(TOO_LATE_SECONDS), lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        runner.run(Deadline.after(TOO_LATE_SECONDS), lambda: 1 / 0)


def test_work_past_its_deadline_is_answered_on_time_and_the_caller_moves_on():
    runner = DeadlineRunner(max_threads=2)
    released = threading.Event()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as raised:
        runner.run(Deadline.after(0.2), released.wait)  # a system call that never returns, as on a hung mount
    waited = time.monotonic() - started
    assert 0.2 <= waited < TOO_LATE_SECONDS
    assert "0.2 s deadline" in raised.value.reason and raised.value.status == 503
    # The stuck work holds one pool thread; the other serves the next request.
    assert runner.run(Deadline.after(TOO_LATE_SECONDS), lambda: "next") == "next"
    released.set()


def test_work_waiting_for_a_thread_is_abandoned_unstarted_when_its_deadline_passes():
    runner = DeadlineRunner(max_threads=1)
    released = threading.Event()
    with pytest.raises(DeadlineExceeded):
        runner.run(Deadline.after(0.1), released.wait)
    ran = []
    with pytest.raises(DeadlineExceeded):
        runner.run(Deadline.after(0.1), lambda: ran.append("late work"))
    assert runner.threads == 1
    released.set()
    assert runner.run(Deadline.after(TOO_LATE_SECONDS), lambda: "after") == "after"
    assert ran == [], "work whose caller has gone must not run"


def test_work_may_extend_its_deadline_once_it_knows_it_is_heavy():
    runner = DeadlineRunner(max_threads=1)

    def heavy(extend) -> str:
        extend(Deadline.after(TOO_LATE_SECONDS))
        time.sleep(0.3)
        return "done"

    assert runner.run_extendable(Deadline.after(0.1), heavy) == "done"


def test_the_pool_never_grows_beyond_its_threads():
    runner = DeadlineRunner(max_threads=3)
    gate = threading.Barrier(4)
    answers = []

    def call() -> None:
        answers.append(runner.run(Deadline.after(TOO_LATE_SECONDS), lambda: time.sleep(0.05) or "ok"))

    callers = [threading.Thread(target=lambda: (gate.wait(), [call() for _ in range(20)])) for _ in range(3)]
    for caller in callers:
        caller.start()
    gate.wait()
    for caller in callers:
        caller.join(timeout=60)
    assert answers == ["ok"] * 60
    assert runner.threads <= 3


# -- which requests get which deadline ---------------------------------------------------------------


def plan_with(reader: LevelReader, width: int, height: int):
    from tests.unit.test_plan import GRID, plan_url

    plan = plan_url("full/max/0/default.jpg", GRID)
    return plan.__class__(**{**plan.__dict__, "reader": reader, "crop": Box(0, 0, width, height)})


@pytest.mark.parametrize(
    ("reader", "width", "height", "expected"),
    [
        pytest.param(LevelReader.OPENED_LEVEL, 256, 256, 5.0, id="a tile of a pyramid level"),
        pytest.param(LevelReader.JPEG2000_REGION, 1000, 750, 5.0, id="a thumbnail from a JPEG 2000 resolution"),
        pytest.param(LevelReader.OPENED_LEVEL, 2048, 2048, 5.0, id="a 2048 px crop of a level, the largest light one"),
        pytest.param(LevelReader.OPENED_LEVEL, 2049, 2048, 60.0, id="a larger region is heavy"),
        pytest.param(LevelReader.SEQUENTIAL, 256, 256, 60.0, id="any request of a master read top to bottom is heavy"),
    ],
)
def test_tiles_and_thumbnails_get_the_tile_deadline_the_rest_the_heavy_one(reader, width, height, expected):
    assert width * height <= TILE_DEADLINE_MAX_PIXELS or expected == 60.0
    assert DeadlineAllowances(tile_seconds=5.0, heavy_seconds=60.0).for_plan(plan_with(reader, width, height)) == expected


def test_a_request_the_heavy_lane_takes_gets_the_heavy_deadline(settings: Settings) -> None:
    pipeline = create_app(settings.replace(tile_deadline_ms=5_000, heavy_deadline_ms=60_000,
                                           heavy_output_pixels=100_000)).extensions["iiif"]
    small_crop_large_output = parse_image_path("grid-tiff/0,0,256,256/^800,/0/default.png", ApiVersion.V3)
    assert pipeline.prepare(small_crop_large_output).deadline.seconds == 60.0
    tile = parse_image_path("grid-tiff/0,0,256,256/256,/0/default.jpg", ApiVersion.V3)
    assert pipeline.prepare(tile).deadline.seconds == 5.0


# -- through the app, with slow and stuck sources ------------------------------------------------------


class StuckSource(MemorySource):
    """Masters under ``stuck/`` are behind a mount that stopped answering: locating one blocks."""

    reads_may_hang = True

    def __init__(self) -> None:
        super().__init__()
        self.unstuck = threading.Event()

    def locate(self, identifier: str) -> Master:
        if identifier.startswith("stuck/"):
            self.unstuck.wait()
        return super().locate(identifier)


class SlowReadingSource(MemorySource):
    """Each read of a master's bytes by libvips takes ``seconds_per_read`` (a failing disk, a slow
    object store); counts the reads, so a test can tell when decoding stopped."""

    reads_may_hang = True

    def __init__(self, seconds_per_read: float) -> None:
        super().__init__()
        self.seconds_per_read = seconds_per_read
        self.reads = 0
        self.streams: list[pyvips.SourceCustom] = []

    def load_image(self, master: Master, **load_options: object) -> pyvips.Image:
        data = self._data(master)
        position = 0

        def read(size: int) -> bytes:
            nonlocal position
            time.sleep(self.seconds_per_read)
            self.reads += 1
            chunk = data[position : position + size]
            position += len(chunk)
            return chunk

        stream = pyvips.SourceCustom()
        stream.on_read(read)
        # The stream's Python object owns the read callback libvips calls: keep it while images may read.
        self.streams.append(stream)
        return pyvips.Image.new_from_source(stream, "", **load_options)


def small_page() -> bytes:
    return (pyvips.Image.black(64, 48, bands=3) + [200, 180, 150]).cast("uchar").pngsave_buffer()


def test_info_json_of_a_master_on_a_hung_mount_answers_503_and_other_requests_go_on():
    source = StuckSource()
    source.put("stuck/letter", small_page(), ".png")
    source.put("fine/letter", small_page(), ".png")
    app = create_app(Settings(tile_deadline_ms=300, response_cache_bytes=0), source=source)
    client = app.test_client()
    try:
        started = time.monotonic()
        stuck = client.get("/iiif/3/stuck%2Fletter/info.json")
        waited = time.monotonic() - started
        assert stuck.status_code == 503
        assert stuck.text.strip() == "the request took longer than its 0.3 s deadline; try again later"
        assert 0.3 <= waited < TOO_LATE_SECONDS
        assert client.get("/iiif/3/fine%2Fletter/info.json").status_code == 200
        assert client.get("/iiif/3/fine%2Fletter/full/max/0/default.jpg").status_code == 200
        assert client.get("/iiif/3/stuck%2Fletter/full/max/0/default.jpg").status_code == 503
        assert client.get("/iiif/3/stuck%2Fletter").status_code == 503
    finally:
        source.unstuck.set()


def test_a_heavy_request_on_a_slow_source_is_killed_at_its_deadline():
    source = SlowReadingSource(seconds_per_read=0.05)
    # Noise compresses badly: 13 MB, at least 200 reads (of 64 KiB at most), 10 s, to decode it whole.
    noise = pyvips.Image.gaussnoise(2400, 1800).cast("uchar")
    source.put("scan", noise.bandjoin([noise.flip("horizontal"), noise.flip("vertical")]).pngsave_buffer(compression=1),
               ".png")
    app = create_app(Settings(heavy_deadline_ms=500, response_cache_bytes=0, derivative_cache_bytes=0), source=source)
    client = app.test_client()
    started = time.monotonic()
    answer = client.get("/iiif/3/scan/full/max/0/default.png")
    waited = time.monotonic() - started
    assert answer.status_code == 503 and "0.5 s deadline" in answer.text
    assert 0.5 <= waited < TOO_LATE_SECONDS
    # The abandoned decode was killed from libvips' progress callback: reading stops.
    time.sleep(1.0)
    reads_after_kill = source.reads
    time.sleep(1.0)
    assert source.reads == reads_after_kill
    assert reads_after_kill < 100, "the decode was not stopped at its deadline"


def test_a_jpeg2000_region_stops_between_code_tiles_and_serves_again(tmp_path: Path):
    grid_image(16, 12).jp2ksave(str(tmp_path / "grid.jp2"), lossless=True, tile_width=256, tile_height=256)
    from iiif_server.sources.filesystem import FileSystemSource

    source = FileSystemSource(tmp_path)
    master = source.locate("grid")
    layout = Jpeg2000Layout(1600, 1200, 256, 256, 3)
    regions = Jpeg2000Regions(index_bytes=1 << 20)
    regions.read(master, master.location, layout, 0, Box(0, 0, 256, 256), Deadline.after(TOO_LATE_SECONDS))
    with pytest.raises(DeadlineExceeded):
        regions.read(master, master.location, layout, 0, Box(0, 0, 512, 512), Deadline.after(0))
    assert regions.read(master, master.location, layout, 0, Box(0, 0, 64, 64), Deadline.after(TOO_LATE_SECONDS)).width == 64


# -- a real gunicorn worker ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


def test_gunicorn_answers_503_at_the_deadline_frees_its_only_thread_and_stops_the_work(tmp_path: Path):
    """One worker with one thread: a pathological request (a 6000 px wide PNG made from noise) is
    answered 503 at its deadline, the next request is served at once, and the worker stops burning
    CPU on the abandoned one, nor does the server's render process (render_pool.py) that got it."""
    pyvips.Image.gaussnoise(3000, 2000).cast("uchar").pngsave(str(tmp_path / "noise.png"), compression=1)
    (pyvips.Image.black(64, 48, bands=3) + 90).cast("uchar").pngsave(str(tmp_path / "small.png"))
    server = start_server(tmp_path, "--workers", "1", "--threads", "1",
                          env={"IIIF_HEAVY_DEADLINE_MS": "300", "IIIF_RESPONSE_CACHE_BYTES": "0"})
    try:
        (worker,) = server.http_workers()
        started = time.monotonic()
        heavy = requests.get(f"{server.base_url}/iiif/3/noise/full/^6000,/0/default.png", timeout=60)
        waited = time.monotonic() - started
        assert heavy.status_code == 503 and "0.3 s deadline" in heavy.text
        assert waited < TOO_LATE_SECONDS
        assert requests.get(f"{server.base_url}/iiif/3/small/info.json", timeout=TOO_LATE_SECONDS).status_code == 200
        time.sleep(0.5)
        busy = [worker, *server.render_processes()]
        before = sum(map(cpu_seconds, busy))
        time.sleep(2.0)
        assert sum(map(cpu_seconds, busy)) - before < 0.5, "the abandoned render kept running"
    finally:
        stop_server(server)


def test_work_runs_on_the_request_thread_unless_the_source_may_hang():
    """Two thread switches cost about 200 µs of CPU per tile: only a source whose reads may wait
    without end (a network share, an object store) pays them for the deadline's guarantee."""

    assert isinstance(build_pipeline(Settings(), MemorySource(), UncountedMetrics()).runner, CallingThreadRunner)
    assert isinstance(build_pipeline(Settings(), StuckSource(), UncountedMetrics()).runner, DeadlineRunner)
    request_thread = threading.get_ident()
    assert CallingThreadRunner().run_extendable(Deadline.after(0), lambda _extend: threading.get_ident()) == request_thread
