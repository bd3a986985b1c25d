"""The async driver: performs the steps of the shared procedures in the event loop, a
batch's chunks several at a time."""

from __future__ import annotations

import asyncio
import functools
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar

import httpx

from ._base import _Core
from ._batch import BatchResult, DryRun, ProgressCallback
from ._body import read_body_async
from ._config import ClientConfig
from ._direct import direct, send_async
from ._errors_client import WrongEventLoopError
from ._health import HealthReport, refused_report
from ._layers import GateTransport, refused_closed
from ._operation import EXT_OPERATION, Operation
from ._outbox_replay import AsyncClientOutbox
from ._pages import page_items, page_walk
from ._stack import default_async_transport
from ._steps import Flow, drive_async

__all__ = ["AsyncAPIClient"]

T = TypeVar("T")


class AsyncAPIClient(_Core):
    """The async client. Task-safe: share one instance between tasks of one event loop.

    It belongs to the event loop it is created in (else the one it is first used in): used
    from another, it raises :class:`~resilience.WrongEventLoopError`. Garbage-collected
    unclosed, it warns (``ResourceWarning``) and drops its connections.

    ``transport`` replaces the network transport (tests, proxies); ``asleep`` is what waits
    (seconds), injectable so tests never wait.
    """

    _http: httpx.AsyncClient
    _OUTBOX_CONTROL = AsyncClientOutbox
    #: Send a hop past ``httpx.AsyncClient.send`` when nothing of it applies (:mod:`resilience._direct`).
    _DIRECT: ClassVar[bool] = True

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        asleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(config)
        self._asleep = asleep
        inner = transport or default_async_transport(verify=config.verify, max_body=config.max_response_bytes)
        self._http = self._install(httpx.AsyncClient, inner)
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # created outside any event loop: it belongs to the first it is used in
            self._loop = None
        cls = type(self)
        name = f"{cls.__module__.partition('.')[0]}.{cls.__qualname__}"
        weakref.finalize(self, _collected, self._gate, inner, name)

    @property
    def outbox(self) -> AsyncClientOutbox | None:
        """The durable outbox (``outbox=``): ``replay()``, ``stats()``, ``dead_letters()``,
        ``requeue()``, ``purge()``; ``None`` without one."""
        assert self._outbox is None or isinstance(self._outbox, AsyncClientOutbox)
        return self._outbox

    @property
    def httpx_client(self) -> httpx.AsyncClient:
        """The underlying httpx client (its requests skip the per-call procedure)."""
        return self._http

    async def close(self) -> None:
        """Close the connections. Nothing is sent after this: calls in flight end with their
        answer or :class:`~resilience.ClientClosedError`, later calls raise it."""
        await self._http.aclose()
        if self._outbox is not None:
            self._outbox.close()
        if self._stack.fleet is not None:
            await self._stack.fleet.aclose()

    async def aclose(self) -> None:
        """Close the client (the same as :meth:`close`): nothing is sent after, and later
        calls raise ``ClientClosedError``."""
        await self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, request: httpx.Request, auth: httpx.Auth) -> httpx.Response:
        op = request.extensions.get(EXT_OPERATION)
        try:  # an operation that needs no credential is sent without one (auth=None: none)
            pinned = auth if op is None or op.requires_auth else None
            http = self._http
            if self._DIRECT and direct(http, request, pinned):
                response = await send_async(http, self._gate, request)
            else:
                response = await http.send(request, auth=pinned, stream=True)
        except RuntimeError as exc:  # httpx's own "client has been closed"
            if not self._gate.closed:
                raise
            raise refused_closed(request) from exc
        await read_body_async(request, response, self._config.max_response_bytes)
        return response

    def _check_loop(self) -> None:
        """Used from its own event loop, or refused: its connections belong to that loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio's (trio, with a transport of its own): nothing to check
            return
        if loop is not self._loop:
            if self._loop is not None:
                raise WrongEventLoopError(
                    f"this {type(self).__name__} belongs to another event loop (the one it was created "
                    "or first used in): create one client per event loop (per asyncio.run); nothing was sent"
                )
            self._loop = loop

    async def _run(self, flow: Flow[T], wait_sibling: Callable[[], Awaitable[None]] | None = None) -> T:
        """Drive one procedure; every logical call in it keeps the credential it starts with."""
        self._check_loop()
        send = functools.partial(self._send, auth=self._stack.auth.pinned(checked=True))
        return await drive_async(flow, send, self._asleep, wait_sibling)

    async def _call(self, op: Operation, kwargs: Mapping[str, Any], parse: Callable[[Any], T]) -> T:
        request = self._request_for(op, kwargs)
        return self._answer(op, await self._run(self._exchange(request)), parse)

    async def _call_with_body(
        self, op: Operation, kwargs: Mapping[str, Any], body: Any, parse: Callable[[Any], T]
    ) -> T | DryRun:
        request = self._body_request(op, kwargs, body)
        if isinstance(request, DryRun):
            return request
        return self._answer(op, await self._run(self._exchange(request)), parse)

    async def _iterate(self, op: Operation, fetch: Callable[[str | None], Awaitable[Any]]) -> AsyncIterator[Any]:
        walk = page_walk(op)
        cursor = next(walk)
        while True:
            page = await fetch(cursor)
            for item in page_items(op, page):
                yield item
            try:
                cursor = walk.send(page)
            except StopIteration:
                return

    async def _ingest(
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
        concurrency: int | None = None,
    ) -> BatchResult:
        self._check_loop()
        run = self._start_batch(op, items, make_kwargs, parse, chunk_size, progress, wait_for_recovery, resume)
        if isinstance(run, BatchResult):
            return run  # a dry run
        sem = asyncio.Semaphore(concurrency or self._config.batch_concurrency)
        returned = [asyncio.Event()]  # set (and replaced) whenever a chunk of this call comes back

        def on_return() -> None:
            event, returned[0] = returned[0], asyncio.Event()
            event.set()

        async def wait_sibling() -> None:
            await returned[0].wait()

        run.returned = on_return
        failures: list[BaseException] = []  # what stopped the batch (the first one is raised)
        tasks: list[asyncio.Task[None]] = []

        async def one(chunk: Any) -> None:
            async with sem:
                try:
                    await self._run(run.chunk_flow(chunk), wait_sibling)
                except asyncio.CancelledError:
                    raise
                except BaseException as exc:  # noqa: BLE001  (raised by _ingest, with the partial result)
                    # Caught here, in the task: a KeyboardInterrupt leaving a task would stop the loop.
                    failures.append(exc)
                    me = asyncio.current_task()
                    for task in tasks:  # nothing more goes out once the batch has failed
                        if task is not me:
                            task.cancel()

        tasks.extend(asyncio.ensure_future(one(chunk)) for chunk in run.plan)
        try:
            if tasks:
                await asyncio.wait(tasks)
        except BaseException as exc:  # cancelled (or interrupted) while the chunks ran
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            error = run.interrupted(exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            if self._outbox is not None:
                self._outbox.publish()
        if failures:
            first = failures[0]
            error = run.interrupted(first)
            if error is first:
                raise first
            raise error from first
        return run.result()

    async def health_check(self) -> HealthReport:
        """Is the backend up, and does it accept the credential? One quick attempt of the
        health operation, then of a 1-item listing with the credential (the listing alone when
        there is no health endpoint). Never raises: a :class:`~resilience.HealthReport`, truthy
        only when both hold, whose ``reason`` says why not."""
        try:
            return await self._run(self._health_flow())
        except WrongEventLoopError as exc:
            return refused_report(self, exc)


def _collected(gate: GateTransport, inner: object, name: str) -> None:
    """The client was garbage-collected: unclosed, it warns and drops its connections now
    (aiohttp would otherwise warn about an "Unclosed client session" it knows nothing of)."""
    if gate.closed:
        return
    warnings.warn(
        f"{name} was never closed: close it with `await client.aclose()` or `async with` "
        "(its connections are dropped unawaited now)",
        ResourceWarning,
        stacklevel=2,
    )
    abandon = getattr(inner, "abandon", None)
    if callable(abandon):
        abandon()
