"""lingering.py: a closed connection waits for its peer on the closer's thread, never the caller's."""

from __future__ import annotations

import socket
import time

import pytest

from iiif_server.lingering import LingeringCloser


def wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def is_closed(sock: socket.socket) -> bool:
    return sock.fileno() == -1


@pytest.fixture
def pair():
    server_side, client_side = socket.socketpair()
    yield server_side, client_side
    server_side.close()
    client_side.close()


def test_close_returns_at_once_and_sends_fin_while_the_peer_keeps_its_socket_open(pair) -> None:
    server_side, client_side = pair
    closer = LingeringCloser(linger_seconds=0.5)
    started = time.perf_counter()
    closer.close(server_side)
    assert time.perf_counter() - started < 0.05
    client_side.settimeout(1)
    assert client_side.recv(10) == b"", "the peer sees end of stream at once"
    assert closer.lingering == 1 and not is_closed(server_side)


def test_a_peer_that_never_closes_is_closed_on_after_the_linger_time(pair) -> None:
    server_side, _client_side = pair
    closer = LingeringCloser(linger_seconds=0.3)
    started = time.monotonic()
    closer.close(server_side)
    wait_until(lambda: is_closed(server_side))
    assert 0.25 <= time.monotonic() - started < 2.0
    assert closer.lingering == 0


def test_a_peer_that_closes_is_closed_on_at_once(pair) -> None:
    server_side, client_side = pair
    closer = LingeringCloser(linger_seconds=30)
    closer.close(server_side)
    client_side.close()
    wait_until(lambda: is_closed(server_side), seconds=1.0)


def test_what_the_peer_still_sends_is_read_up_to_the_drain_limit(pair) -> None:
    server_side, client_side = pair
    closer = LingeringCloser(linger_seconds=30, drain_bytes=8192)
    client_side.sendall(b"x" * 4096)  # unread request bytes: read, not left to reset the connection
    closer.close(server_side)
    time.sleep(0.1)
    assert not is_closed(server_side)
    client_side.sendall(b"x" * 4096)
    wait_until(lambda: is_closed(server_side), seconds=1.0)


def test_many_lingering_sockets_wait_together_and_beyond_the_limit_close_at_once() -> None:
    closer = LingeringCloser(linger_seconds=0.4, max_lingering=3)
    pairs = [socket.socketpair() for _ in range(4)]
    try:
        for server_side, _ in pairs:
            closer.close(server_side)
        assert is_closed(pairs[3][0]), "the fourth is over the limit"
        wait_until(lambda: closer.lingering == 3, seconds=1.0)
        wait_until(lambda: all(is_closed(server_side) for server_side, _ in pairs), seconds=2.0)
    finally:
        for server_side, client_side in pairs:
            server_side.close()
            client_side.close()
