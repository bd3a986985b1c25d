"""The steps an I/O-free procedure asks its driver to perform, and the two drivers.

A procedure (a call with its retries, a batch chunk with its recovery waits, a health check)
is a generator: it yields a step, the driver performs it and sends back the outcome (or
throws the exception it raised), as httpx drives ``Auth.auth_flow``. The procedures decide;
:func:`drive_sync` and :func:`drive_async` only send, sleep and wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Final, TypeVar

import attrs
import httpx

__all__: list[str] = []  # internal: the steps and drivers of the procedures

T = TypeVar("T")


@attrs.frozen(slots=True)
class Send:
    """Send this request once (one attempt) and answer with the response, body read."""

    request: httpx.Request


@attrs.frozen(slots=True)
class Sleep:
    """Wait this many seconds (a backoff, a Retry-After, a breaker's recovery time)."""

    seconds: float


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Let other tasks run, wait for nothing (the testing switch's sleep).
PAUSE: Final = _Marker("PAUSE")
#: Wait until a sibling chunk of the same batch comes back (it may be the breaker's probe).
WAIT_SIBLING: Final = _Marker("WAIT_SIBLING")

Step = Send | Sleep | _Marker
Flow = Generator[Step, Any, T]


def drive_sync(flow: Flow[T], send: Callable[[httpx.Request], httpx.Response], sleep: Callable[[float], None]) -> T:
    """Run ``flow`` to its end on this thread; every exception goes back into the flow."""
    outcome: Any = None
    failure: BaseException | None = None
    try:
        while True:
            step = flow.send(outcome) if failure is None else flow.throw(failure)
            outcome = failure = None
            try:
                if type(step) is Send:
                    outcome = send(step.request)
                elif type(step) is Sleep:
                    sleep(step.seconds)
                # PAUSE and WAIT_SIBLING: nothing else runs on this thread, nothing to wait for.
            except BaseException as exc:  # noqa: BLE001  (the flow decides; it re-raises what it does not handle)
                failure = exc
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def drive_async(
    flow: Flow[T],
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    sleep: Callable[[float], Awaitable[None]],
    wait_sibling: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Run ``flow`` to its end in this task; every exception (cancellation too) goes back in.
    PAUSE lets other tasks run; WAIT_SIBLING waits for ``wait_sibling`` when given."""
    outcome: Any = None
    failure: BaseException | None = None
    try:
        while True:
            step = flow.send(outcome) if failure is None else flow.throw(failure)
            outcome = failure = None
            try:
                if type(step) is Send:
                    outcome = await send(step.request)
                else:
                    await (sleep(step.seconds) if type(step) is Sleep else _pause(step, wait_sibling))
            except BaseException as exc:  # noqa: BLE001
                failure = exc
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def _pause(step: object, wait_sibling: Callable[[], Awaitable[None]] | None) -> None:
    if step is WAIT_SIBLING and wait_sibling is not None:
        await wait_sibling()
    else:
        await asyncio.sleep(0)
