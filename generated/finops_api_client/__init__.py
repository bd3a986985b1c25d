"""A client library for accessing FinOps API"""

from ._contract import GENERATOR, SPEC_SHA256
from .api import AsyncFinOpsClient, FinOpsClient
from .client import AuthenticatedClient, Client

__all__ = (
    "GENERATOR",
    "SPEC_SHA256",
    "AsyncFinOpsClient",
    "AuthenticatedClient",
    "Client",
    "FinOpsClient",
)
