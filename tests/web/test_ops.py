"""Operational endpoints: /health, /health/ready, /metrics (Flask client and a real gunicorn)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from iiif_server import create_app
from iiif_server.metrics import MULTIPROC_ENV, ServerMetrics, classify_endpoint, multiprocess_directory
from iiif_server.settings import Settings
from tests.conftest import RunningServer


def samples(metrics_text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
    }


def sample(metrics_text: str, name: str, **labels: str) -> float:
    return samples(metrics_text).get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/iiif/3/maps%2Fhanoi-1873/info.json", "info"),
        ("/iiif/2/decree-65/info.json", "info"),
        ("/iiif/3/decree-65/0,0,256,256/256,256/0/default.jpg", "tile"),
        ("/iiif/2/decree-65/1024,512,512,512/256,/0/default.jpg", "tile"),
        ("/iiif/3/decree-65/full/1000,/0/default.jpg", "region"),
        ("/iiif/3/decree-65/0,0,4000,4000/2048,2048/0/default.jpg", "region"),
        ("/iiif/3/decree-65/pct:10,10,20,20/max/0/default.jpg", "region"),
        ("/iiif/3/decree-65/0,0,256,256/pct:50/0/default.jpg", "region"),
        ("/iiif/3/maps/hanoi-1873/0,0,256,256/256,/0/default.jpg", "tile"),
        ("/iiif/2/maps/hanoi-1873/full/full/0/default.jpg", "region"),
        ("/iiif/3/decree-65/0,0,256,256/!256,256/0/default.jpg", "region"),
        ("/iiif/3/decree-65", "other"),
        ("/iiif/3/0,0,256,256/256,/0/default.jpg", "other"),
        ("/iiif/presentation/manifests/decree-65.json", "other"),
        ("/metrics", "other"),
        ("/viewer/decree-65", "other"),
    ],
    ids=lambda value: value if value in ("info", "tile", "region", "other") else None,
)
def test_requests_are_classified_as_viewers_use_them(path, endpoint):
    assert classify_endpoint(path) == endpoint


def test_health_answers_while_the_process_runs(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_when_the_image_root_can_be_listed(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.text == "ready\n"


@pytest.mark.parametrize("problem", ["missing", "a file"])
def test_not_ready_when_the_image_root_cannot_be_listed(tmp_path: Path, problem: str):
    root = tmp_path / "share"
    if problem == "a file":
        root.write_text("not a folder")
    response = create_app(Settings(image_root=root)).test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.text.count("\n") == 1 and str(root) in response.text


def test_metrics_count_requests_latency_and_bytes_by_endpoint(client):
    info = client.get("/iiif/3/grid-tiff/info.json")
    tile = client.get("/iiif/3/grid-tiff/0,0,256,256/256,256/0/default.jpg")
    client.get("/iiif/3/grid-tiff/full/200,/0/default.jpg")
    missing = client.get("/iiif/3/no-such-image/info.json")
    assert (info.status_code, tile.status_code, missing.status_code) == (200, 200, 404)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    text = response.text
    assert sample(text, "iiif_requests_total", endpoint="info", status="200") == 1
    assert sample(text, "iiif_requests_total", endpoint="info", status="404") == 1
    assert sample(text, "iiif_requests_total", endpoint="tile", status="200") == 1
    assert sample(text, "iiif_requests_total", endpoint="region", status="200") == 1
    assert sample(text, "iiif_request_duration_seconds_count", endpoint="tile") == 1
    assert sample(text, "iiif_request_duration_seconds_bucket", endpoint="tile", le="+Inf") == 1
    assert sample(text, "iiif_response_bytes_total", endpoint="tile") == len(tile.data)
    assert sample(text, "iiif_response_bytes_total", endpoint="info") == len(info.data) + len(missing.data)


def test_the_pipeline_counts_cache_lookups_and_passthrough_tiles_into_the_apps_metrics(settings):
    """The app hands its metrics to the pipeline: a rendered tile (miss), the same again from the
    derivative cache (hit), a stored tile (passthrough), an edge tile cut out of its stored tile."""
    app = create_app(settings.replace(response_cache_bytes=0))
    client = app.test_client()
    for path in ("/iiif/3/grid-tiff/full/200,/0/default.png", "/iiif/3/grid-tiff/full/200,/0/default.png",
                 "/iiif/3/grid-tiff/0,0,256,256/256,256/0/default.jpg",
                 "/iiif/3/grid-tiff/1536,1024,64,176/64,176/0/default.jpg"):
        assert client.get(path).status_code == 200
    text = client.get("/metrics").text
    assert sample(text, "iiif_derivative_cache_lookups_total", result="hit") == 1
    assert sample(text, "iiif_derivative_cache_lookups_total", result="miss") == 1
    assert sample(text, "iiif_passthrough_tiles_total") == 1
    assert sample(text, "iiif_stored_tile_cuts_total") == 1


def test_server_metrics_count_what_the_data_path_reports():
    metrics = ServerMetrics()
    metrics.count_cache_lookup(hit=True)
    metrics.count_cache_lookup(hit=False)
    metrics.count_cache_lookup(hit=False)
    metrics.count_passthrough()
    text = metrics.exposition()[0].decode()
    assert sample(text, "iiif_derivative_cache_lookups_total", result="hit") == 1
    assert sample(text, "iiif_derivative_cache_lookups_total", result="miss") == 2
    assert sample(text, "iiif_passthrough_tiles_total") == 1


def test_each_app_counts_only_its_own_requests(settings):
    first, second = create_app(settings), create_app(settings)
    first.test_client().get("/health")
    text = second.test_client().get("/metrics").text
    assert sample(text, "iiif_requests_total", endpoint="other", status="200") == 0


def test_multiprocess_directory_is_fresh_and_removed_afterwards(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_directory() as folder:
        assert os.environ[MULTIPROC_ENV] == folder
        assert os.listdir(folder) == []
    assert not os.path.exists(folder)
    assert MULTIPROC_ENV not in os.environ


def test_metrics_add_up_every_gunicorn_worker(gunicorn_server: RunningServer):
    """Requests spread over both workers; whichever worker answers /metrics reports them all."""
    base = gunicorn_server.base_url
    before = sample(requests.get(f"{base}/metrics", timeout=10).text, "iiif_requests_total",
                    endpoint="info", status="200")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(
            lambda _: requests.get(f"{base}/iiif/2/grid-tiff/info.json", timeout=10).status_code, range(40)))
    assert statuses == [200] * 40
    for _ in range(4):  # ask several times: a different worker may answer each time
        after = sample(requests.get(f"{base}/metrics", timeout=10).text, "iiif_requests_total",
                       endpoint="info", status="200")
        assert after - before == 40
