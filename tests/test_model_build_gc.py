"""Models are built with the cyclic garbage collector paused, and it is always given back."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from resilience import APIResponseValidationError, Operation
from resilience._response import build

OP = Operation("list_things", "GET", "/api/things")


def answer() -> httpx.Response:
    return httpx.Response(200, json={}, request=httpx.Request("GET", "https://api.example/api/things"))


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_paused_while_a_model_is_built_and_resumed_after() -> None:
    seen: list[bool] = []

    def parse(data: Any) -> str:
        seen.append(gc.isenabled())
        return "model"

    assert build({}, parse, answer(), OP) == "model"
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_resumed_when_the_model_refuses_the_body() -> None:
    def parse(data: Any) -> str:
        assert not gc.isenabled()
        raise KeyError("id")

    with pytest.raises(APIResponseValidationError, match="could not be parsed: KeyError"):
        build({}, parse, answer(), OP)
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        assert build({}, lambda data: "model", answer(), OP) == "model"
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()
