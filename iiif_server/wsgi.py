"""Running the app under gunicorn, configured from Settings (no gunicorn config file needed)."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from iiif_server import create_app
from iiif_server.settings import Settings


class _GunicornServer(BaseApplication):
    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.settings = settings
        self.bind = f"{host}:{port}"
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", self.bind)
        self.cfg.set("workers", self.settings.workers)
        # pyvips releases the GIL while it decodes and encodes, so threads overlap real work.
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", self.settings.threads)
        self.cfg.set("loglevel", self.settings.log_level)
        self.cfg.set("accesslog", None)
        self.cfg.set("timeout", 120)
        self.cfg.set("keepalive", 5)

    def load(self):  # noqa: ANN201 - gunicorn's hook
        return create_app(self.settings)


def run_gunicorn(settings: Settings, host: str, port: int) -> None:
    _GunicornServer(settings, host, port).run()
