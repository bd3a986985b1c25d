"""Routing, storage, validation, idempotency and counters: everything but the socket.

All state lives in :class:`App` under one lock; a POST is validated, stored and recorded in
the idempotency cache atomically, so concurrent retries with one key store at most once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

from ._schemas import (
    BATCH_MAX_ITEMS,
    BATCH_MIN_ITEMS,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    LIMIT_DEFAULT,
    LIMIT_MAX,
    LIMIT_MIN,
    SCHEMAS,
    first_error,
)

__all__ = ["KINDS", "App", "BackendStats", "Request", "Response", "Route", "match_route"]

HEALTH_ROUTE: Final = "/api/health"
UNMATCHED_ROUTE: Final = "<unmatched>"


@dataclass(frozen=True)
class Kind:
    name: str
    schema: str
    id_field: str
    route: str


KINDS: Final[dict[str, Kind]] = {
    "resources": Kind("resources", "ResourceInventory", "resourceId", "/api/resources"),
    "optimizations": Kind("optimizations", "CostOptimization", "optimizationId", "/api/optimizations"),
    "anomalies": Kind("anomalies", "CostAnomaly", "anomalyId", "/api/anomalies"),
    "forecasts": Kind("forecasts", "BudgetForecast", "budgetId", "/api/budgets/forecasts"),
}
_KIND_ALIASES: Final[dict[str, str]] = {
    "resource": "resources",
    "optimization": "optimizations",
    "anomaly": "anomalies",
    "forecast": "forecasts",
    "budgets": "forecasts",
    "budget_forecasts": "forecasts",
    "budgets/forecasts": "forecasts",
    **{k.route: k.name for k in KINDS.values()},
    **{k.schema: k.name for k in KINDS.values()},
}

# Query filters of each list endpoint: query name -> (item field, schema for the value, default
# for items without the field).
_FILTERS: Final[dict[str, dict[str, tuple[str, dict[str, Any] | None, str | None]]]] = {
    "resources": {
        "resourceType": ("resourceType", None, None),
        "region": ("region", None, None),
        "accountId": ("accountId", None, None),
    },
    "optimizations": {
        "status": ("status", SCHEMAS["OptimizationStatus"], "PENDING"),
        "riskLevel": ("riskLevel", SCHEMAS["RiskLevel"], None),
    },
    "anomalies": {"severity": ("severity", SCHEMAS["Severity"], None)},
    "forecasts": {},
}


def kind_named(name: str) -> Kind:
    key = name if name in KINDS else _KIND_ALIASES.get(name)
    if key is None:
        raise KeyError(f"unknown collection {name!r}; use one of {', '.join(KINDS)}")
    return KINDS[key]


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class Route:
    template: str
    operation: str | None  # operationId; None when the method is not allowed on the path
    allowed: tuple[str, ...]
    params: Mapping[str, str] = field(default_factory=dict)


_STATIC: Final[dict[str, dict[str, str]]] = {
    HEALTH_ROUTE: {"GET": "get_health"},
    "/api/resources": {"GET": "get_resources", "POST": "post_resources"},
    "/api/optimizations": {"GET": "get_optimizations", "POST": "post_optimizations"},
    "/api/anomalies": {"GET": "get_anomalies", "POST": "post_anomalies"},
    "/api/budgets/forecasts": {"GET": "get_budget_forecasts", "POST": "post_budget_forecasts"},
}
APPROVE_ROUTE: Final = "/api/optimizations/{optimizationId}/approve"
ROUTES: Final[tuple[str, ...]] = (*_STATIC, APPROVE_ROUTE)


def match_route(method: str, path: str) -> Route | None:
    """The route for a raw (still percent-encoded) path without query, or ``None``."""
    methods = _STATIC.get(path)
    params: dict[str, str] = {}
    template = path
    if methods is None:
        parts = path.split("/")
        if len(parts) == 5 and parts[:3] == ["", "api", "optimizations"] and parts[4] == "approve" and parts[3]:
            methods = {"POST": "approve_optimization"}
            template = APPROVE_ROUTE
            params = {"optimizationId": unquote(parts[3], errors="strict")}
        else:
            return None
    return Route(template, methods.get(method), tuple(methods), params)


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # raw path without the query
    target: str  # raw path with the query, as sent
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    route: Route


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    payload: Any = None  # the JSON value of ``body``, for faults that rewrite it
    content_type: str = "application/json"

    def with_header(self, name: str, value: str) -> Response:
        return Response(self.status, self.body, (*self.headers, (name, value)), self.payload, self.content_type)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dump(payload: Any) -> bytes:
    # ASCII output: a lone surrogate a client sent (a JSON "\ud800") goes back escaped, not as a 500.
    return json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, dump(payload), headers, payload)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = dict(details)
    return json_response(status, {"success": False, "error": error}, headers)


class _RejectError(Exception):
    """Ends processing with an Error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _fail(status: int, code: str, message: str, details: Mapping[str, Any] | None = None) -> _RejectError:
    return _RejectError(error_response(status, code, message, details))


def _parse_constant(name: str) -> float:
    # NaN / Infinity / -Infinity are not JSON; keep them so per-item validation rejects the item.
    return float(name.replace("Infinity", "inf"))


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise _fail(400, "invalid_json", "request body is empty; expected JSON")
    try:
        return json.loads(body, parse_constant=_parse_constant)
    except (ValueError, RecursionError) as exc:
        raise _fail(400, "invalid_json", f"request body is not valid JSON: {str(exc)[:200]}") from None


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class BackendStats:
    """A snapshot of the backend's counters. Also readable as ``stats["requests_total"]``."""

    requests_total: int
    requests_by_route: dict[str, int]
    requests_by_operation: dict[str, int]
    items_stored: int
    items_stored_by_kind: dict[str, int]
    item_writes: int
    items_rejected: int
    duplicate_deliveries_deduped: int
    duplicate_items_without_key: int
    idempotency_conflicts: int
    decisions: int
    auth_failures: int
    faults_injected: dict[str, int]
    outage_responses: dict[str, int]

    def __getitem__(self, name: str) -> Any:
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class _Idem:
    fingerprint: str
    response: Response


@dataclass
class Credentials:
    api_key: str | None = None
    bearer_token: str | None = None
    basic: tuple[str, str] | None = None

    def any(self) -> bool:
        return self.api_key is not None or self.bearer_token is not None or self.basic is not None

    def challenge(self) -> str:
        schemes = []
        if self.bearer_token is not None or not self.any():
            schemes.append('Bearer realm="finops"')
        if self.basic is not None:
            schemes.append('Basic realm="finops", charset="UTF-8"')
        if self.api_key is not None:
            schemes.append('ApiKey realm="finops", header="X-API-Key"')
        return ", ".join(schemes)

    def accepts(self, headers: Mapping[str, str]) -> bool:
        key = headers.get("x-api-key")
        if self.api_key is not None and key is not None and _same(key, self.api_key):
            return True
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and self.bearer_token is not None and credentials:
            return _same(credentials, self.bearer_token)
        if scheme.lower() == "basic" and self.basic is not None and credentials:
            decoded = _decode_basic(credentials)
            if decoded is None:
                return False
            user, password = decoded
            # Compare both, always, so timing does not tell which one was wrong.
            user_ok = _same(user, self.basic[0])
            password_ok = _same(password, self.basic[1])
            return user_ok and password_ok
        return False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _decode_basic(credentials: str) -> tuple[str, str] | None:
    """``user:password`` from Basic credentials: base64 of UTF-8, split at the first ':'."""
    try:
        raw = base64.b64decode(credentials.encode("ascii"), validate=True)
        text = raw.decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        return None
    user, colon, password = text.partition(":")
    return (user, password) if colon else None


# --------------------------------------------------------------------------- the application


class App:
    """State and request processing of the reference backend (thread-safe)."""

    def __init__(self, credentials: Credentials, require_auth: bool, version: str) -> None:
        self.credentials = credentials
        self.require_auth = require_auth
        self.version = version
        self.health_status = "ok"
        self.lock = threading.RLock()
        self._reset_state()

    def _reset_state(self) -> None:
        self.items: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in KINDS}
        self.decided: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, _Idem] = {}
        self.requests_total = 0
        self.requests_by_route: Counter[str] = Counter()
        self.requests_by_operation: Counter[str] = Counter()
        self.item_writes = 0
        self.items_rejected = 0
        self.deduped = 0
        self.duplicate_items = 0
        self.idempotency_conflicts = 0
        self.decisions = 0
        self.auth_failures = 0
        self.faults: Counter[str] = Counter()
        self.outages: Counter[str] = Counter()

    def reset(self) -> None:
        with self.lock:
            self._reset_state()

    # ---- counters

    def count_request(self, route: Route | None, method: str) -> None:
        with self.lock:
            self.requests_total += 1
            self.requests_by_route[route.template if route else UNMATCHED_ROUTE] += 1
            if route is not None and route.operation is not None:
                self.requests_by_operation[route.operation] += 1
            elif route is not None:
                self.requests_by_operation[f"{method} {route.template}"] += 1

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def count_outage(self, mode: str) -> None:
        with self.lock:
            self.outages[mode] += 1

    def stats(self) -> BackendStats:
        with self.lock:
            return BackendStats(
                requests_total=self.requests_total,
                requests_by_route=dict(self.requests_by_route),
                requests_by_operation=dict(self.requests_by_operation),
                items_stored=sum(len(v) for v in self.items.values()),
                items_stored_by_kind={name: len(v) for name, v in self.items.items()},
                item_writes=self.item_writes,
                items_rejected=self.items_rejected,
                duplicate_deliveries_deduped=self.deduped,
                duplicate_items_without_key=self.duplicate_items,
                idempotency_conflicts=self.idempotency_conflicts,
                decisions=self.decisions,
                auth_failures=self.auth_failures,
                faults_injected=dict(self.faults),
                outage_responses=dict(self.outages),
            )

    # ---- direct access for tests and demos

    def stored_ids(self, kind: str) -> list[str]:
        with self.lock:
            return list(self.items[kind_named(kind).name])

    def stored_items(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(dump(item)) for item in self.items[kind_named(kind).name].values()]

    def add_items(self, kind: str, items: list[Any]) -> list[dict[str, Any]]:
        """Validate and store ``items`` as a POST would (without counting a request)."""
        with self.lock:
            return self._ingest(kind_named(kind), items)[1]

    # ---- processing

    def process(self, request: Request) -> Response:
        """Authenticate, then answer (a POST through the idempotency cache)."""
        route = request.route
        if route.template != HEALTH_ROUTE and self.require_auth and not self.credentials.accepts(request.headers):
            with self.lock:
                self.auth_failures += 1
            return error_response(
                401,
                "unauthorized",
                "missing or invalid credentials",
                headers=(("WWW-Authenticate", self.credentials.challenge()),),
            )
        try:
            if request.method == "POST":
                return self._post(request)
            return self._dispatch(request)
        except _RejectError as rejection:
            return rejection.response

    def _post(self, request: Request) -> Response:
        key = request.headers.get("idempotency-key")
        if key is None:
            return self._dispatch(request)
        if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
            raise _fail(
                400,
                "invalid_idempotency_key",
                f"Idempotency-Key must have 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters",
            )
        fingerprint = _fingerprint(request)
        with self.lock:
            seen = self.idempotency.get(key)
            if seen is not None:
                if not hmac.compare_digest(seen.fingerprint, fingerprint):
                    self.idempotency_conflicts += 1
                    raise _fail(
                        422,
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used with a different request",
                    )
                self.deduped += 1
                return seen.response.with_header("Idempotent-Replayed", "true")
            response = self._dispatch(request)
            if response.status < 500:
                self.idempotency[key] = _Idem(fingerprint, response)
            return response

    def _dispatch(self, request: Request) -> Response:
        operation = request.route.operation
        handler = self._handlers().get(operation or "")
        if handler is None:  # pragma: no cover - the server answers 405 before processing
            raise _fail(405, "method_not_allowed", f"{request.method} is not allowed here")
        try:
            return handler(request)
        except _RejectError as rejection:
            return rejection.response

    def _handlers(self) -> dict[str, Callable[[Request], Response]]:
        handlers: dict[str, Callable[[Request], Response]] = {
            "get_health": self._health,
            "approve_optimization": self._approve,
        }
        for op, kind in (
            ("resources", "resources"),
            ("optimizations", "optimizations"),
            ("anomalies", "anomalies"),
            ("budget_forecasts", "forecasts"),
        ):
            handlers[f"get_{op}"] = _bind_list(self, KINDS[kind])
            handlers[f"post_{op}"] = _bind_post(self, KINDS[kind])
        return handlers

    def _health(self, request: Request) -> Response:
        return json_response(200, {"status": self.health_status, "version": self.version, "timestamp": now_iso()})

    # ---- lists

    def list_items(self, kind: Kind, request: Request) -> Response:
        query = request.query
        limit = _limit(query)
        filters: dict[str, str] = {}
        for name, (_, schema, _) in _FILTERS[kind.name].items():
            value = _one(query, name)
            if value is None:
                continue
            if schema is not None and first_error(value, schema) is not None:
                raise _fail(
                    400,
                    "invalid_parameter",
                    f"query parameter {name!r} must be one of {', '.join(schema['enum'])}",
                    {"parameter": name},
                )
            filters[name] = value
        filter_key = hashlib.sha256(dump(sorted(filters.items()))).hexdigest()[:16]
        offset = _decode_cursor(_one(query, "cursor"), filter_key)
        with self.lock:
            matching = [item for item in self.items[kind.name].values() if _matches(kind, item, filters)]
            page = [json.loads(dump(item)) for item in matching[offset : offset + limit]]
            more = offset + limit < len(matching)
        return json_response(
            200,
            {
                "success": True,
                "data": page,
                "nextCursor": _encode_cursor(offset + limit, filter_key) if more else None,
                "timestamp": now_iso(),
            },
        )

    # ---- ingest

    def post_items(self, kind: Kind, request: Request) -> Response:
        body = parse_json(request.body)
        if not isinstance(body, list):
            raise _fail(422, "invalid_body", f"request body must be a JSON array of {kind.schema}")
        if len(body) < BATCH_MIN_ITEMS:
            raise _fail(422, "empty_batch", f"request body must hold at least {BATCH_MIN_ITEMS} item")
        if len(body) > BATCH_MAX_ITEMS:
            raise _fail(
                413,
                "batch_too_large",
                f"a batch holds at most {BATCH_MAX_ITEMS} items, got {len(body)}",
                {"maxItems": BATCH_MAX_ITEMS, "received": len(body)},
            )
        with self.lock:
            accepted, rejected = self._ingest(kind, body)
        result: dict[str, Any] = {"success": True, "accepted": accepted, "rejected": rejected}
        result["message"] = f"{accepted} accepted, {len(rejected)} rejected"
        result["timestamp"] = now_iso()
        return json_response(200, result)

    def _ingest(self, kind: Kind, items: list[Any]) -> tuple[int, list[dict[str, Any]]]:
        schema = SCHEMAS[kind.schema]
        store = self.items[kind.name]
        accepted = 0
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            error = _item_error(item, schema)
            if error is not None:
                rejection: dict[str, Any] = {"index": index, "reason": error}
                item_id = item.get(kind.id_field) if isinstance(item, dict) else None
                if isinstance(item_id, str) and item_id:
                    rejection["id"] = item_id
                rejected.append(rejection)
                continue
            item_id = item[kind.id_field]
            if item_id in store:
                self.duplicate_items += 1
            store[item_id] = item  # an upsert keeps the item's place, so pages stay stable
            self.item_writes += 1
            accepted += 1
        self.items_rejected += len(rejected)
        return accepted, rejected

    # ---- approval

    def _approve(self, request: Request) -> Response:
        optimization_id = request.route.params["optimizationId"]
        body = parse_json(request.body)
        if not isinstance(body, dict):
            raise _fail(422, "invalid_body", "request body must be a JSON object (ApprovalRequest)")
        error = first_error(body, SCHEMAS["ApprovalRequest"])
        if error is not None:
            raise _fail(422, "validation_failed", error)
        with self.lock:
            item = self.items["optimizations"].get(optimization_id)
            if item is None:
                raise _fail(404, "not_found", f"no optimization {optimization_id!r}")
            status = item.get("status", "PENDING")
            if status != "PENDING":
                raise _fail(
                    409,
                    "already_decided",
                    f"optimization {optimization_id!r} is already {status}",
                    {"status": status},
                )
            decision: dict[str, Any] = {
                "optimizationId": optimization_id,
                "status": "APPROVED" if body["approved"] else "REJECTED",
                "decidedAt": now_iso(),
            }
            if "comment" in body:
                decision["comment"] = body["comment"]
            item["status"] = decision["status"]
            self.decided[optimization_id] = decision
            self.decisions += 1
        return json_response(200, decision)


def _bind_list(app: App, kind: Kind) -> Callable[[Request], Response]:
    return lambda request: app.list_items(kind, request)


def _bind_post(app: App, kind: Kind) -> Callable[[Request], Response]:
    return lambda request: app.post_items(kind, request)


def _item_error(item: object, schema: Mapping[str, Any]) -> str | None:
    if not isinstance(item, dict):
        return f"expected object, got {_kind_of(item)}"
    try:
        return first_error(item, schema)
    except RecursionError:
        return "nested too deeply"


def _kind_of(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _fingerprint(request: Request) -> str:
    """Method, target and body; a JSON body is compared by value, not by its bytes."""
    try:
        body = json.loads(request.body, parse_constant=_parse_constant)
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = request.body
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.target.encode("latin-1", "replace"), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _limit(query: Mapping[str, list[str]]) -> int:
    raw = _one(query, "limit")
    if raw is None:
        return LIMIT_DEFAULT
    try:
        limit = int(raw.strip())
    except ValueError:
        limit = 0
    if not (raw.strip().lstrip("+").isdigit() and LIMIT_MIN <= limit <= LIMIT_MAX):
        raise _fail(
            400,
            "invalid_parameter",
            f"limit must be an integer from {LIMIT_MIN} to {LIMIT_MAX}, got {raw[:40]!r}",
            {"parameter": "limit"},
        )
    return limit


def _encode_cursor(offset: int, filter_key: str) -> str:
    raw = dump({"o": offset, "f": filter_key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None, filter_key: str) -> int:
    if cursor is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
        same_filters = data["f"] == filter_key
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise _fail(400, "invalid_cursor", "cursor is not one this server issued", {"parameter": "cursor"}) from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise _fail(400, "invalid_cursor", "cursor is not one this server issued", {"parameter": "cursor"})
    if not same_filters:
        raise _fail(
            400,
            "invalid_cursor",
            "cursor was issued for other filters; repeat the same query parameters",
            {"parameter": "cursor"},
        )
    return offset


def _matches(kind: Kind, item: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    for name, value in filters.items():
        item_field, _, default = _FILTERS[kind.name][name]
        if item.get(item_field, default) != value:
            return False
    return True
