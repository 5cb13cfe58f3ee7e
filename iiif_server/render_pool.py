"""The server's heavy-render processes: heavy requests render at low priority, beside tiles, not before them.

A heavy render (see lane.py) costs about a second of CPU where a tile costs a few milliseconds. On
a worker's own threads it competes with the tiles for the CPU, and no operating-system priority can
tell threads of one process apart (libvips renders both on the same pool). So a server run by
``serve`` renders heavy requests in ``heavy_slots`` processes of its own, shared by all its workers:
gunicorn's dirty workers, which its arbiter supervises (one killed is replaced, its request
answered 503) and which the workers reach through one Unix socket only the server's user can open.
Each runs at SCHED_BATCH and nice 10 with libvips on one thread, so heavy work takes at most
``heavy_slots`` cores and yields to tiles: a busy tile thread outweighs it ten to one and is never
preempted by it. Not SCHED_IDLE: on a saturated machine that gives a heavy render no CPU at all, and
it would only ever end at its deadline; at nice 10 it still finishes, slowly. A worker sends
the prepared request (pickled: it holds the plan, the master's location and the deadline) and
waits for the bytes, sent back in chunks, at most until the request's deadline; the render process
stops at the same deadline (render.py's progress callback), so an abandoned render frees its slot.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import pickle
import signal
from collections.abc import Iterator

import pyvips
from gunicorn.dirty import DirtyApp, DirtyAppError, DirtyError, DirtyTimeoutError
from gunicorn.dirty.client import DirtyClient, DirtyStreamIterator

# CFS weights nice 10 at 110 against nice 0's 1024: a heavy render gets a tenth of what a tile thread
# beside it gets, and still ends within heavy_deadline_ms on a saturated machine.
RENDER_NICENESS = 10

from iiif_server.errors import DeadlineExceeded, IIIFError, Unavailable
from iiif_server.loaders import allow_only_master_loaders
from iiif_server.metrics import UncountedMetrics
from iiif_server.pipeline import ImagePipeline, PreparedImage, build_pipeline
from iiif_server.settings import Settings
from iiif_server.sources import open_source

APP_PATH = "iiif_server.render_pool:HeavyRenderApp"
# gunicorn's dirty protocol carries at most 64 MB per message (a 40 Mpx PNG can be more), and its
# client gathers each message by concatenating what each recv returns, holding the worker's GIL:
# messages of about one socket buffer each keep that linear (8 MB ones held tiles up for 100s of ms).
CHUNK_BYTES = 256 * 1024
_PR_SET_PDEATHSIG = 1  # linux/prctl.h

log = logging.getLogger(__name__)


class PoolAddress:
    """The Unix socket of the render processes' arbiter, in memory the server's processes share
    (made before they fork). gunicorn replaces a dead pool arbiter by one on a new socket and tells
    only the workers it forks afterwards; the new arbiter writes its socket here when it starts
    (gunicorn's on_dirty_starting hook), so every worker reaches it. Process-safe."""

    def __init__(self) -> None:
        self._path = multiprocessing.Array("c", 4096)

    def set(self, path: str) -> None:
        self._path.value = os.fsencode(path)

    def get(self) -> str:
        return os.fsdecode(self._path.value)


class PooledRenderer:
    """pipeline.HeavyRenderer over the server's render processes. Thread-safe: one connection per request."""

    def __init__(self, address: PoolAddress) -> None:
        self.address = address

    def render(self, prepared: PreparedImage) -> bytes:
        waited = prepared.deadline.remaining()
        if waited <= 0:
            raise DeadlineExceeded(prepared.deadline.reason)
        client = DirtyClient(self.address.get(), timeout=waited)
        try:
            # The first message comes once the whole render is done: no shorter wait between chunks.
            chunks = DirtyStreamIterator(client, APP_PATH, "render", (pickle.dumps(prepared),), {},
                                         idle_timeout=waited)
            outcome = pickle.loads(next(chunks))  # noqa: S301 - from our own render process, over a socket only our user opens
            if outcome is not None:
                raise outcome
            return b"".join(chunks)
        except DirtyTimeoutError:
            raise DeadlineExceeded(prepared.deadline.reason) from None
        except DirtyAppError as error:
            # A bug, not a busy server: the render process logged its traceback.
            raise RuntimeError(f"heavy render of {prepared.master.identifier!r} failed: {error}") from None
        except (DirtyError, StopIteration) as error:
            log.warning("heavy render of %r got no answer: %s", prepared.master.identifier, error)
            raise Unavailable("the heavy-render process stopped before answering; retry later", 1) from None
        finally:
            client.close()


class WorkerGoneFilter(logging.Filter):
    """A worker killed while its heavy render streamed back (a crash, an operator's kill) leaves the
    render process writing to a closed socket: gunicorn logs that with a traceback of its own code. It
    is the worker's failure, answered there, not this process's: one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        gone = next((arg for arg in record.args or () if isinstance(arg, (ConnectionResetError, BrokenPipeError))),
                    None) if isinstance(record.args, tuple) else None
        if gone is not None:
            record.msg, record.args = "the worker that asked for a heavy render went away: %s", (gone,)
        return True


class HeavyRenderApp(DirtyApp):
    """Runs in each render process: the data path's own render, nothing else. ``start`` is called
    once, with the server's settings, before the first request (wsgi.py's dirty_worker_init hook)."""

    def __init__(self) -> None:
        self.pipeline: ImagePipeline | None = None

    def start(self, settings: Settings) -> None:
        # gunicorn stops its render processes with their arbiter, except when the arbiter is killed:
        # then they would live on, holding its listening socket open.
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        logging.getLogger("gunicorn.error").addFilter(WorkerGoneFilter())
        run_at_low_priority()
        # One libvips thread: heavy work never takes more cores than there are render processes.
        pyvips.concurrency_set(1)
        pyvips.cache_set_max(0)  # as create_app: opened masters are keyed by fingerprint (OpenedLevels)
        allow_only_master_loaders()
        self.pipeline = build_pipeline(settings, open_source(settings), UncountedMetrics())

    def render(self, request: bytes) -> Iterator[bytes]:
        """Pickled: None then the bytes in chunks, or the IIIFError the render raised."""
        assert self.pipeline is not None, "start() runs before the first request"
        prepared: PreparedImage = pickle.loads(request)  # noqa: S301 - from a worker, over a socket only our user opens
        try:
            prepared.deadline.check()  # waited in the queue past its deadline: the worker has answered 503
            data = self.pipeline.render_pixels(prepared)
        except IIIFError as error:
            yield pickle.dumps(error)
            return
        yield pickle.dumps(None)
        view = memoryview(data)
        for start in range(0, len(data), CHUNK_BYTES):
            yield bytes(view[start : start + CHUNK_BYTES])


def run_at_low_priority() -> None:
    """SCHED_BATCH (no wake-up preemption of other tasks) and nice RENDER_NICENESS for every thread of
    this process, and every thread it starts later (Linux keeps both per thread and passes them on)."""
    for thread_id in map(int, os.listdir("/proc/self/task")):
        os.sched_setscheduler(thread_id, os.SCHED_BATCH, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, thread_id, RENDER_NICENESS)
