"""The outbox in the clients (sync and async): recorded before sent, settled by a definite
answer, replayed under the original key, poison and expiry to the dead letters, the cap,
bad outbox input when the client is built, and the figures in metrics and Prometheus."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import prometheus_client as prom
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient

from reference_backend import ReferenceBackend
from resilience import (
    ConfigurationError,
    NewChunk,
    OutboxFullError,
    OutboxUnusableError,
    PrometheusHook,
    ReplayReport,
    SQLiteOutbox,
)
from resilience._outbox import KEY_EXPIRED
from tests.support import Driver, FakeTime, resource, resources

Handler = Callable[[httpx.Request], httpx.Response]


def ok(request: httpx.Request) -> httpx.Response:
    items = json.loads(request.content)
    return httpx.Response(
        200,
        json={"success": True, "accepted": len(items), "rejected": [], "timestamp": "2025-01-15T08:00:00Z"},
    )


class Server:
    """A MockTransport whose answer can change, keeping every POST (key, body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes]] = []
        self.answer: Handler = ok
        self.before: Callable[[], None] = lambda: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.before()
        self.posts.append((request.headers["idempotency-key"], request.content))
        return self.answer(request)


def status(code: int) -> Handler:
    return lambda request: httpx.Response(code, json={"success": False, "error": "no"})


def open_client(d: Driver, tmp_path: Path, server: Server, **kwargs: Any) -> Driver:
    kwargs.setdefault("outbox", tmp_path / "outbox.db")
    return d.open(
        "http://127.0.0.1:1",
        transport=httpx.MockTransport(server),
        wall_clock=d.ft.wall,
        max_retries=0,
        enable_circuit_breaker=False,
        **kwargs,
    )


async def replay(d: Driver) -> ReplayReport:
    """``client.outbox.replay()``, awaited on the async client."""
    report: Any = outbox_call(d, "replay")()
    if d.is_async:
        report = await report
    assert isinstance(report, ReplayReport)
    return report


def outbox_call(d: Driver, name: str) -> Any:
    outbox = d.client.outbox
    assert outbox is not None
    return getattr(outbox, name)


async def test_every_chunk_is_recorded_before_the_first_is_sent(driver: Driver, tmp_path: Path) -> None:
    server = Server()
    seen: list[int] = []
    server.before = lambda: seen.append(driver.client.outbox.stats().pending_chunks)  # type: ignore[union-attr]
    open_client(driver, tmp_path, server)
    result = await driver.post_resources(resources(1200), chunk_size=500)
    assert result.ok
    assert seen[0] == 3  # all three chunks were on disk when the first went out
    assert outbox_call(driver, "stats")().pending_chunks == 0  # each accepted chunk settled


async def test_unknown_and_undelivered_chunks_stay_pending_and_replay_under_their_keys(
    driver: Driver, tmp_path: Path
) -> None:
    server = Server()
    answers = iter([ok, status(503), status(400)])
    server.answer = lambda r: next(answers)(r)
    open_client(driver, tmp_path, server)
    result = await driver.post_resources(resources(1200), chunk_size=500)
    assert len(result.accepted) == 500
    stats = outbox_call(driver, "stats")()
    assert (stats.pending_chunks, stats.pending_items) == (2, 700)
    first = dict(server.posts)
    server.answer = ok
    server.posts.clear()
    report = await replay(driver)
    assert (report.chunks_accepted, report.items_accepted, report.chunks_pending) == (2, 700, 0)
    for key, body in server.posts:  # the original key with the original body
        assert first[key] == body
    assert {k for k, _ in server.posts} == {f.idempotency_key for f in result.outcome_unknown + result.not_delivered}
    assert await replay(driver) == ReplayReport()  # nothing left


async def test_a_chunk_refused_for_good_is_a_dead_letter_and_the_rest_go_on(driver: Driver, tmp_path: Path) -> None:
    server = Server()
    server.answer = status(503)
    open_client(driver, tmp_path, server)
    await driver.post_resources(resources(1500), chunk_size=500)
    answers = iter([status(422), ok, status(503)])
    server.answer = lambda r: next(answers)(r)
    report = await replay(driver)
    assert (report.chunks_dead, report.chunks_accepted, report.chunks_pending) == (1, 1, 1)
    (dead,) = outbox_call(driver, "dead_letters")()
    assert dead.reason.startswith("refused by the server: UnprocessableEntityError")
    assert outbox_call(driver, "requeue")() == 1
    server.answer = ok
    assert (await replay(driver)).chunks_accepted == 2


async def test_a_chunk_past_the_key_retention_is_never_replayed(driver: Driver, tmp_path: Path, ft: FakeTime) -> None:
    server = Server()
    server.answer = status(503)
    open_client(driver, tmp_path, server)
    await driver.post_resources(resources(10))
    ft.advance(24 * 3600 + 1)
    server.posts.clear()
    report = await replay(driver)
    assert server.posts == []
    assert (report.chunks_dead, report.items_dead) == (1, 10)
    assert [d.reason for d in outbox_call(driver, "dead_letters")()] == [KEY_EXPIRED]
    assert outbox_call(driver, "purge")() == 1


async def test_too_many_failures_make_a_dead_letter(driver: Driver, tmp_path: Path, ft: FakeTime) -> None:
    server = Server()
    server.answer = status(503)
    store = SQLiteOutbox(tmp_path / "o.db", max_attempts=3, wall_clock=ft.wall)
    open_client(driver, tmp_path, server, outbox=store)
    await driver.post_resources(resources(10))  # attempt 1
    assert (await replay(driver)).chunks_pending == 1  # attempt 2
    assert (await replay(driver)).chunks_pending == 0  # attempt 3: given up
    (dead,) = outbox_call(driver, "dead_letters")()
    assert dead.reason.startswith("failed 3 times, last: InternalServerError")
    store.close()


async def test_a_full_outbox_refuses_the_call_before_anything_is_recorded_or_sent(
    driver: Driver, tmp_path: Path, ft: FakeTime
) -> None:
    server = Server()
    server.answer = status(503)
    store = SQLiteOutbox(tmp_path / "o.db", max_bytes=6000, wall_clock=ft.wall)
    open_client(driver, tmp_path, server, outbox=store)
    await driver.post_resources(resources(10))  # ~3 kB pending
    sent = len(server.posts)
    with pytest.raises(OutboxFullError):
        await driver.post_resources(resources(20))
    assert len(server.posts) == sent
    assert store.stats().pending_chunks == 1
    store.close()


async def test_dry_run_records_nothing(driver: Driver, tmp_path: Path) -> None:
    server = Server()
    open_client(driver, tmp_path, server, dry_run=True)
    await driver.post_resources(resources(10))
    assert outbox_call(driver, "stats")().pending_chunks == 0


async def test_a_bad_outbox_is_refused_when_the_client_is_built(mode: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an outbox")
    cls = AsyncFinOpsClient if mode == "async" else FinOpsClient
    with pytest.raises(OutboxUnusableError, match="does not exist"):
        cls("http://127.0.0.1:1", outbox=tmp_path / "missing" / "o.db")
    with pytest.raises(OutboxUnusableError, match="not an outbox"):
        cls("http://127.0.0.1:1", outbox=str(notes))
    with pytest.raises(ConfigurationError, match="outbox has the wrong type"):
        cls("http://127.0.0.1:1", outbox=42)  # type: ignore[arg-type]
    assert notes.read_text() == "not an outbox"


async def test_finops_outbox_from_the_environment(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINOPS_OUTBOX", str(tmp_path / "env.db"))
    server = Server()
    server.answer = status(503)
    driver.open("http://127.0.0.1:1", transport=httpx.MockTransport(server), max_retries=0)
    await driver.post_resources(resources(3))
    assert SQLiteOutbox(tmp_path / "env.db").stats().pending_items == 3


async def test_no_outbox_no_attribute_figures(driver: Driver) -> None:
    driver.open("http://127.0.0.1:1", transport=httpx.MockTransport(ok))
    assert driver.client.outbox is None
    snap = driver.client.get_metrics_snapshot()
    assert snap is not None
    assert snap.outbox is None


async def test_outbox_figures_in_the_snapshot_and_prometheus(driver: Driver, tmp_path: Path, ft: FakeTime) -> None:
    registry = prom.CollectorRegistry()
    server = Server()
    server.answer = status(503)
    open_client(driver, tmp_path, server, metrics_hooks=[PrometheusHook(registry, namespace="t")])
    await driver.post_resources(resources(700), chunk_size=500)
    ft.advance(30)
    snap = driver.client.get_metrics_snapshot()
    assert snap is not None
    assert snap.outbox is not None
    assert (snap.outbox.pending_chunks, snap.outbox.pending_items, snap.outbox.dead_letters) == (2, 700, 0)
    assert snap.outbox.oldest_age == 30
    assert snap.outbox.bytes > 700 * 100
    assert registry.get_sample_value("t_outbox_pending_chunks") == 2
    assert registry.get_sample_value("t_outbox_pending_items") == 700
    assert registry.get_sample_value("t_outbox_bytes") == snap.outbox.bytes


async def test_passing_4xx_answers_leave_the_chunk_pending(driver: Driver, tmp_path: Path) -> None:
    """A 429, 409 or a proxy's 499 is no refusal for good: found by the crash test, where a
    499 dead-lettered (lost) a chunk the server never stored."""
    server = Server()
    server.answer = status(503)
    open_client(driver, tmp_path, server)
    await driver.post_resources(resources(30), chunk_size=10)
    answers = iter([status(499), status(429), status(409)])
    server.answer = lambda r: next(answers)(r)
    report = await replay(driver)
    assert (report.chunks_dead, report.chunks_pending) == (0, 3)
    assert outbox_call(driver, "dead_letters")() == []


def test_the_readme_cron_job_runs(tmp_path: Path) -> None:
    """The README's outbox example, against the reference backend: replay, push, done."""
    readme = Path(__file__).resolve().parent.parent / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    example = next(b for b in blocks if "outbox=" in b)
    with ReferenceBackend(api_key="readme-key", require_auth=True) as backend:
        code = (
            example.replace('"https://finops.example.com"', repr(backend.url))
            .replace('api_key="..."', 'api_key="readme-key"')
            .replace('"/var/lib/finops/outbox.db"', repr(str(tmp_path / "outbox.db")))
        )
        namespace: dict[str, object] = {"load_resources": lambda: resources(1200)}
        exec(compile(code, "README.md", "exec"), namespace)
        assert len(backend.stored_ids("resources")) == 1200
    assert SQLiteOutbox(tmp_path / "outbox.db").stats().pending_chunks == 0


def test_two_clients_replaying_one_outbox_never_send_a_chunk_twice(tmp_path: Path) -> None:
    """Two threads, each its own client and SQLite connection on one file, replay at once."""
    import threading

    path = tmp_path / "shared.db"
    failing = Server()
    failing.answer = status(503)
    with FinOpsClient("http://127.0.0.1:1", transport=httpx.MockTransport(failing), max_retries=0, outbox=path) as c:
        c.post_resources(resources(4000), chunk_size=50)  # 80 chunks pending
    sent: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            sent.append(request.headers["idempotency-key"])
        return ok(request)

    def replayer() -> None:
        with FinOpsClient("http://127.0.0.1:1", transport=httpx.MockTransport(answer), outbox=path) as client:
            assert client.outbox is not None
            start.wait()
            client.outbox.replay()

    threads = [threading.Thread(target=replayer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sent) == 80
    assert len(set(sent)) == 80
    assert SQLiteOutbox(path).stats().pending_chunks == 0


async def test_a_dead_process_lease_is_waited_out(driver: Driver, tmp_path: Path, ft: FakeTime) -> None:
    store = SQLiteOutbox(tmp_path / "o.db", lease=60, wall_clock=ft.wall)
    body = json.dumps(resources(5)).encode()
    store.record([NewChunk("k-dead", "post_resources", "/api/resources", body, 5)], "a process that died")
    server = Server()
    open_client(driver, tmp_path, server, outbox=store)
    assert (await replay(driver)).chunks_pending == 1  # still leased: not sent
    assert server.posts == []
    ft.advance(61)
    assert (await replay(driver)).items_accepted == 5
    assert server.posts == [("k-dead", body)]
    store.close()


def test_an_interrupted_replay_leaves_nothing_leased(tmp_path: Path) -> None:
    """Ctrl-C during a replay: the chunk on the wire and the rest of the claim are pending at
    once (no lease to wait out), the one on the wire counted as an attempt."""
    path = tmp_path / "o.db"
    failing = Server()
    failing.answer = status(503)
    with FinOpsClient("http://127.0.0.1:1", transport=httpx.MockTransport(failing), max_retries=0, outbox=path) as c:
        c.post_resources(resources(50), chunk_size=10)  # 5 chunks pending, 1 attempt each

    def interrupt(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    with FinOpsClient("http://127.0.0.1:1", transport=httpx.MockTransport(interrupt), outbox=path) as client:
        assert client.outbox is not None
        with pytest.raises(KeyboardInterrupt):
            client.outbox.replay()
        again = SQLiteOutbox(path)
        claimed = again.claim("someone else", 10)
        assert len(claimed) == 5
        assert sorted(c.attempts for c in claimed) == [1, 1, 1, 1, 2]
        again.close()


@pytest.mark.parametrize("code", [401, 403])
async def test_a_refused_credential_leaves_every_chunk_pending_and_ends_the_pass(
    driver: Driver, tmp_path: Path, code: int
) -> None:
    """A 401/403 says the key is wrong, not the chunk: nothing is given up, the pass stops at
    the first refusal (every chunk would meet it), and the failure does not count as an attempt."""
    server = Server()
    server.answer = status(503)
    open_client(driver, tmp_path, server)
    await driver.post_resources(resources(1500), chunk_size=500)
    server.answer = status(code)
    server.posts.clear()
    for _ in range(10):  # more passes than max_attempts: still nothing given up
        report = await replay(driver)
        assert (report.chunks_dead, report.chunks_pending) == (0, 3)
    assert len(server.posts) == 10  # one refused chunk a pass
    assert outbox_call(driver, "dead_letters")() == []
    server.answer = ok
    assert (await replay(driver)).chunks_accepted == 3


def keys_on_disk(path: Path) -> list[str]:
    """The chunk keys another process would read from the outbox file now."""
    db = sqlite3.connect(path)
    try:
        return [k for (k,) in db.execute("SELECT key FROM chunks")]
    finally:
        db.close()


async def test_a_settled_call_or_replay_leaves_nothing_on_disk_when_it_returns(driver: Driver, tmp_path: Path) -> None:
    """Settles are held back for one transaction (64 at most), but a batch call and a replay
    write theirs before they return: no other process sees their chunks pending after."""
    server = Server()
    open_client(driver, tmp_path, server)
    assert (await driver.post_resources(resources(1200), chunk_size=500)).ok
    assert keys_on_disk(tmp_path / "outbox.db") == []
    server.answer = status(503)
    await driver.post_resources(resources(1200), chunk_size=500)
    assert len(keys_on_disk(tmp_path / "outbox.db")) == 3
    server.answer = ok
    assert (await replay(driver)).chunks_accepted == 3
    assert keys_on_disk(tmp_path / "outbox.db") == []


class _CountingOrjson:
    """orjson, counting the items it encodes (a list counts its length, anything else one)."""

    def __init__(self, real: Any) -> None:
        self.real, self.items = real, 0

    def dumps(self, value: Any, *args: Any, **kwargs: Any) -> bytes:
        self.items += len(value) if isinstance(value, list) else 1
        return self.real.dumps(value, *args, **kwargs)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_with_an_outbox_each_item_is_encoded_once(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox needs every chunk's body before the first is sent: those bodies are the
    encodability check too, not a second encoding of every item."""
    import orjson

    from resilience import _json

    counting = _CountingOrjson(orjson)
    monkeypatch.setattr(_json, "orjson", counting)
    server = Server()
    open_client(driver, tmp_path, server)
    assert (await driver.post_resources(resources(1200), chunk_size=500)).ok
    assert counting.items == 1200
    assert [len(json.loads(body)) for _, body in server.posts] == [500, 500, 200]


@pytest.mark.parametrize(
    ("nan_at", "bad_at", "named"),
    [(700, None, 700), (700, 900, 700), (700, 300, 300), (None, 1100, 1100)],
    ids=["unencodable", "unencodable-before-invalid", "invalid-before-unencodable", "invalid"],
)
async def test_with_an_outbox_the_first_bad_item_is_named_and_nothing_recorded_or_sent(
    driver: Driver, tmp_path: Path, nan_at: int | None, bad_at: int | None, named: int
) -> None:
    """The same refusal as without an outbox: the first item that breaks the schema or cannot
    be encoded, by index and field; nothing on disk, nothing on the wire."""
    from resilience import RequestValidationError

    items = resources(1200)
    if nan_at is not None:
        items[nan_at]["currentCost"] = float("nan")
    if bad_at is not None:
        items[bad_at]["currency"] = 7
    server = Server()
    open_client(driver, tmp_path, server)
    with pytest.raises(RequestValidationError) as caught:
        await driver.post_resources(items, chunk_size=500)
    assert caught.value.index == named
    assert caught.value.field == ("currentCost" if named == nan_at else "currency")
    assert server.posts == []
    assert outbox_call(driver, "stats")().pending_chunks == 0
    assert keys_on_disk(tmp_path / "outbox.db") == []


class _BatchSpans:
    """A tracing hook counting batch spans started and ended (and doing nothing else)."""

    def __init__(self) -> None:
        self.started = self.ended = 0

    def on_request_start(self, event: Any) -> None: ...
    def on_request_end(self, event: Any) -> None: ...
    def on_retry(self, event: Any) -> None: ...
    def on_breaker_transition(self, event: object) -> None: ...
    def on_call_start(self, request: httpx.Request, parent: Any) -> Any: ...
    def on_call_end(self, call: Any, response: Any, error: Any) -> None: ...
    def on_attempt_start(self, request: httpx.Request, call: Any) -> Any: ...
    def on_attempt_end(self, attempt: Any, response: Any, error: Any) -> None: ...
    def on_refused(self, operation: Any, error: BaseException, parent: Any) -> None: ...
    def on_chunk_start(self, batch: Any, start: int, stop: int) -> Any: ...
    def on_chunk_end(self, chunk: Any, outcome: str, accepted: int, rejected: int, error: Any) -> None: ...

    def on_batch_start(self, operation: Any, items: int, chunks: int) -> Any:
        self.started += 1
        return self.started

    def on_batch_end(self, batch: Any, items: Any, error: BaseException | None) -> None:
        self.ended += 1


def _too_deep_in_a_list(n: int) -> dict[str, Any]:
    """``resource(n)`` with a ``note`` nested as deep as JSON may carry it alone, one level
    too deep once it is an item of a list."""
    from resilience._json import Unencodable, dumps

    for depth in range(200, 300):
        note: Any = "x"
        for _ in range(depth):
            note = {"a": note}
        item = resource(n, note=note)
        try:
            dumps([item])
        except Unencodable:
            dumps(item)  # alone it passes
            return item
    raise AssertionError("no depth found")


@pytest.mark.parametrize("with_outbox", [True, False], ids=["outbox", "no-outbox"])
@pytest.mark.parametrize("case", ["lone-surrogate", "too-deep-in-a-list"])
async def test_an_item_only_the_encoder_refuses_is_named_the_same_with_or_without_an_outbox(
    driver: Driver, tmp_path: Path, with_outbox: bool, case: str
) -> None:
    """An item the schema takes (an unknown field) but JSON cannot carry, in the third chunk:
    the encoder's refusal, by index and field, before a chunk is recorded or sent, and no
    batch span left open."""
    from resilience import RequestValidationError

    items = resources(1200)
    items[1100] = resource(1100, note="x\ud800") if case == "lone-surrogate" else _too_deep_in_a_list(1100)
    server, spans = Server(), _BatchSpans()
    open_client(driver, tmp_path, server, metrics_hooks=[spans], outbox=tmp_path / "o.db" if with_outbox else None)
    with pytest.raises(RequestValidationError) as caught:
        await driver.post_resources(items, chunk_size=500)
    assert caught.value.index == 1100
    assert caught.value.field == ("note" if case == "lone-surrogate" else None)
    assert server.posts == []
    assert spans.started == spans.ended == 0
    if with_outbox:
        assert keys_on_disk(tmp_path / "o.db") == []


async def test_a_full_outbox_ends_the_batch_span_it_started(driver: Driver, tmp_path: Path) -> None:
    from resilience import OutboxFullError as Full

    server, spans = Server(), _BatchSpans()
    open_client(driver, tmp_path, server, metrics_hooks=[spans], outbox=SQLiteOutbox(tmp_path / "o.db", max_bytes=1000))
    with pytest.raises(Full):
        await driver.post_resources(resources(20), chunk_size=5)
    assert spans.started == spans.ended == 1
    assert server.posts == []
