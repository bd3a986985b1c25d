"""``finops push --outbox`` and ``finops outbox ...`` run as the installed script: a push interrupted
(SIGINT) or killed (SIGKILL) is finished by ``finops outbox replay`` with every item stored once;
stats, dead letters, requeue and purge piped and on a terminal; exit statuses; ``--help``."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from reference_backend import ReferenceBackend
from reference_backend.faults import FaultPlan
from resilience import SQLiteOutbox
from resilience._outbox import NewChunk
from tests.cli_support import KEY, Finops, backend, finops
from tests.support import resource
from tests.test_cli_push import small, write_ndjson

__all__ = ["backend", "finops"]  # the fixtures this module uses


def seed_dead_letters(path: Path, reasons: list[str]) -> list[str]:
    """Dead letters of one resource each (``resource(900 + i)``), with ``reasons``; their keys."""
    store = SQLiteOutbox(path)
    keys = [f"key-{i}" for i in range(len(reasons))]
    try:
        chunks = [
            NewChunk(k, "post_resources", "/api/resources", json.dumps([resource(900 + i)]).encode(), 1)
            for i, k in enumerate(keys)
        ]
        store.record(chunks, "seed")
        for key, reason in zip(keys, reasons, strict=True):
            store.dead_letter(key, reason)
    finally:
        store.close()
    return keys


def stats_of(finops: Finops, path: Path) -> dict[str, int]:
    done = finops("outbox", "stats", "--outbox", str(path))
    assert done.returncode == 0, done.stderr
    data: dict[str, int] = json.loads(done.stdout)
    return data


@pytest.mark.parametrize("how", ["sigint-option", "sigkill-environment"])
def test_an_interrupted_push_is_finished_by_replay_every_item_stored_once(
    finops: Finops, backend: ReferenceBackend, tmp_path: Path, how: str
) -> None:
    backend.set_fault_plan(FaultPlan(1, 1.0, ["slow"], methods=["POST"], slow_seconds=0.3))
    records = small(6000)  # twelve chunks of 500, more than one window of push without an outbox
    path = write_ndjson(tmp_path / "in.ndjson", records)
    outbox = tmp_path / "outbox.db"
    if how == "sigint-option":
        process = finops.popen("push", "resources", str(path), "--outbox", str(outbox))
    else:
        process = finops.popen("push", "resources", str(path), env={"FINOPS_OUTBOX": str(outbox)})
    while finops.posts() < 2:  # the second chunk is on the wire (stored first by a slow answer)
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGINT if how == "sigint-option" else signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    if how == "sigint-option":
        assert process.returncode == 130, err.decode()
        assert "pending in the outbox" in err.decode()
    else:
        assert process.returncode == -signal.SIGKILL
    assert len(backend.stored_ids("resources")) < 6000  # interrupted mid-push
    assert stats_of(finops, outbox)["pending_items"] > 0

    backend.set_fault_plan(None)
    done = finops("outbox", "replay", "--outbox", str(outbox))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "still pending │      0 │     0" in done.stdout
    assert sorted(backend.stored_ids("resources")) == sorted(r["resourceId"] for r in records)
    assert backend.stats().item_writes == 6000  # each item stored once: re-sent chunks deduplicated by key
    assert stats_of(finops, outbox)["pending_items"] == 0


def test_replay_exit_statuses_4_pending_3_dead_lettered_6_refused_key(
    finops: Finops, backend: ReferenceBackend, httpserver: HTTPServer, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    path = write_ndjson(tmp_path / "in.ndjson", small(10))
    backend.set_fault_plan(FaultPlan(1, 1.0, ["429_seconds"], methods=["POST"]))  # refused: not stored
    fast = {"FINOPS_MAX_RETRIES": "0"}
    pushed = finops("push", "resources", str(path), "--outbox", str(outbox), env=fast)
    assert pushed.returncode == 4, pushed.stderr
    assert "10 item(s) pending in the outbox" in pushed.stderr
    again = finops("outbox", "replay", "--outbox", str(outbox), env=fast)
    assert again.returncode == 4, again.stderr
    assert "still pending │      1 │    10" in again.stdout

    backend.set_fault_plan(None)
    refused = finops("outbox", "replay", "--outbox", str(outbox), env={"FINOPS_API_KEY": "sk-wrong-key-123"})
    assert refused.returncode == 6, refused.stderr
    assert "refused the credential" in refused.stderr
    assert stats_of(finops, outbox)["dead_letters"] == 0  # a refused key dead-letters nothing

    def answer(request: Request) -> Response:  # refused for good, echoing the credential
        body = {"detail": f"bad batch from {request.headers.get('Authorization')} (api_key={KEY})"}
        return Response(json.dumps(body), 400, content_type="application/json")

    httpserver.expect_request("/api/resources", method="POST").respond_with_handler(answer)
    httpserver.expect_request("/api/health").respond_with_json({"status": "healthy"})
    url = httpserver.url_for("/").rstrip("/")
    dead = finops("--url", url, "outbox", "replay", "--outbox", str(outbox))
    assert dead.returncode == 3, dead.stdout + dead.stderr
    assert "dead-lettered │      1 │    10" in dead.stdout
    letters = finops("outbox", "dead-letters", "--outbox", str(outbox))
    assert letters.returncode == 0
    (row,) = [json.loads(line) for line in letters.stdout.splitlines()]
    assert row["items"] == 10
    assert "refused by the server" in row["reason"]
    assert KEY not in letters.stdout + dead.stdout + dead.stderr

    none = finops("outbox", "replay", env={"FINOPS_OUTBOX": ""})
    assert none.returncode == 6
    assert "no outbox configured" in none.stderr


def test_stats_and_dead_letters_piped_and_on_a_terminal_never_echo_a_secret(finops: Finops, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.db"
    seed_dead_letters(outbox, [f"refused: Authorization: Bearer {KEY}", "token=abc123secretvalue", "plain"])
    env = {"FINOPS_OUTBOX": str(outbox)}

    piped = finops("outbox", "stats", env=env)
    assert json.loads(piped.stdout)["dead_letters"] == 3
    status, screen = finops.on_pty("outbox", "stats", env=env)
    assert status == 0
    assert "dead_letters" in screen
    assert "{" not in screen

    ndjson = finops("outbox", "dead-letters", env=env)
    rows = [json.loads(line) for line in ndjson.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["key-0", "key-1", "key-2"]
    assert rows[2]["reason"] == "plain"
    as_json = finops("outbox", "dead-letters", "--output", "json", env=env)
    assert [r["id"] for r in json.loads(as_json.stdout)] == ["key-0", "key-1", "key-2"]
    status, screen = finops.on_pty("outbox", "dead-letters", env=env)
    assert status == 0
    assert "key-1" in screen
    assert "3 item(s)" in screen
    for text in (ndjson.stdout, as_json.stdout, screen):
        assert KEY not in text
        assert "abc123secretvalue" not in text
        assert "[redacted]" in text


def test_requeue_then_replay_sends_them_and_purge_deletes(
    finops: Finops, backend: ReferenceBackend, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    keys = seed_dead_letters(outbox, ["a", "b", "c", "d"])
    env = {"FINOPS_OUTBOX": str(outbox)}

    assert finops("outbox", "requeue", env=env).returncode == 2  # neither ids nor --all
    one = finops("outbox", "requeue", keys[0], "no-such-id", env=env)
    assert one.returncode == 5
    assert "requeued 1 dead letter(s)" in one.stdout
    assert "1 of the ids given are not dead letters" in one.stderr
    assert stats_of(finops, outbox)["pending_items"] == 1
    replayed = finops("outbox", "replay", env=env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert backend.stored_ids("resources") == [resource(900)["resourceId"]]

    status, screen = finops.on_pty("outbox", "purge", keys[1], env=env, dialog=[("for good?", b"n\n")])
    assert status == 1
    assert "nothing was purged" in screen
    status, screen = finops.on_pty("outbox", "purge", keys[1], env=env, dialog=[("for good?", b"y\n")])
    assert status == 0
    assert "purged 1 dead letter(s)" in screen
    status, screen = finops.on_pty("outbox", "purge", "--all", "--yes", env=env)
    assert status == 0
    assert "purged 2 dead letter(s)" in screen
    assert finops("outbox", "purge", "--all", env=env).stdout.strip() == "purged 0 dead letter(s)"  # piped: no prompt
    assert stats_of(finops, outbox)["dead_letters"] == 0


def test_requeue_all_and_replay_progress_on_a_terminal(
    finops: Finops, backend: ReferenceBackend, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    seed_dead_letters(outbox, ["a", "b"])
    env = {"FINOPS_OUTBOX": str(outbox)}
    assert finops("outbox", "requeue", "--all", env=env).stdout.strip() == "requeued 2 dead letter(s)"
    status, screen = finops.on_pty("outbox", "replay", env=env)
    assert status == 0, screen
    assert "replaying" in screen
    assert "2/2" in screen
    assert "accepted      │      2 │     2" in screen
    assert len(backend.stored_ids("resources")) == 2


@pytest.mark.parametrize(
    "command",
    [
        ["outbox"],
        ["outbox", "stats"],
        ["outbox", "replay"],
        ["outbox", "dead-letters"],
        ["outbox", "requeue"],
        ["outbox", "purge"],
        ["push"],
    ],
)
def test_help_of_each_outbox_command(finops: Finops, command: list[str]) -> None:
    done = finops(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "--outbox" in done.stdout
    if command == ["outbox", "replay"]:
        assert "4: some still pending" in done.stdout
    if command == ["outbox", "purge"]:
        assert "--yes" in done.stdout
