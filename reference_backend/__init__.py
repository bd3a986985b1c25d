"""In-memory reference implementation of the FinOps backend (``openapi.yaml``), for tests and demos.

Run-time code uses the standard library only::

    from reference_backend import FaultPlan, ReferenceBackend

    with ReferenceBackend(api_key="k", require_auth=True) as backend:
        ...  # point a client at backend.url
        backend.set_outage("503")
        backend.set_fault_plan(FaultPlan(seed=1, rate=0.3, kinds=["close_after_store"]))
        print(backend.stats().items_stored, backend.stored_ids("resources"))

or from a shell: ``python -m reference_backend --port 5002 --api-key KEY``.
"""

from __future__ import annotations

from ._app import BackendStats
from .faults import AMBIGUOUS_KINDS, FAULT_KINDS, STORES, FaultPlan
from .server import OutageMode, ReferenceBackend

__all__ = [
    "AMBIGUOUS_KINDS",
    "FAULT_KINDS",
    "STORES",
    "BackendStats",
    "FaultPlan",
    "OutageMode",
    "ReferenceBackend",
]
