"""Every public class, function, method and property has a docstring."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Iterator
from typing import Any

import finops_api_client
import pytest

import resilience


def _public_members(cls: type) -> Iterator[tuple[str, Any]]:
    for name, member in vars(cls).items():
        if name.startswith("_") or isinstance(member, enum.Enum):
            continue
        if isinstance(member, property | staticmethod | classmethod) or inspect.isfunction(member):
            yield name, member


def _objects() -> Iterator[tuple[str, Any]]:
    seen: set[int] = set()
    for package in (resilience, finops_api_client):
        for name in package.__all__:
            obj = getattr(package, name)
            if id(obj) in seen or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            seen.add(id(obj))
            yield f"{package.__name__}.{name}", obj
            if inspect.isclass(obj):
                for cls in obj.__mro__:
                    if cls.__module__.split(".")[0] not in ("resilience", "finops_api_client"):
                        continue
                    for member_name, member in _public_members(cls):
                        if id(member) not in seen:
                            seen.add(id(member))
                            yield f"{cls.__module__}.{cls.__qualname__}.{member_name}", member


def _doc(obj: Any) -> str | None:
    if isinstance(obj, property):
        return obj.fget.__doc__ if obj.fget is not None else None
    if isinstance(obj, staticmethod | classmethod):
        return obj.__func__.__doc__
    doc: str | None = obj.__doc__
    return doc


def test_the_walk_covers_the_api() -> None:
    names = {name for name, _ in _objects()}
    assert "finops_api_client.api.FinOpsClient.post_resources" in names
    assert "resilience.RetryPolicy" in names
    assert "resilience._batch.BatchResult.ok" in names
    assert len(names) > 150


def test_every_public_name_has_a_docstring() -> None:
    missing = sorted(name for name, obj in _objects() if not (_doc(obj) or "").strip())
    assert not missing, f"{len(missing)} public names without a docstring:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", ["FinOpsClient", "AsyncFinOpsClient"])
def test_client_docstring_states_units_and_defaults(name: str) -> None:
    doc = getattr(finops_api_client, name).__doc__ or ""
    assert "seconds" in doc
    assert "default" in doc
