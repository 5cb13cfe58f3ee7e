"""http_worker.py without a server: the balance table, and what the app's answer becomes for granian."""

from __future__ import annotations

import threading

import pytest

from iiif_server.http_worker import CLOSE_INTERVAL_SECONDS, WorkerLoads, WsgiRunner


class RecordingProtocol:
    """granian's protocol object, as far as the runner uses it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.calls.append(("bytes", status, headers, body))

    def response_iter(self, status: int, headers: list[tuple[str, str]], body) -> None:  # noqa: ANN001
        self.calls.append(("iter", status, headers, b"".join(iter(lambda: next(body, None), None))))
        body.close()


class StreamedBody:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks, self.closed = chunks, False

    def __iter__(self):
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


def rows(loads: WorkerLoads) -> list[int]:
    return list(loads._table)


def test_each_worker_takes_a_free_row_and_an_exited_one_frees_it() -> None:
    loads = WorkerLoads(2)
    assert [loads.join(pid).slot for pid in (101, 102)] == [0, 1]
    assert rows(loads) == [101, 0, 102, 0]
    extra = loads.join(103)  # a worker added beyond the configured number (TTIN)
    assert extra.slot is None, "a worker without a row is kept to no core"
    assert rows(loads) == [101, 0, 102, 0]
    with extra, extra, extra:
        assert not extra.crowded(), "a worker without a row never sends clients away"
    loads.forget(101)
    assert rows(loads) == [0, 0, 102, 0]
    assert loads.join(104).slot == 0, "a replacement takes the slot (and core) of the worker it replaces"
    assert rows(loads) == [104, 0, 102, 0]


@pytest.mark.parametrize(("own", "other", "crowded"), [
    (1, 0, False), (2, 0, True), (2, 1, False), (3, 1, True), (4, 4, False), (0, 3, False),
])
def test_crowded_means_two_requests_more_than_the_least_busy_worker(own: int,
                                                                   other: int, crowded: bool) -> None:
    loads = WorkerLoads(2)
    mine = loads.join(101)
    theirs = loads.join(102)
    for _ in range(other):
        theirs.__enter__()
    for _ in range(own):
        mine.__enter__()
    assert mine.crowded() is crowded
    assert rows(loads) == [101, own, 102, other]
    for _ in range(own):
        mine.__exit__(None, None, None)
    assert rows(loads)[1] == 0


def test_a_crowded_worker_closes_at_most_one_connection_per_interval() -> None:
    loads = WorkerLoads(2)
    mine, _idle = loads.join(101), loads.join(102)
    with mine, mine, mine:
        assert mine.crowded(now=100.0)
        assert not mine.crowded(now=100.0 + CLOSE_INTERVAL_SECONDS / 2), "a second close within the interval"
        assert mine.crowded(now=100.0 + CLOSE_INTERVAL_SECONDS * 1.01)
    with mine:
        assert not mine.crowded(now=200.0), "level again: nothing to close, whatever the time"


def test_the_only_live_worker_is_never_crowded() -> None:
    loads = WorkerLoads(2)
    alone = loads.join(101)
    with alone, alone, alone:
        assert not alone.crowded()


def test_waiting_until_idle_ends_when_the_last_request_does() -> None:
    load = WorkerLoads(1).join(101)
    load.__enter__()
    assert not load.wait_until_idle(0.05)
    threading.Timer(0.1, load.__exit__, (None, None, None)).start()
    assert load.wait_until_idle(5)


def whole_answer_app(environ, start_response):  # noqa: ANN001, ANN201 - a WSGI app
    whole_answer_app.environ = environ
    start_response("200 OK", [("Content-Type", "image/jpeg"), ("Content-Length", "5")])
    return [b"\xff\xd8", b"\xff\xd9!"]


def test_a_whole_answer_goes_to_granian_as_one_body_with_its_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not for the app")
    protocol = RecordingProtocol()
    runner = WsgiRunner(whole_answer_app, WorkerLoads(1).join(101))
    status = runner(protocol, {"PATH_INFO": "/a", "REQUEST_METHOD": "GET"})
    assert status == 200
    assert protocol.calls == [("bytes", 200, [("Content-Type", "image/jpeg"), ("Content-Length", "5")],
                               b"\xff\xd8\xff\xd9!")]
    environ = whole_answer_app.environ
    assert environ["PATH_INFO"] == "/a" and environ["wsgi.version"] == (1, 0)
    assert "AWS_SECRET_ACCESS_KEY" not in environ, "the process environment stays out of requests"


def test_a_streamed_answer_is_iterated_by_granian_and_closed() -> None:
    body = StreamedBody([b"abc", b"def"])

    def app(environ, start_response):  # noqa: ANN001, ANN202
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    protocol = RecordingProtocol()
    WsgiRunner(app, WorkerLoads(1).join(101))(protocol, {"PATH_INFO": "/viewer/"})
    assert protocol.calls == [("iter", 200, [("Content-Type", "text/plain")], b"abcdef")]
    assert body.closed


def test_a_crowded_worker_closes_the_connection_it_answers_on() -> None:
    loads = WorkerLoads(2)
    mine = loads.join(101)
    loads.join(102)  # an idle worker
    protocol = RecordingProtocol()
    runner = WsgiRunner(whole_answer_app, mine)
    runner(protocol, {})
    with mine:  # another request of this worker still running
        runner(protocol, {})
    assert [call[2][-1] for call in protocol.calls] == [("Content-Length", "5"), ("Connection", "close")]
