"""Running the installed ``finops`` console script against a reference backend, piped or on a pty."""

from __future__ import annotations

import errno
import os
import pty
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs
import pytest

from reference_backend import ReferenceBackend

#: The console script pip installed for ``[project.scripts] finops``.
FINOPS = str(Path(sys.executable).with_name("finops"))
KEY = "sk-cli-test-7Hq3"


@attrs.define
class Finops:
    """Runs ``finops`` in a subprocess with an environment of its own (no profile of the
    developer's: the files live in ``home``)."""

    backend: ReferenceBackend
    home: Path
    env: dict[str, str] = attrs.field(factory=dict)

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FINOPS_")}
        env.update(
            FINOPS_API_URL=self.backend.url,
            FINOPS_API_KEY=KEY,
            FINOPS_CONFIG_FILE=str(self.home / "config"),
            FINOPS_SHARED_CREDENTIALS_FILE=str(self.home / "credentials"),
            COLUMNS="120",
        )
        env.update(self.env)
        env.update(extra or {})
        return {k: v for k, v in env.items() if v != ""}  # "" removes a variable

    def __call__(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [FINOPS, *args], input=input, capture_output=True, env=self.environment(env), timeout=120, check=False
        )
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())

    def popen(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [FINOPS, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.environment(env),
        )

    def on_pty(
        self, *args: str, dialog: list[tuple[str, bytes]] | None = None, env: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        """Run on a pseudo-terminal (stdin, stdout and stderr): its exit status and everything
        it wrote there. ``dialog``: when the output shows each text, the keystrokes to type
        (typed only then, as a person would: before a prompt hides input, the terminal echoes)."""
        main, child = pty.openpty()
        extra = {"TERM": "xterm-256color", **(env or {})}
        process = subprocess.Popen(
            [FINOPS, *args], stdin=child, stdout=child, stderr=child, env=self.environment(extra), close_fds=True
        )
        os.close(child)
        steps = list(dialog or [])
        seen = b""
        while True:
            try:
                data = os.read(main, 65536)
            except OSError as exc:  # EIO: the child closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            seen += data
            if steps and steps[0][0].encode() in seen.rsplit(b"\n", 1)[-1]:
                os.write(main, steps.pop(0)[1])
        os.close(main)
        return process.wait(timeout=60), seen.decode(errors="replace")

    def posts(self) -> int:
        """How many POSTs the backend saw."""
        return sum(n for op, n in self.backend.stats().requests_by_operation.items() if op.startswith("post_"))


@pytest.fixture
def backend() -> Iterator[ReferenceBackend]:
    with ReferenceBackend(api_key=KEY, require_auth=True) as b:
        yield b


@pytest.fixture
def finops(backend: ReferenceBackend, tmp_path: Path) -> Finops:
    return Finops(backend, tmp_path)
