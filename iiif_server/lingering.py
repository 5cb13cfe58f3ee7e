"""Closing client connections gracefully without holding up a worker's event loop.

gunicorn's gthread worker closes a connection it will not keep alive as RFC 9112 section 9.6 asks:
it sends FIN, then reads what the client still sends until the client closes, up to 2 s and
64 KiB, so that unread request bytes never make the kernel reset the connection and cut the
answer's last segment. But it does so on the worker's one event-loop thread. A client that reads
its answer and keeps its socket open (a refused request's error object held while the client waits
out Retry-After, a crawler, or an attacker on purpose) stops the worker from accepting, reading
or answering anything for those 2 s: eight such clients held every tile of a server for 2 to 4 s
(bench/heavy.py). Here the lingering happens on one thread of its own per worker, over a selector,
for any number of sockets at once; the event loop only hands the socket over.
"""

from __future__ import annotations

import queue
import selectors
import socket
import threading
import time
from dataclasses import dataclass

# As gunicorn's close_graceful: how long a closed connection waits for the client's FIN, and how
# much it reads meanwhile.
LINGER_SECONDS = 2.0
DRAIN_BYTES = 64 * 1024
# Sockets lingering at once; beyond this a connection is closed at once (file descriptors are finite,
# and a client opening connections it never closes must not exhaust them).
MAX_LINGERING = 1024


@dataclass
class _Lingering:
    closes_at: float
    drained: int = 0


class LingeringCloser:
    """Half-closes sockets and closes them fully once the peer has closed, sent ``drain_bytes``, or
    ``linger_seconds`` have passed, on a daemon thread started by the first ``close``. Thread-safe."""

    def __init__(self, linger_seconds: float = LINGER_SECONDS, drain_bytes: int = DRAIN_BYTES,
                 max_lingering: int = MAX_LINGERING) -> None:
        self.linger_seconds = linger_seconds
        self.drain_bytes = drain_bytes
        self.max_lingering = max_lingering
        self._arrivals: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._lingering: dict[socket.socket, _Lingering] = {}  # the closer thread's own
        # Sockets handed over and not closed yet: counted apart from the queue and the dict, which
        # a socket passes between on the closer's thread.
        self._count = 0
        self._count_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def lingering(self) -> int:
        """Sockets handed over and not closed yet."""
        return self._count

    def close(self, sock: socket.socket) -> None:
        """Send FIN now; the socket is closed later, on the closer's thread. Returns at once."""
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the peer is already gone
            sock.close()
            return
        with self._count_lock:
            full = self._count >= self.max_lingering
            if not full:
                self._count += 1
        if full:
            sock.close()
            return
        self._start()
        self._arrivals.put(sock)
        try:
            self._wake_writer.send(b"\0")
        except BlockingIOError:  # wake-ups already pending: the thread will look at the queue
            pass

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="iiif-lingering-close", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_reader, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            soonest = min((entry.closes_at for entry in self._lingering.values()), default=None)
            timeout = None if soonest is None else max(0.0, soonest - now)
            for key, _events in selector.select(timeout):
                if key.fileobj is self._wake_reader:
                    self._take_arrivals(selector)
                else:
                    self._drain(selector, key.fileobj)  # type: ignore[arg-type] - only sockets are registered
            now = time.monotonic()
            for sock in [sock for sock, entry in self._lingering.items() if entry.closes_at <= now]:
                self._finish(selector, sock)

    def _take_arrivals(self, selector: selectors.BaseSelector) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass
        closes_at = time.monotonic() + self.linger_seconds
        while True:
            try:
                sock = self._arrivals.get_nowait()
            except queue.Empty:
                return
            try:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            except (OSError, ValueError):  # closed meanwhile: nothing left to wait for
                self._closed(sock)
                continue
            self._lingering[sock] = _Lingering(closes_at)

    def _drain(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        entry = self._lingering[sock]
        entry.drained += len(data)
        if not data or entry.drained >= self.drain_bytes:
            self._finish(selector, sock)

    def _finish(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        selector.unregister(sock)
        del self._lingering[sock]
        self._closed(sock)

    def _closed(self, sock: socket.socket) -> None:
        sock.close()
        with self._count_lock:
            self._count -= 1
