"""approve_optimization keeps the old call shape: (optimization_id, approved=True, comment=None)."""

from __future__ import annotations

import json

import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from finops_api_client.models import Approval, ApprovalStatus
from pytest_httpserver import HTTPServer

APPROVAL = {"optimizationId": "opt-1", "status": "APPROVED", "decidedAt": "2026-11-29T10:00:00Z"}
ROUTE = "/api/optimizations/opt-1/approve"


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({}, {"approved": True}),
        ({"comment": None}, {"approved": True}),
        ({"approved": False, "comment": "too risky"}, {"approved": False, "comment": "too risky"}),
    ],
)
def test_old_call_shape(httpserver: HTTPServer, kwargs: dict[str, object], body: dict[str, object]) -> None:
    httpserver.expect_request(ROUTE, method="POST").respond_with_json(APPROVAL)
    with FinOpsClient(httpserver.url_for(""), api_key="k") as client:
        result = client.approve_optimization("opt-1", **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Approval)
    assert result.status == ApprovalStatus.APPROVED
    sent = httpserver.log[0][0]
    assert json.loads(sent.get_data()) == body
    assert sent.headers.get("Idempotency-Key")


async def test_old_call_shape_async(httpserver: HTTPServer) -> None:
    httpserver.expect_request(ROUTE, method="POST").respond_with_json(APPROVAL)
    async with AsyncFinOpsClient(httpserver.url_for(""), api_key="k") as client:
        result = await client.approve_optimization("opt-1", comment=None)
    assert isinstance(result, Approval)
    assert json.loads(httpserver.log[0][0].get_data()) == {"approved": True}
