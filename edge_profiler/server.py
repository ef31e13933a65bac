"""Serving the agent: a :class:`Config`, a threaded stdlib WSGI server, clean shutdown.

Shaped like uvicorn's ``Config`` / ``Server`` split: :class:`Config` holds the settings (host
127.0.0.1 by default), :class:`AgentServer` binds and serves :class:`~edge_profiler.app.AgentApp`
with ``wsgiref`` plus one thread per connection, and :func:`serve` adds SIGTERM/SIGINT handlers.
Binding to anything but loopback requires a token.

Every answer has the JSON error shape, including those ``http.server`` writes itself before the
app runs (431 headers too large, 414 request line too long, 400 malformed request): the handler's
``send_error`` is replaced. A client that stops sending mid-request is dropped after
``read_timeout_s``; if it stalls in a declared body, it is answered 408 ``request_timeout``.
A starting agent removes the work folders that killed agents left behind
(:func:`edge_profiler.sandbox.remove_stale_workdirs`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import http
import ipaddress
import json
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
from edge_profiler.sandbox import SandboxLimits, remove_stale_workdirs
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
    cache_mb: float = 8.0
    read_timeout_s: float = 30.0
    memory_limit_mb: int = SandboxLimits.memory_limit_mb
    timeout_s: float = SandboxLimits.timeout_s
    runtime: str = "auto"
    cooldown_retries: int = 0
    cooldown_target_c: float = 60.0
    cooldown_max_wait_s: float = 120.0

    def __post_init__(self) -> None:
        if not self.read_timeout_s > 0:
            raise ValueError(f"read_timeout_s={self.read_timeout_s} must be above 0 seconds")
        if not self.cache_mb >= 0:
            raise ValueError(f"cache_mb={self.cache_mb} must not be negative")

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
                                     queue_size=self.queue_size, cache_max_bytes=int(self.cache_mb * 2**20))
        return AgentApp(service, token=self.resolve_token(), max_upload_bytes=int(self.max_upload_mb * 2**20),
                        agent_id=agent_id)


_M_MMAP_THRESHOLD = -3  # <malloc.h>


def return_large_buffers_to_the_os(threshold_bytes: int = 1 << 20) -> bool:
    """Make glibc serve every allocation of ``threshold_bytes`` or more with its own mmap.

    By default glibc raises its mmap threshold to the size of the last freed mmapped block (up to
    32 MB, mallopt(3)), so after the first large upload later ones of up to 32 MB come from
    per-thread arenas, whose freed memory is kept: 20 rejected 16 MB uploads kept ~160 MB of RSS.
    A fixed threshold (which also turns the dynamic adjustment off) returns each upload's memory
    as soon as it is freed. Returns False where there is no glibc (the agent works, less lean).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold_bytes))
    except (OSError, AttributeError):
        return False


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
    # listen(2) backlog: socketserver's default of 5 overflows when a cluster's workers connect at
    # once, and an overflowing backlog can answer with a reset instead of a queued connection.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line instead of socketserver's traceback on stderr (a client reset, a timeout)."""
        logger.warning("connection from %s ended with an error", client_address[0], exc_info=logger.isEnabledFor(
            logging.DEBUG))


class _QuietHandler(WSGIRequestHandler):
    """The app logs one line per request itself; keep wsgiref's stderr lines out, and answer the
    errors ``http.server`` detects itself (431, 414, 400, 505) with the agent's JSON error shape."""

    timeout: float | None = Config.read_timeout_s  # seconds a client may stay silent mid-request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug(format, *args)

    def handle(self) -> None:
        try:
            super().handle()
        except TimeoutError:  # silent while sending the request line or headers
            self.close_connection = True
            for name, default in (("requestline", ""), ("command", ""), ("request_version", "HTTP/1.0")):
                if not getattr(self, name, None):
                    setattr(self, name, default)
            self.send_error(408, f"no complete request within {self.timeout:g} s")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        kind = "too_large" if code in (413, 414, 431) else "request_timeout" if code == 408 else "bad_request"
        text = message or phrase
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # answer with a status line and headers even so
        payload = json.dumps({"error": {"kind": kind, "message": f"{text} (HTTP {code})", "status": code}})
        body = payload.encode("utf-8")
        logger.info("%s - - %d %s", self.client_address[0], code, text)
        self.send_response(code, phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", "") != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


class AgentServer:
    """Bind ``config.host:config.port`` (port 0 picks a free one) and serve the agent."""

    def __init__(self, config: Config, app: AgentApp | None = None) -> None:
        self.config = config
        self.app = app or config.build_app()
        server_cls = _ThreadingWSGIServer
        if ":" in config.host:
            server_cls = type("_ThreadingWSGIServer6", (_ThreadingWSGIServer,), {"address_family": socket.AF_INET6})
        return_large_buffers_to_the_os()
        for path in remove_stale_workdirs():
            logger.warning("removed the work folder %s left by an agent that was killed", path)
        handler = type("_Handler", (_QuietHandler,), {"timeout": config.read_timeout_s})
        self.httpd = server_cls((config.host, config.port), handler)
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
