"""The local HTTP server the benchmarks talk to: nginx from our own template, or (``--smoke``
only, when nginx is missing) the stdlib fallback in :mod:`benchmarks._stdserver`.

Both run as separate processes pinned to CPU 1 when the machine has two CPUs (the client is
pinned to CPU 0 by the harness), and both answer ``GET /nginx_status`` in stub_status format,
so :meth:`Server.accepts` counts accepted TCP connections the same way for either.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["Server", "ServerError", "nginx_version", "pin_current_process", "start_server"]

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
SERVER_CPU = 1
CLIENT_CPU = 0
_STATUS_LOCATION = """        location = /nginx_status {
            stub_status;
        }"""


class ServerError(RuntimeError):
    pass


def _two_cpus() -> bool:
    try:
        return {CLIENT_CPU, SERVER_CPU} <= os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return False


def pin_current_process() -> str:
    """Pin this (client) process to CPU 0 when CPU 1 is there for the server; say what was done."""
    if not _two_cpus():
        return "not pinned (fewer than 2 usable CPUs)"
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})
    except OSError as exc:
        return f"not pinned ({exc})"
    return f"client on CPU {CLIENT_CPU}, server on CPU {SERVER_CPU}"


def _pin_child_to_server_cpu() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {SERVER_CPU})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise ServerError(f"server did not listen on port {port} within {timeout:.0f} s")


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def nginx_version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    text = (out.stderr or out.stdout).strip()
    return text.split(":", 1)[-1].strip() or "unknown"


def _has_stub_status(binary: str) -> bool:
    out = subprocess.run([binary, "-V"], capture_output=True, text=True, check=False)
    return "http_stub_status_module" in (out.stderr + out.stdout)


def install_nginx() -> str | None:
    """``apt-get install nginx`` (full mode only); the path of the binary, or None."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("nginx not found: installing it with apt-get ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx"],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    return find_nginx()


def render_config(prefix: Path, port: int, *, stub_status: bool) -> str:
    text = TEMPLATE.read_text()
    return (
        text.replace("@@PREFIX@@", str(prefix))
        .replace("@@PORT@@", str(port))
        .replace("@@STATUS_LOCATION@@", _STATUS_LOCATION if stub_status else "")
    )


_ACCEPTS = re.compile(r"server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)")


class Server:
    """A running server process: ``url``, ``kind``, ``version``, ``accepts()``, ``close()``."""

    def __init__(
        self, kind: str, version: str, port: int, proc: subprocess.Popen[bytes], tmp: Path | None, status: bool
    ) -> None:
        self.kind = kind
        self.version = version
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._proc = proc
        self._tmp = tmp
        self.has_status = status

    def accepts(self) -> int | None:
        """Connections the server has accepted so far, this query's own included (None if unknown)."""
        if not self.has_status:
            return None
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/nginx_status", headers={"Connection": "close"})
            body = conn.getresponse().read().decode()
        finally:
            conn.close()
        m = _ACCEPTS.search(body)
        return int(m.group(1)) if m else None

    def new_connections(self, before: int | None, after: int | None) -> int | None:
        """Connections opened between two ``accepts()`` readings, not counting the second reading's."""
        if before is None or after is None:
            return None
        return after - before - 1

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def error_log(self) -> str:
        if self._tmp is None:
            return ""
        path = self._tmp / "error.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def _start_nginx(binary: str, pin: bool) -> Server:
    tmp = Path(tempfile.mkdtemp(prefix="finops-bench-nginx-"))
    tmp.chmod(0o755)  # workers run as an unprivileged user when we are root
    port = _free_port()
    status = _has_stub_status(binary)
    conf = tmp / "nginx.conf"
    conf.write_text(render_config(tmp, port, stub_status=status))
    # The compiled-in error log is opened before the config is read: -e keeps it in tmp too.
    cmd = [binary, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_pin_child_to_server_cpu if pin else None,
    )
    server = Server("nginx", nginx_version(binary), port, proc, tmp, status)
    try:
        _wait_listening(port, proc)
    except ServerError as exc:
        log = server.error_log()
        server.close()
        raise ServerError(f"{exc}; nginx error log: {log.strip() or '(empty)'}") from None
    return server


def _start_stdlib(pin: bool) -> Server:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._stdserver"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=str(Path(__file__).resolve().parent.parent),
        preexec_fn=_pin_child_to_server_cpu if pin else None,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.isdigit():
        proc.kill()
        raise ServerError(f"stdlib server did not report a port (got {line!r})")
    port = int(line)
    server = Server("stdlib ThreadingHTTPServer", f"Python {sys.version.split()[0]}", port, proc, None, True)
    _wait_listening(port, proc)
    return server


def start_server(*, smoke: bool, pin: bool, kind: str = "auto") -> Server:
    """nginx when available (installed with apt-get in full mode if missing); in smoke mode,
    the stdlib fallback when it is not. ``kind="stdlib"`` forces the fallback (to test it)."""
    if kind == "stdlib":
        return _start_stdlib(pin)
    binary = find_nginx()
    if binary is None and not smoke:
        binary = install_nginx()
        if binary is None:
            raise ServerError("nginx is missing and could not be installed (need root and apt-get)")
    if binary is None:
        return _start_stdlib(pin)
    return _start_nginx(binary, pin)
