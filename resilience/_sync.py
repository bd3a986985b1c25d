"""The sync driver: performs the steps of the shared procedures on the calling thread."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Self, TypeVar

import httpx

from ._base import _Core, fast_cookies
from ._batch import BatchResult, DryRun, ProgressCallback
from ._batch_run import BatchRun, plan_for, prepare_items
from ._body import read_body_sync
from ._config import ClientConfig
from ._health import HealthReport
from ._operation import Operation
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

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(config)
        inner = transport or default_sync_transport(verify=config.verify)
        self._sleep = sleep
        self._http = httpx.Client(transport=self._wrap(inner), **self._httpx_options())
        fast_cookies(self._http)

    @property
    def httpx_client(self) -> httpx.Client:
        """The underlying httpx client (its requests skip the per-call procedure)."""
        return self._http

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, flow: Flow[T]) -> T:
        """Drive one procedure; every logical call in it keeps the credential it starts with."""
        auth = self._stack.auth.pinned()
        cap = self._config.max_response_bytes

        def send(request: httpx.Request) -> httpx.Response:
            response = self._http.send(request, auth=auth, stream=True)
            read_body_sync(request, response, cap)
            return response

        return drive_sync(flow, send, self._sleep)

    def _call(self, op: Operation, kwargs: Mapping[str, Any], parse: Callable[[Any], T]) -> T:
        return self._run(self._call_flow(op, kwargs, parse))

    def _call_with_body(
        self, op: Operation, kwargs: Mapping[str, Any], body: Any, parse: Callable[[Any], T]
    ) -> T | DryRun:
        return self._run(self._body_flow(op, kwargs, body, parse))

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
        data = prepare_items(self, op, items)
        plan = plan_for(op, len(data), chunk_size, resume)
        if self.dry_run:
            report = self._dry_run_report(op, len(data), [(c.start, c.stop) for c in plan], data[:3])
            return BatchResult(operation=op.operation_id, total=len(data), chunks=len(plan), dry_run=report)
        run = BatchRun(
            self,
            op,
            data,
            plan,
            resume,
            make_kwargs=make_kwargs,
            parse=parse,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
        )
        for chunk in plan:
            self._run(run.chunk_flow(chunk))
        return run.result()

    def health_check(self) -> HealthReport:
        """GET the health operation (falling back to a 1-item listing on 404); never raises
        for an unreachable backend."""
        return self._run(self._health_flow())
