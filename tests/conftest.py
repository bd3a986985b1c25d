"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

from tests.support import FakeTime


@pytest.fixture
def ft() -> FakeTime:
    return FakeTime()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's FINOPS_* settings."""
    for name in ("FINOPS_API_URL", "FINOPS_API_KEY", "FINOPS_DRY_RUN"):
        monkeypatch.delenv(name, raising=False)
