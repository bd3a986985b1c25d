from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.api_error import Error
from ...models.approval import Approval
from ...models.approval_request import ApprovalRequest
from ...types import UNSET, Response, Unset


def _get_kwargs(
    optimization_id: str,
    *,
    body: ApprovalRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/optimizations/{optimization_id}/approve".format(
            optimization_id=quote(str(optimization_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Approval | Error | None:
    if response.status_code == 200:
        response_200 = Approval.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Error.from_dict(response.json())

        return response_409

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Error.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Approval | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    optimization_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ApprovalRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Approval | Error]:
    """Approve or reject a cost optimization

    Args:
        optimization_id (str):
        idempotency_key (str | Unset):
        body (ApprovalRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Approval | Error]
    """

    kwargs = _get_kwargs(
        optimization_id=optimization_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    optimization_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ApprovalRequest,
    idempotency_key: str | Unset = UNSET,
) -> Approval | Error | None:
    """Approve or reject a cost optimization

    Args:
        optimization_id (str):
        idempotency_key (str | Unset):
        body (ApprovalRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Approval | Error
    """

    return sync_detailed(
        optimization_id=optimization_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    optimization_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ApprovalRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[Approval | Error]:
    """Approve or reject a cost optimization

    Args:
        optimization_id (str):
        idempotency_key (str | Unset):
        body (ApprovalRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Approval | Error]
    """

    kwargs = _get_kwargs(
        optimization_id=optimization_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    optimization_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: ApprovalRequest,
    idempotency_key: str | Unset = UNSET,
) -> Approval | Error | None:
    """Approve or reject a cost optimization

    Args:
        optimization_id (str):
        idempotency_key (str | Unset):
        body (ApprovalRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Approval | Error
    """

    return (
        await asyncio_detailed(
            optimization_id=optimization_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
