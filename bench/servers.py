"""The two servers under test, started on 127.0.0.1 with the same image folder and 2 worker processes,
and the resident memory and CPU time of all their processes, read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

IIPSRV_FCGI = Path("/usr/lib/iipimage-server/iipsrv.fcgi")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
# Kernel wait channels (/proc/PID/wchan) of a process idle between requests.
WAITING_FOR_WORK = ("epoll", "poll", "select", "futex", "accept", "wait_for_more_packets")

LIGHTTPD_CONFIG = """\
server.modules = ("mod_fastcgi")
server.document-root = "{work}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{work}/lighttpd-error.log"
server.max-connections = 1024
fastcgi.server = ( "/iiif" => ((
  "socket" => "{work}/iipsrv.sock",
  "check-local" => "disable",
  "max-procs" => {workers},
  "bin-path" => "{fcgi}",
  "bin-environment" => (
    "FILESYSTEM_PREFIX" => "{images}/",
    "URI_MAP" => "iiif=>IIIF",
    "CORS" => "*",
    "JPEG_QUALITY" => "{jpeg_quality}",
    "MAX_CVT" => "5000",
    "MAX_IMAGE_CACHE_SIZE" => "{cache_mb}",
    "LOGFILE" => "{work}/iipsrv.log",
    "VERBOSITY" => "0"
  )
)))
"""


@dataclass
class ServerProcess:
    """A server started by the benchmark: its process group leader and how to reach it."""

    name: str
    process: subprocess.Popen
    base_url: str
    log_path: Path
    peak_rss_bytes: int = 0
    peak_process_rss_bytes: int = 0
    process_count: int = 0
    _sampler: threading.Thread | None = field(default=None, repr=False)
    _stop_sampling: threading.Event = field(default_factory=threading.Event, repr=False)

    def pids(self) -> list[int]:
        """The leader and every descendant (gunicorn workers and render processes; lighttpd's iipsrv processes)."""
        found, pending = [], [self.process.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending += _children(pid)
        return found

    def http_worker_pids(self) -> list[int]:
        """Our server's HTTP workers: the leader's children but the render pool's arbiter, the one
        whose children are the heavy-render processes (iiif_server/render_pool.py)."""
        return [child for child in _children(self.process.pid) if not _children(child)]

    def rss_bytes(self) -> list[int]:
        sizes = []
        for pid in self.pids():
            try:
                sizes.append(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES)
            except (OSError, IndexError):
                continue
        return sizes

    def cpu_seconds(self) -> float:
        """User and system CPU time of the server's live processes so far."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / CLOCK_TICKS

    def start_sampling(self, interval: float = 0.1) -> None:
        def sample() -> None:
            while not self._stop_sampling.wait(interval):
                sizes = self.rss_bytes()
                self.peak_rss_bytes = max(self.peak_rss_bytes, sum(sizes))
                self.peak_process_rss_bytes = max(self.peak_process_rss_bytes, max(sizes, default=0))
                self.process_count = max(self.process_count, len(sizes))

        self._sampler = threading.Thread(target=sample, name=f"rss-{self.name}", daemon=True)
        self._sampler.start()

    def stop(self) -> None:
        """Stop sampling, then the whole process group this benchmark started (by its leader's id)."""
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _children(pid: int) -> list[int]:
    children = []
    for task in _listdir(f"/proc/{pid}/task"):
        try:
            children += [int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return children


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def start_iipsrv(images: Path, work: Path, port: int, workers: int, jpeg_quality: int, cache_mb: int) -> ServerProcess:
    """iipsrv behind lighttpd's FastCGI module, ``workers`` iipsrv processes, IIIF under /iiif/, each
    with a tile cache of ``cache_mb`` megabytes."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "lighttpd.conf"
    config.write_text(LIGHTTPD_CONFIG.format(
        work=work, port=port, workers=workers, fcgi=IIPSRV_FCGI, images=images.resolve(), jpeg_quality=jpeg_quality,
        cache_mb=cache_mb,
    ))
    log_path = work / "lighttpd.out"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["lighttpd", "-D", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = ServerProcess("iipsrv", process, f"http://127.0.0.1:{port}/iiif", log_path)
    _wait_until_ready(server, f"http://127.0.0.1:{port}/iiif/none.tif/info.json", processes=1 + workers)
    return server


def start_ours(python: Path, images: Path, work: Path, port: int, workers: int, threads: int,
               environment: dict[str, str], checkout: Path | None = None) -> ServerProcess:
    """``iiif-archive serve`` (gunicorn) with ``workers`` processes; the Image API under /iiif/2 and /iiif/3.
    ``checkout``: serve the code of another checkout of this repository (an earlier commit) with this
    environment's packages; ``python -m`` imports from its working folder first."""
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "iiif-archive.out"
    # Until issue 11 the platform's entry point lived in iiif_server.
    module = "iiif_server" if checkout and not (checkout / "iiif_archive").is_dir() else "iiif_archive"
    command = [str(python), "-m", module, "serve", "--images", str(images), "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--threads", str(threads)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=checkout, env={**os.environ, **environment})
    server = ServerProcess("ours", process, f"http://127.0.0.1:{port}/iiif", log_path)
    _wait_until_ready(server, f"http://127.0.0.1:{port}/health", processes=1 + workers)
    return server


def _wait_until_ready(server: ServerProcess, url: str, processes: int, timeout: float = 60) -> None:
    """Wait until ``url`` answers (any status) and every process (front and workers) exists and
    waits for work. A worker still loading the app would otherwise miss the first connections, and
    a load generator's keep-alive connections would stay on the other worker for the whole pass."""
    deadline = time.monotonic() + timeout
    idle_in_a_row = 0
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start; see {server.log_path}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            answered = True
        except urllib.error.HTTPError:
            answered = True
        except OSError:
            answered = False
        time.sleep(0.1)  # the front is still busy with this very request right after answering it
        pids = server.pids()
        idle = answered and len(pids) >= processes and all(_waiting_for_work(pid) for pid in pids)
        idle_in_a_row = idle_in_a_row + 1 if idle else 0
        if idle_in_a_row == 3:
            return
    server.stop()
    raise RuntimeError(f"{server.name} did not answer {url} within {timeout:.0f} s; see {server.log_path}")


def _waiting_for_work(pid: int) -> bool:
    """Asleep in the kernel, in a call that waits for connections or requests (epoll, poll, a lock
    of the thread pool; a FastCGI accept on a Unix socket waits for packets), not loading."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        wait_channel = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False
    return state == "S" and any(word in wait_channel for word in WAITING_FOR_WORK)
