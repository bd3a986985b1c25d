"""TLS verification is on by default, sync and async (issue 5, security)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme
from finops_api_client import AsyncFinOpsClient, FinOpsClient
from pytest_httpserver import HTTPServer

from resilience import APIConnectionError

HEALTH = {"status": "ok", "timestamp": "2026-11-29T10:00:00Z"}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[HTTPServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = HTTPServer(host="localhost", port=0, ssl_context=context)
    server.start()
    server.expect_request("/api/health").respond_with_json(HEALTH)
    yield server
    server.clear()
    server.stop()


def test_untrusted_certificate_is_refused_by_default(https_server: HTTPServer) -> None:
    client = FinOpsClient(https_server.url_for(""), api_key="k", max_retries=0)
    with client, pytest.raises(APIConnectionError) as info:
        client.get_health()
    assert isinstance(info.value.__cause__, Exception)
    assert https_server.log == []  # the handshake failed: no request reached the handler


def test_trusted_ca_is_accepted(https_server: HTTPServer, ca: trustme.CA, tmp_path: object) -> None:
    with ca.cert_pem.tempfile() as pem:
        verify = ssl.create_default_context(cafile=pem)
    with FinOpsClient(https_server.url_for(""), api_key="k", verify=verify) as client:
        assert client.get_health().status.value == "ok"


async def test_async_untrusted_certificate_is_refused_by_default(https_server: HTTPServer) -> None:
    async with AsyncFinOpsClient(https_server.url_for(""), api_key="k", max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            await client.get_health()
    assert https_server.log == []
