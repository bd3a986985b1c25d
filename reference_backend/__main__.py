"""``python -m reference_backend``: serve the reference backend, demo data included, until Ctrl-C / SIGTERM.

Started as the README shows (``--port 5002 --api-key KEY``) it is what a bare ``FinOpsClient()``
talks to: the default URL, the key from ``FINOPS_API_KEY``, and a few items in every collection.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from .faults import FAULT_KINDS, FaultPlan
from .server import ReferenceBackend

DEMO_DATA: dict[str, list[dict[str, Any]]] = {
    "resources": [
        {
            "resourceId": "i-0a1b2c3d4e5f60001",
            "resourceType": "ec2:instance",
            "region": "us-east-1",
            "accountId": "111122223333",
            "currentCost": 182.4,
            "currency": "USD",
            "utilizationMetrics": {"cpu": 0.07, "memory": 0.21},
            "tags": {"env": "staging", "team": "payments"},
            "timestamp": "2025-01-15T08:00:00Z",
        },
        {
            "resourceId": "vol-0fedcba987650002",
            "resourceType": "ebs:volume",
            "region": "eu-west-1",
            "accountId": "111122223333",
            "currentCost": 40.0,
            "currency": "USD",
            "tags": {"env": "prod"},
        },
    ],
    "optimizations": [
        {
            "optimizationId": "opt-0001",
            "resourceId": "i-0a1b2c3d4e5f60001",
            "optimizationType": "RIGHTSIZE",
            "estimatedSavings": 120.5,
            "riskLevel": "LOW",
            "confidenceScore": 0.92,
            "status": "PENDING",
            "accountId": "111122223333",
        },
        {
            "optimizationId": "opt-0002",
            "resourceId": "vol-0fedcba987650002",
            "optimizationType": "STORAGE_TIER",
            "estimatedSavings": 18.0,
            "riskLevel": "MEDIUM",
            "confidenceScore": 0.7,
        },
    ],
    "anomalies": [
        {
            "anomalyId": "anom-0001",
            "anomalyType": "SPEND_SPIKE",
            "severity": "HIGH",
            "actualCost": 912.3,
            "expectedCost": 310.0,
            "region": "us-east-1",
            "rootCause": "Autoscaling group scaled out overnight",
            "accountId": "111122223333",
            "detectedAt": "2025-01-15T06:30:00Z",
        }
    ],
    "forecasts": [
        {
            "budgetId": "budget-eng",
            "budgetType": "MONTHLY",
            "budgetAmount": 10000,
            "forecastAmount": 11250.75,
            "periodStart": "2025-01-01",
            "periodEnd": "2025-01-31",
            "accountId": "111122223333",
        }
    ],
}


def _basic(value: str) -> tuple[str, str]:
    user, colon, password = value.partition(":")
    if not colon or not user:
        raise argparse.ArgumentTypeError("expected USER:PASSWORD")
    return user, password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reference_backend",
        description="In-memory reference implementation of the FinOps API (openapi.yaml).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5002, help="port (default 5002; 0 picks a free one)")
    parser.add_argument("--api-key", help="accept this X-API-Key (turns authentication on)")
    parser.add_argument("--bearer-token", help="accept this bearer token (turns authentication on)")
    parser.add_argument("--basic", type=_basic, metavar="USER:PASSWORD", help="accept these Basic credentials")
    parser.add_argument(
        "--require-auth", action="store_true", help="require credentials even if none is configured (all 401)"
    )
    parser.add_argument("--empty", action="store_true", help="start with no items (default: a few in every collection)")
    # Demo data is the default now; the old opt-in flag is still accepted.
    parser.add_argument("--demo-data", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of a fault per request")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault plan")
    parser.add_argument(
        "--fault-kinds",
        default=None,
        help=f"comma-separated fault kinds (default all): {', '.join(FAULT_KINDS)}",
    )
    parser.add_argument("--slow-seconds", type=float, default=0.5, help="delay of the 'slow' fault")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def backend_requires_auth(args: argparse.Namespace) -> bool:
    return bool(args.require_auth or args.api_key or args.bearer_token or args.basic)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    plan = None
    if args.fault_rate > 0:
        kinds = args.fault_kinds.split(",") if args.fault_kinds else None
        plan = FaultPlan(args.fault_seed, args.fault_rate, kinds, slow_seconds=args.slow_seconds)
    backend = ReferenceBackend(
        args.host,
        args.port,
        api_key=args.api_key,
        bearer_token=args.bearer_token,
        basic=args.basic,
        require_auth=backend_requires_auth(args),
        fault_plan=plan,
    )
    if not args.empty:
        for kind, items in DEMO_DATA.items():
            rejected = backend.add_items(kind, items)
            if rejected:
                raise SystemExit(f"the demo data's {kind} break the contract: {rejected}")

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        backend.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    data = "no items" if args.empty else "demo data: " + ", ".join(f"{k} {len(v)}" for k, v in DEMO_DATA.items())
    auth = "credentials required" if backend_requires_auth(args) else "no authentication"
    print(f"FinOps reference backend listening on {backend.url} ({data}; {auth}; Ctrl-C to stop)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        backend.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
