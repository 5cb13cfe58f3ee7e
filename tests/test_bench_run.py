"""The benchmark runs end to end: ``python -m bench.run --quick`` against a real iipsrv (lighttpd) and
our server, with wrk, on small generated masters, and writes its table with the distinct headline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_run_writes_the_distinct_headline_and_every_row(tmp_path):
    output = tmp_path / "latest.md"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--cache", str(tmp_path / "cache"), "--output", str(output)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    table = output.read_text()
    assert table.splitlines()[2].startswith("**Distinct tiles, every URL new to both servers: ours / iipsrv = ")
    for row in ("| distinct tiles c4 |", "| distinct tiles c16 |", "| distinct JPEG 2000 tiles c4 |",
                "| distinct info.json c16 |", "| distinct JPEG 2000 info.json c16 |", "| repeated tiles c16 (cache hits) |", "| repeated info.json c16 (cache hits) |",
                "| cold full/1000, archive-40k-jp2 ", "| peak memory, all processes (MiB) |"):
        assert row in table, row
    assert "Failed requests: iipsrv 0, ours 0." in table
    assert not list((tmp_path / "cache" / "quick").glob("run-*")), "the run's folder of hard links is removed"
    assert sorted(path.name for path in (tmp_path / "cache" / "quick" / "images").iterdir()) == [
        "archive-16k-jp2.jp2", "archive-16k.tif", "archive-40k-jp2.jp2", "archive-40k.tif"]
