"""The HTTP side: :class:`ReferenceBackend`, its threaded server, outages and fault injection."""

from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Literal, Self, cast
from urllib.parse import parse_qs

from ._app import (
    App,
    BackendStats,
    Credentials,
    Request,
    Response,
    dump,
    error_response,
    match_route,
)
from .faults import FaultPlan

__all__ = ["DEFAULT_MAX_BODY_BYTES", "OutageMode", "ReferenceBackend"]

logger = logging.getLogger("reference_backend")

OutageMode = Literal["503", "refuse"]
DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024 * 1024
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_REASONS: Final = {499: "Client Closed Request", 520: "Web Server Returned an Unknown Error"}
_HTML_502: Final = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><p>The proxy got an invalid response from upstream.</p>"
    b"<hr><address>nginx</address></body></html>\n"
)
_HTML_504: Final = (
    b"<!DOCTYPE html>\n<html><head><title>504 Gateway Time-out</title></head>\n"
    b"<body><h1>504 Gateway Time-out</h1><p>The upstream did not answer in time.</p>"
    b"<hr><address>nginx</address></body></html>\n"
)


class _BodyError(Exception):
    def __init__(self, response: Response | None) -> None:
        super().__init__("bad request body")
        self.response = response  # None: the client went away, nothing to answer


class ReferenceBackend:
    """In-memory stand-in for the FinOps backend, serving ``openapi.yaml`` on a background thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``port=0`` picks a free port;
    :attr:`url` tells which. With ``require_auth`` every endpoint but ``/api/health`` needs one
    of the configured credentials: ``X-API-Key: <api_key>``, ``Authorization: Bearer
    <bearer_token>`` or ``Authorization: Basic base64(user:password)`` (UTF-8).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        bearer_token: str | None = None,
        basic: tuple[str, str] | None = None,
        require_auth: bool = False,
        fault_plan: FaultPlan | None = None,
        version: str = "1.0.0",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if basic is not None and ":" in basic[0]:
            raise ValueError("a Basic user name cannot contain ':'")
        self._host = host
        self._requested_port = port
        self._app = App(Credentials(api_key, bearer_token, basic), require_auth, version)
        self._fault_plan = fault_plan
        self._outage: OutageMode | None = None
        self._state_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.max_body_bytes = max_body_bytes

    # ---- lifecycle

    def start(self) -> Self:
        """Bind and serve on a daemon thread. Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("backend already started")
        server = _Server((self._host, self._requested_port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # how soon stop() returns
            name=f"reference-backend-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        logger.info("reference backend listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("backend not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    # ---- switches

    def set_outage(self, mode: OutageMode | None) -> None:
        """``None`` healthy; ``"503"`` every request (health too) gets 503 + ``Retry-After: 1``;
        ``"refuse"`` every request is read and its connection closed with no bytes written."""
        if mode not in (None, "503", "refuse"):
            raise ValueError(f"outage mode must be None, '503' or 'refuse', got {mode!r}")
        with self._state_lock:
            self._outage = mode

    @property
    def outage(self) -> OutageMode | None:
        with self._state_lock:
            return self._outage

    def set_fault_plan(self, plan: FaultPlan | None) -> None:
        """Swap the fault plan (``None``: no faults); takes effect for the next request."""
        with self._state_lock:
            self._fault_plan = plan

    @property
    def fault_plan(self) -> FaultPlan | None:
        with self._state_lock:
            return self._fault_plan

    def set_health_status(self, status: Literal["ok", "degraded", "down"]) -> None:
        """What ``GET /api/health`` reports in ``status`` (the HTTP status stays 200)."""
        if status not in ("ok", "degraded", "down"):
            raise ValueError(f"health status must be ok, degraded or down, got {status!r}")
        self._app.health_status = status

    # ---- state

    def stats(self) -> BackendStats:
        """A snapshot of the counters (attributes, or ``stats()["name"]``)."""
        return self._app.stats()

    def stored_ids(self, kind: str) -> list[str]:
        """Ids stored in a collection, in insertion order. ``kind``: ``"resources"``,
        ``"optimizations"``, ``"anomalies"`` or ``"forecasts"`` (also ``"budgets"``, the route or
        the schema name)."""
        return self._app.stored_ids(kind)

    def stored_items(self, kind: str) -> list[dict[str, Any]]:
        """Copies of the items stored in a collection, in insertion order."""
        return self._app.stored_items(kind)

    def add_items(self, kind: str, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Validate and store items directly (no HTTP, no request counted); returns the rejections."""
        return self._app.add_items(kind, list(items))

    def reset(self) -> None:
        """Forget all items, idempotency keys and counters; end any outage and drop the fault plan."""
        with self._state_lock:
            self._outage = None
            self._fault_plan = None
        self._app.reset()
        self._app.health_status = "ok"

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"ReferenceBackend({where})"


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], backend: ReferenceBackend) -> None:
        self.backend = backend
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Called from inside socketserver's own exception handler.
        logger.debug("error serving %s", client_address, exc_info=True)  # noqa: LOG014


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "finops-reference-backend/1.0"
    sys_version = ""
    timeout = 120  # seconds an idle keep-alive connection is kept
    # A buffered wfile: separate small writes of head and body would meet the client's delayed
    # ACK (about 40 ms per request) on top of Nagle's algorithm.
    wbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return self.server_version

    # ---- entry points

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    @property
    def _backend(self) -> ReferenceBackend:
        return cast(_Server, self.server).backend

    def _serve(self) -> None:
        try:
            self._serve_unsafe()
        except OSError:  # the client went away mid-answer
            self.close_connection = True
        except Exception:  # a bug here must not kill the connection thread silently
            logger.exception("reference backend failed on %s %s", self.command, self.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(error_response(500, "internal_error", "unexpected error in the reference backend"))

    def _serve_unsafe(self) -> None:
        backend = self._backend
        app = backend._app
        method = self.command
        target = self.path
        path, _, query_string = target.partition("?")
        self._request_id = self._incoming_request_id()
        try:
            route = match_route(method, path)
        except UnicodeDecodeError:
            route = None
        app.count_request(route, method)

        body_error: Response | None = None
        try:
            body = self._read_body(backend.max_body_bytes)
        except _BodyError as error:
            if error.response is None:
                self.close_connection = True
                return
            body_error, body = error.response, b""
            self.close_connection = True

        outage = backend.outage
        if outage == "refuse":
            app.count_outage("refuse")
            self._drop()
            return
        if outage == "503":
            app.count_outage("503")
            self._send(
                error_response(
                    503,
                    "service_unavailable",
                    "the backend is unavailable (outage)",
                    headers=(("Retry-After", "1"),),
                )
            )
            return
        if body_error is not None:
            self._send(body_error)
            return
        if route is None:
            self._send(error_response(404, "not_found", f"no route for {path[:200]}"))
            return
        if route.operation is None:
            self._send(
                error_response(
                    405,
                    "method_not_allowed",
                    f"{method} is not allowed on {route.template}",
                    headers=(("Allow", ", ".join(route.allowed)),),
                )
            )
            return

        plan = backend.fault_plan
        fault = plan.decide(method, route.template) if plan is not None else None
        if plan is not None and fault is not None:
            app.count_fault(fault)
            if self._pre_processing_fault(fault, plan, target):
                return

        request = Request(
            method=method,
            path=path,
            target=target,
            query=parse_qs(query_string, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            route=route,
        )
        response = app.process(request)

        if plan is None or fault is None:
            self._send(response)
        elif fault == "close_after_store":
            self._drop()
        elif fault == "close_mid_response":
            self._send(response, body=response.body[: len(response.body) // 2], content_length=len(response.body))
            self._drop()
        elif fault == "slow":
            time.sleep(plan.slow_seconds)
            self._send(response)
        elif fault == "truncated_json":
            self._send(response, body=response.body[: max(1, len(response.body) // 2)])
        elif fault == "504_after_store":  # the gateway gave up; the backend stored all the same
            self._send(Response(504, _HTML_504, content_type="text/html; charset=utf-8"))
        elif fault == "schema_break" and response.status == 200:
            broken = _break_schema(response.payload)
            self._send(Response(200, dump(broken), response.headers, broken))
        else:
            self._send(response)

    def _pre_processing_fault(self, fault: str, plan: FaultPlan, target: str) -> bool:
        """Answer a fault that happens before processing; ``False`` if ``fault`` is not one."""
        if fault == "503_burst":
            self._send(error_response(503, "service_unavailable", "injected fault: 503 burst"))
        elif fault == "429_seconds":
            self._send(
                error_response(
                    429,
                    "rate_limited",
                    "injected fault: rate limited",
                    headers=(("Retry-After", str(plan.retry_after_seconds)),),
                )
            )
        elif fault == "429_date":
            when = email.utils.formatdate(time.time() + plan.retry_after_seconds + 1, usegmt=True)
            self._send(
                error_response(429, "rate_limited", "injected fault: rate limited", headers=(("Retry-After", when),))
            )
        elif fault == "close_before_response":
            self._drop()
        elif fault == "html_error":
            self._send(Response(502, _HTML_502, content_type="text/html; charset=utf-8"))
        elif fault == "status_499":
            self._send(error_response(499, "client_closed_request", "injected fault: status 499"))
        elif fault == "status_520":
            self._send(error_response(520, "unknown_error", "injected fault: status 520"))
        elif fault == "redirect_other_origin":
            port = plan.redirect_port if plan.redirect_port is not None else self._backend.port
            location = f"http://{plan.redirect_host}:{port}{target}"
            self._send(
                error_response(307, "moved", f"injected fault: go to {location}", headers=(("Location", location),))
            )
        else:
            return False
        return True

    # ---- reading

    def _incoming_request_id(self) -> str:
        given = self.headers.get("X-Request-Id")
        if given is not None and _REQUEST_ID.match(given):
            return given
        return uuid.uuid4().hex

    def _read_body(self, limit: int) -> bytes:
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if encoding and encoding != "identity":
            if encoding != "chunked":
                raise _BodyError(error_response(400, "bad_request", f"unsupported Transfer-Encoding {encoding!r}"))
            return self._read_chunked(limit)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header.strip())
        except ValueError:
            length = -1
        if length < 0:
            raise _BodyError(error_response(400, "bad_request", "invalid Content-Length"))
        if length > limit:
            raise _BodyError(_too_large(limit))
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BodyError(None)
        return body

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1026)
            if not line:
                raise _BodyError(None)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BodyError(error_response(400, "bad_request", "malformed chunked body")) from None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > limit:
                raise _BodyError(_too_large(limit))
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _BodyError(None)
            parts.append(chunk)
            self.rfile.readline(3)

    # ---- writing

    def _send(self, response: Response, *, body: bytes | None = None, content_length: int | None = None) -> None:
        payload = response.body if body is None else body
        self.send_response(response.status, _REASONS.get(response.status))
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload) if content_length is None else content_length))
        self.send_header("X-Request-Id", getattr(self, "_request_id", None) or uuid.uuid4().hex)
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()  # into the wfile buffer: head and body leave in one write
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    def _drop(self) -> None:
        """End the exchange with no bytes written; the server then closes the socket."""
        self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (malformed request line, unknown method...) as Error JSON."""
        self.close_connection = True
        phrase = self.responses.get(code, ("error", ""))[0]
        self._send(error_response(code, phrase.lower().replace(" ", "_"), message or phrase))

    def log_message(self, format: str, *args: Any) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), format % args)


def _too_large(limit: int) -> Response:
    return error_response(413, "payload_too_large", f"request body exceeds {limit} bytes", {"maxBytes": limit})


def _break_schema(payload: Any) -> Any:
    """The same answer in a shape the contract forbids."""
    if isinstance(payload, dict):
        broken = dict(payload)
        if "accepted" in broken:  # IngestResult
            broken["accepted"] = str(broken["accepted"])
        elif "data" in broken:  # a page
            broken["data"] = {"items": broken["data"]}
        elif "decidedAt" in broken:  # Approval
            broken["status"] = "MAYBE"
        elif "status" in broken:  # HealthStatus
            broken["status"] = 42
        else:
            return [payload]
        return broken
    return {"unexpected": payload}
