"""Stdlib fallback server for ``--smoke`` when nginx is missing: same routes, same bodies.

Run as ``python -m benchmarks._stdserver`` (a process of its own, so it does not share the
client's GIL); prints its port on the first line of stdout and serves until killed.
``GET /nginx_status`` answers in nginx's stub_status format, so connection counting works
the same way against both servers.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import IPPROTO_TCP, TCP_NODELAY, socket
from typing import Any

HEALTH = b'{"status":"ok","timestamp":"2026-11-29T10:00:00Z"}'
INGESTED = b'{"success":true,"accepted":500,"rejected":[],"timestamp":"2026-11-29T10:00:00Z"}'
PAGE = b'{"success":true,"data":[],"nextCursor":null,"timestamp":"2026-11-29T10:00:00Z"}'
NOT_FOUND = b'{"error":"not found"}'


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accepts = 0
        self.requests = 0
        self.count_lock = threading.Lock()

    def get_request(self) -> tuple[socket, Any]:
        conn = super().get_request()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms.
        conn[0].setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        with self.count_lock:
            self.accepts += 1
        return conn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        with self.server.count_lock:
            self.server.requests += 1
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _discard_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def do_GET(self) -> None:
        if self.path == "/api/health":
            self._reply(200, HEALTH)
        elif self.path.startswith("/api/resources"):
            self._reply(200, PAGE)
        elif self.path == "/nginx_status":
            s = self.server
            with s.count_lock:
                text = (
                    f"Active connections: 1\nserver accepts handled requests\n {s.accepts} {s.accepts} {s.requests}\n"
                )
            self._reply(200, text.encode(), "text/plain")
        else:
            self._reply(404, NOT_FOUND)

    def do_POST(self) -> None:
        self._discard_body()
        if self.path == "/api/resources":
            self._reply(201, INGESTED)
        else:
            self._reply(404, NOT_FOUND)


def main() -> int:
    server = CountingServer(("127.0.0.1", 0), Handler)
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
