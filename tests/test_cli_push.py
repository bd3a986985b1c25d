"""``finops push`` run as the installed script against the reference backend: every format, every
exit status, bad files refused with nothing sent, Ctrl-C, a terminal's progress bar, and a
100,000-record push in constant memory."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from reference_backend import ReferenceBackend
from reference_backend.faults import FaultPlan
from tests.cli_support import FINOPS, Finops, backend, finops
from tests.support import resource

__all__ = ["backend", "finops"]  # the fixtures this module uses


def write_ndjson(path: Path, records: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Path:
    with path.open("w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    return path


def summary(text: str) -> dict[str, int]:
    """The rows of push's summary table."""
    return {m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"│ ([a-z][a-z ]*?)\s+│\s+([\d,]+) │", text)}


def small(n: int) -> list[dict[str, Any]]:
    return [resource(i) for i in range(n)]


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_every_format_is_pushed_whole(finops: Finops, backend: ReferenceBackend, tmp_path: Path, fmt: str) -> None:
    records = small(1200)  # 3 chunks of 500
    path = tmp_path / f"in.{fmt}"
    if fmt == "ndjson":
        write_ndjson(path, records)
    elif fmt == "json":
        path.write_text(json.dumps(records, indent=2))
    else:
        columns = sorted({k for r in records for k in r})
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for r in records:
                writer.writerow([json.dumps(r[c]) if isinstance(r.get(c), dict) else r.get(c, "") for c in columns])
    done = finops("push", "resources", str(path))
    assert done.returncode == 0, done.stderr
    assert "accepted        │ 1,200" in done.stdout
    assert backend.stored_items("resources") == records  # nested CSV columns read back as objects


def test_stdin_is_pushed_and_dry_run_sends_nothing(finops: Finops, backend: ReferenceBackend, tmp_path: Path) -> None:
    data = write_ndjson(tmp_path / "in.ndjson", small(10)).read_bytes()
    dry = finops("push", "resources", "-", "--dry-run", input=data)
    assert dry.returncode == 0
    assert "dry run: 10 valid resources record(s), 1 chunk(s); nothing was sent" in dry.stdout
    assert finops.posts() == 0
    done = finops("push", "resources", "-", input=data)
    assert done.returncode == 0, done.stderr
    assert len(backend.stored_ids("resources")) == 10


def test_a_named_pipe_is_read_once_and_pushed(finops: Finops, backend: ReferenceBackend, tmp_path: Path) -> None:
    fifo = tmp_path / "export.ndjson"
    os.mkfifo(fifo)
    data = "".join(json.dumps(r) + "\n" for r in small(700)).encode()

    def write() -> None:
        with fifo.open("wb") as f:
            f.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    done = finops("push", "resources", str(fifo))
    writer.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(backend.stored_ids("resources")) == 700


BAD_INPUTS = [
    pytest.param("in.json", b'[{"resourceId": "a", "resourceType": "x", "region": "r"},\n{"resourceId": "b"',
                 "line 2: the record starting here is truncated", id="truncated-json"),
    pytest.param("in.csv", b"resourceId,resourceType\na,b\n", "lacks the required column(s) region",
                 id="csv-missing-column"),
    pytest.param("in.csv", b"resourceId,resourceTyp,region\na,b,c\n",
                 "lacks the required column(s) resourceType ('resourceType' is spelled 'resourceTyp' here?)",
                 id="csv-misspelt-column"),
    pytest.param("in.ndjson", b"", "is empty: no records", id="empty"),
    pytest.param("in.ndjson", b"\n\n  \n", "is empty: no records", id="blank"),
    pytest.param("in.csv", b"resourceId,resourceType,region\n", "holds no records", id="csv-header-only"),
    pytest.param("in.json", b'[{"resourceId": "a"}] trailing', "more data after the end", id="json-trailing"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "message"), BAD_INPUTS)
def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_sent(
    finops: Finops, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    done = finops("push", "resources", str(path))
    assert done.returncode == 5
    assert message in done.stderr
    assert "nothing was sent" in done.stderr
    assert finops.posts() == 0


def test_every_bad_record_is_reported_by_line_and_field_capped(finops: Finops, tmp_path: Path) -> None:
    records: list[Any] = small(100)
    for n in range(0, 60, 2):  # 30 bad records
        records[n] = {**records[n], "currentCost": -1}
    records[1] = {k: v for k, v in records[1].items() if k != "region"}
    path = write_ndjson(tmp_path / "in.ndjson", records)
    with path.open("a") as f:
        f.write("{not json\n[1, 2]\n")
    done = finops("push", "resources", str(path))
    assert done.returncode == 5
    lines = done.stderr.splitlines()
    assert lines[0] == "line 1, field currentCost: must be >= 0, got -1"
    assert lines[1] == "line 2, field region: is required"
    assert len([line for line in lines if line.startswith("line ")]) == 20
    assert "33 of 102 record(s) are bad (13 more not shown); nothing was sent" in done.stderr
    assert finops.posts() == 0


def test_a_two_gib_line_on_stdin_is_refused_early(finops: Finops) -> None:
    process = finops.popen("push", "resources", "-")
    assert process.stdin is not None
    sent = 0
    block = b"x" * (1 << 20)

    def feed() -> None:  # 2 GiB of one line, streamed: the reader must stop long before the end
        nonlocal sent
        try:
            process.stdin.write(b'{"resourceId": "')  # type: ignore[union-attr]
            while sent < 2 << 30:
                process.stdin.write(block)  # type: ignore[union-attr]
                sent += len(block)
        except (BrokenPipeError, OSError, ValueError):
            pass  # the reader stopped: what this test wants

    writer = threading.Thread(target=feed)
    writer.start()
    assert process.stderr is not None
    err = process.stderr.read()
    process.wait(timeout=120)
    writer.join(timeout=60)
    assert process.returncode == 5
    assert b"line 1: a line longer than 1,048,576 bytes: refused before reading the rest of it" in err
    assert sent < 256 << 20  # refused after at most the pipe's and the reader's buffers
    assert finops.posts() == 0


def test_records_the_server_rejects_exit_3_with_their_lines(
    finops: Finops, httpserver: HTTPServer, tmp_path: Path
) -> None:
    def answer(request: Request) -> Response:
        items = json.loads(request.data)
        rejected = [{"index": 1, "reason": "duplicate id"}]
        body = {"success": True, "accepted": len(items) - 1, "rejected": rejected, "timestamp": "2025-01-01T00:00:00Z"}
        return Response(json.dumps(body), 200, content_type="application/json")

    httpserver.expect_request("/api/resources", method="POST").respond_with_handler(answer)
    path = write_ndjson(tmp_path / "in.ndjson", small(3))
    done = finops("--url", httpserver.url_for("/").rstrip("/"), "push", "resources", str(path))
    assert done.returncode == 3, done.stderr
    assert "rejected: line 2: duplicate id" in done.stderr
    assert "rejected        │     1" in done.stdout


def test_records_not_delivered_exit_4(finops: Finops, backend: ReferenceBackend, tmp_path: Path) -> None:
    backend.set_fault_plan(FaultPlan(1, 1.0, ["429_seconds"], methods=["POST"]))  # refused: not stored
    path = write_ndjson(tmp_path / "in.ndjson", small(600))
    done = finops("push", "resources", str(path), env={"FINOPS_MAX_RETRIES": "0"})
    assert done.returncode == 4, done.stderr
    assert "not delivered   │   600" in done.stdout


def test_records_of_unknown_outcome_exit_4(finops: Finops, backend: ReferenceBackend, tmp_path: Path) -> None:
    backend.set_fault_plan(FaultPlan(1, 1.0, ["close_after_store"], methods=["POST"]))
    path = write_ndjson(tmp_path / "in.ndjson", small(10))
    done = finops("push", "resources", str(path), env={"FINOPS_MAX_RETRIES": "0"})
    assert done.returncode == 4, done.stderr
    assert "outcome unknown │    10" in done.stdout


def test_a_refused_key_exits_6_after_one_window(finops: Finops, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "in.ndjson", small(20))
    done = finops("push", "resources", str(path), env={"FINOPS_API_KEY": "sk-wrong-key"})
    assert done.returncode == 6
    assert "refused the credential" in done.stderr
    assert "sk-wrong-key" not in done.stdout + done.stderr


def test_ctrl_c_stops_cleanly_and_prints_what_was_settled(
    finops: Finops, backend: ReferenceBackend, tmp_path: Path
) -> None:
    backend.set_fault_plan(FaultPlan(1, 1.0, ["slow"], methods=["POST"], slow_seconds=0.3))
    path = write_ndjson(tmp_path / "in.ndjson", small(6000))
    process = finops.popen("push", "resources", str(path))
    while finops.posts() < 2:  # the second chunk is on the wire
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    text = out.decode()
    assert process.returncode == 130, err.decode()
    assert "interrupted: what was settled" in text
    counts = summary(text)
    assert counts["accepted"] >= 500  # the first chunk, answered
    assert counts["outcome unknown"] >= 500  # the chunk on the wire (the backend stored it: slow stores first)
    assert counts["accepted"] + counts["outcome unknown"] == len(backend.stored_ids("resources"))
    assert (
        counts["not sent"] + sum(counts[k] for k in ("accepted", "rejected", "outcome unknown", "not delivered"))
        == 6000
    )
    assert "Traceback" not in err.decode()


def test_on_a_terminal_a_progress_bar_and_a_summary_table(finops: Finops, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "in.ndjson", small(1500))
    status, screen = finops.on_pty("push", "resources", str(path))
    assert status == 0, screen
    assert "pushing resources" in screen
    assert "items/s" in screen
    assert "1500/1500" in screen
    assert "outcome" in screen
    assert summary(screen)["accepted"] == 1500


def peak_rss_kib(finops: Finops, *args: str) -> tuple[int, float, str]:
    """Run ``finops ARGS`` from a fresh interpreter that reports its child's peak RSS (KiB):
    RUSAGE_CHILDREN there covers that one child alone. Also the seconds it took and its output."""
    script = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.monotonic() - t)\n"
        "print(done.stdout + done.stderr)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, FINOPS, *args],
        capture_output=True,
        text=True,
        env=finops.environment(),
        timeout=600,
        check=True,
    ).stdout
    head, _, rest = out.partition("\n")
    status, rss, seconds = head.split()
    assert status == "0", rest
    return int(rss), float(seconds), rest


def test_a_100000_record_push_runs_in_constant_memory(
    finops: Finops, backend: ReferenceBackend, tmp_path: Path
) -> None:
    ten = write_ndjson(tmp_path / "10k.ndjson", (resource(i) for i in range(10_000)))
    hundred = write_ndjson(tmp_path / "100k.ndjson", (resource(i) for i in range(10_000, 110_000)))
    small_rss, _, _ = peak_rss_kib(finops, "push", "resources", str(ten))
    big_rss, seconds, output = peak_rss_kib(finops, "push", "resources", str(hundred))
    assert "accepted        │ 100,000" in output
    assert len(backend.stored_ids("resources")) == 110_000
    # ten times the records, about the same memory: a window of records, never the file
    assert big_rss - small_rss < 16 * 1024, (small_rss, big_rss)
    print(f"\n100,000 records: {seconds:.1f} s, peak RSS {big_rss / 1024:.0f} MiB (10,000: {small_rss / 1024:.0f} MiB)")
