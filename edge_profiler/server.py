"""Serving the agent: a :class:`Config`, a threaded stdlib WSGI server, clean shutdown.

Shaped like uvicorn's ``Config`` / ``Server`` split: :class:`Config` holds the settings (host
127.0.0.1 by default), :class:`AgentServer` binds and serves :class:`~edge_profiler.app.AgentApp`
with ``wsgiref`` plus one thread per connection, and :func:`serve` adds SIGTERM/SIGINT handlers.
Binding to anything but loopback requires a token.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import signal
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from edge_profiler.app import AgentApp
from edge_profiler.measurer import CooldownPolicy, Measurer
from edge_profiler.sandbox import SandboxLimits
from edge_profiler.service import MeasurementService

logger = logging.getLogger(__name__)

TOKEN_ENV = "EDGE_PROFILER_TOKEN"


@dataclasses.dataclass(frozen=True)
class Config:
    """Agent settings. The token comes from ``token``, else ``token_file``, else ``$EDGE_PROFILER_TOKEN``."""

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    token_file: Path | None = None
    max_upload_mb: float = 64.0
    queue_size: int = 8
    cache_size: int = 512
    memory_limit_mb: int = SandboxLimits.memory_limit_mb
    timeout_s: float = SandboxLimits.timeout_s
    runtime: str = "auto"
    cooldown_retries: int = 0
    cooldown_target_c: float = 60.0
    cooldown_max_wait_s: float = 120.0

    def resolve_token(self) -> str | None:
        """The token to require, or None; raises ValueError when a non-loopback host has none."""
        token = self.token
        if token is None and self.token_file is not None:
            try:
                token = Path(self.token_file).read_text().strip()
            except OSError as exc:
                raise ValueError(f"cannot read token file {self.token_file}: {exc}") from None
            if not token:
                raise ValueError(f"token file {self.token_file} is empty")
        if token is None:
            token = os.environ.get(TOKEN_ENV) or None
        if token is not None and len(token) < 16:
            raise ValueError("the token must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        if token is None and not is_loopback(self.host):
            raise ValueError(
                f"binding to {self.host!r} exposes the agent to the network; set a token with "
                f"--token-file FILE or ${TOKEN_ENV} (or bind to 127.0.0.1)")
        return token

    def build_app(self) -> AgentApp:
        limits = SandboxLimits(memory_limit_mb=self.memory_limit_mb, timeout_s=self.timeout_s, runtime=self.runtime)
        cooldown = CooldownPolicy(retries=self.cooldown_retries, target_temp_c=self.cooldown_target_c,
                                  max_wait_s=self.cooldown_max_wait_s)
        agent_id = f"{socket.gethostname()}:{self.port}"
        service = MeasurementService(Measurer(limits, cooldown, measured_by=agent_id),
                                     queue_size=self.queue_size, cache_size=self.cache_size)
        return AgentApp(service, token=self.resolve_token(), max_upload_bytes=int(self.max_upload_mb * 2**20),
                        agent_id=agent_id)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """The app logs one line per request itself; keep wsgiref's stderr lines out."""

    timeout = 120  # seconds a client may stay silent mid-request before its connection is dropped

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug(format, *args)


class AgentServer:
    """Bind ``config.host:config.port`` (port 0 picks a free one) and serve the agent."""

    def __init__(self, config: Config, app: AgentApp | None = None) -> None:
        self.config = config
        self.app = app or config.build_app()
        server_cls = _ThreadingWSGIServer
        if ":" in config.host:
            server_cls = type("_ThreadingWSGIServer6", (_ThreadingWSGIServer,), {"address_family": socket.AF_INET6})
        self.httpd = server_cls((config.host, config.port), _QuietHandler)
        self.httpd.set_app(self.app)
        if app is None and config.port == 0:  # name the agent by the port actually bound
            self.app.agent_id = self.app.service.measurer.measured_by = f"{socket.gethostname()}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        logger.info("edge-profiler agent listening on %s (token %s, runtime %s %s)", self.url,
                    "required" if self.app._token else "off", self.app.service.runtime.name,
                    self.app.service.runtime.version)
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> AgentServer:
        """Serve in a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.serve_forever, name="edge-profiler-http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting, finish the current measurement, refuse queued ones, close the socket."""
        self.httpd.shutdown()
        self.app.service.close(timeout_s=self.config.timeout_s)
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        logger.info("edge-profiler agent on %s stopped", self.url)


def serve(config: Config) -> int:
    """Run the agent until SIGTERM or SIGINT, then shut down cleanly; returns an exit status."""
    server = AgentServer(config)
    stopping = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        logger.info("received %s, shutting down", signal.Signals(signum).name)
        # shutdown() waits for serve_forever() to return, so it must run in another thread.
        threading.Thread(target=server.httpd.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.app.service.close(timeout_s=config.timeout_s)
        server.httpd.server_close()
        logger.info("edge-profiler agent on %s stopped", server.url)
    return 0
