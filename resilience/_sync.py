"""The sync driver: performs the steps of the shared procedures on the calling thread."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar

import httpx

from ._base import _Core
from ._batch import BatchResult, DryRun, ProgressCallback
from ._body import read_body_sync
from ._config import ClientConfig
from ._direct import direct, send_sync
from ._health import HealthReport
from ._layers import refused_closed
from ._operation import EXT_OPERATION, Operation
from ._outbox_replay import ClientOutbox
from ._pages import page_items, page_walk
from ._stack import default_sync_transport
from ._steps import Flow, drive_sync

__all__ = ["SyncAPIClient"]

T = TypeVar("T")


class SyncAPIClient(_Core):
    """The sync client. Thread-safe: share one instance between threads.

    ``transport`` replaces the network transport (tests, proxies); ``sleep`` is what waits
    (seconds), injectable so tests never wait.
    """

    _http: httpx.Client
    _OUTBOX_CONTROL = ClientOutbox
    #: Send a hop past ``httpx.Client.send`` when nothing of it applies (:mod:`resilience._direct`).
    _DIRECT: ClassVar[bool] = True

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(config)
        self._sleep = sleep
        self._http = self._install(httpx.Client, transport or default_sync_transport(verify=config.verify))

    @property
    def outbox(self) -> ClientOutbox | None:
        """The durable outbox (``outbox=``): ``replay()``, ``stats()``, ``dead_letters()``,
        ``requeue()``, ``purge()``; ``None`` without one."""
        assert self._outbox is None or isinstance(self._outbox, ClientOutbox)
        return self._outbox

    @property
    def httpx_client(self) -> httpx.Client:
        """The underlying httpx client (its requests skip the per-call procedure)."""
        return self._http

    def close(self) -> None:
        """Close the connections. Nothing is sent after this: calls in flight end with their
        answer or :class:`~resilience.ClientClosedError`, later calls raise it."""
        self._http.close()
        if self._outbox is not None:
            self._outbox.close()
        if self._stack.fleet is not None:
            self._stack.fleet.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: httpx.Request, auth: httpx.Auth) -> httpx.Response:
        op = request.extensions.get(EXT_OPERATION)
        try:  # an operation that needs no credential is sent without one (auth=None: none)
            pinned = auth if op is None or op.requires_auth else None
            http = self._http
            if self._DIRECT and direct(http, request, pinned):
                response = send_sync(http, self._gate, request)
            else:
                response = http.send(request, auth=pinned, stream=True)
        except RuntimeError as exc:  # httpx's own "client has been closed"
            if not self._gate.closed:
                raise
            raise refused_closed(request) from exc
        read_body_sync(request, response, self._config.max_response_bytes)
        return response

    def _run(self, flow: Flow[T]) -> T:
        """Drive one procedure; every logical call in it keeps the credential it starts with."""
        return drive_sync(flow, functools.partial(self._send, auth=self._stack.auth.pinned(checked=True)), self._sleep)

    def _call(self, op: Operation, kwargs: Mapping[str, Any], parse: Callable[[Any], T]) -> T:
        request = self._request_for(op, kwargs)
        return self._answer(op, self._run(self._exchange(request)), parse)

    def _call_with_body(
        self, op: Operation, kwargs: Mapping[str, Any], body: Any, parse: Callable[[Any], T]
    ) -> T | DryRun:
        request = self._body_request(op, kwargs, body)
        if isinstance(request, DryRun):
            return request
        return self._answer(op, self._run(self._exchange(request)), parse)

    def _iterate(self, op: Operation, fetch: Callable[[str | None], Any]) -> Iterator[Any]:
        walk = page_walk(op)
        cursor = next(walk)
        while True:
            page = fetch(cursor)
            yield from page_items(op, page)
            try:
                cursor = walk.send(page)
            except StopIteration:
                return

    def _ingest(
        self,
        op: Operation,
        items: Sequence[Any],
        make_kwargs: Callable[[], dict[str, Any]],
        parse: Callable[[Any], Any],
        *,
        chunk_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait_for_recovery: float | None = None,
        resume: BatchResult | None = None,
    ) -> BatchResult:
        run = self._start_batch(op, items, make_kwargs, parse, chunk_size, progress, wait_for_recovery, resume)
        if isinstance(run, BatchResult):
            return run  # a dry run
        try:
            for chunk in run.plan:
                self._run(run.chunk_flow(chunk))
        except BaseException as exc:  # whatever escapes carries the partial, resumable result
            error = run.interrupted(exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            if self._outbox is not None:
                self._outbox.publish()
        return run.result()

    def health_check(self) -> HealthReport:
        """Is the backend up, and does it accept the credential? One quick attempt of the
        health operation, then of a 1-item listing with the credential (the listing alone when
        there is no health endpoint). Never raises: a :class:`~resilience.HealthReport`, truthy
        only when both hold, whose ``reason`` says why not."""
        return self._run(self._health_flow())
