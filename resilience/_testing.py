"""Contract testing: check recorded HTTP traffic against an OpenAPI document.

For users' own tests (and ours). It knows OpenAPI, httpx and werkzeug (what
pytest-httpserver records in ``httpserver.log``), nothing of any one API::

    contract = OpenAPIContract.from_path("openapi.yaml")
    client.list_things(limit=5)                      # against pytest-httpserver
    contract.assert_all_valid(httpserver.log)        # every request and response

openapi-core (and werkzeug, which it brings) is a test dependency: it is imported when a
contract is built, never by ``import resilience``.

Servers: by default only the *path* of each ``servers`` URL is kept, so traffic recorded
against any host (a local test server on a random port) matches the document; pass
``match_servers=True`` to require the document's scheme and host as well.

Path parameters are matched on the raw, still percent-encoded path (an id ``a/b`` travels
as ``a%2Fb`` and stays one segment), then decoded before validation.
"""

from __future__ import annotations

import importlib
import importlib.resources
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

import httpx

from ._contract_adapters import _adapt_request, _adapt_response, _AdaptedRequest, _path_of

if TYPE_CHECKING:
    from werkzeug.wrappers import Request as WerkzeugRequest
    from werkzeug.wrappers import Response as WerkzeugResponse

__all__ = [
    "ContractOperation",
    "ContractViolation",
    "OpenAPIContract",
    "ValidatedRequest",
    "ValidatedResponse",
]

_MAX_HEADLINE: Final = 300
_HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ContractViolation(AssertionError):  # noqa: N818  (a failed check, as pytest reports it)
    """Traffic breaks the OpenAPI document; ``errors`` lists every problem found, readable."""

    def __init__(self, summary: str, errors: Sequence[str]) -> None:
        self.summary = summary
        self.errors: tuple[str, ...] = tuple(errors)
        lines = [summary, *(f"  - {e}" for e in self.errors)]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class ContractOperation:
    """One operation of the document: ``statuses`` are its documented response codes as
    written (``"200"``, ``"4XX"``, ``"default"``)."""

    operation_id: str | None
    method: str
    route: str
    statuses: tuple[str, ...]

    @property
    def error_statuses(self) -> tuple[int, ...]:
        """The explicit 4xx/5xx codes, sorted (ranges and ``default`` left out)."""
        return tuple(sorted(int(s) for s in self.statuses if s.isdigit() and int(s) >= 400))

    @property
    def success_statuses(self) -> tuple[int, ...]:
        """The documented 2xx statuses."""
        return tuple(sorted(int(s) for s in self.statuses if s.isdigit() and 200 <= int(s) < 300))


@dataclass(frozen=True, slots=True)
class ValidatedRequest:
    """A request that matches the document, with its values as the document types them."""

    operation_id: str | None
    method: str
    route: str
    path_params: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True, slots=True)
class ValidatedResponse:
    operation_id: str | None
    status_code: int
    data: Any = None
    headers: Mapping[str, Any] = field(default_factory=dict)


def _schema_details(exc: BaseException) -> list[str]:
    """The jsonschema errors anywhere in ``exc``'s cause chain, one line each with its path."""
    out: list[str] = []
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        for err in getattr(cause, "schema_errors", None) or ():
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
            out.append(f"at {where.lstrip('.') or '<root>'}: {err.message}")
        cause = cause.__cause__ or cause.__context__
    return out


def _describe(exc: BaseException) -> list[str]:
    """One entry per problem: what failed, then each schema error under it with its JSON path
    (``at [1].region: '' should be non-empty``) instead of openapi-core's one-line repr."""
    details = _schema_details(exc)
    headline = str(exc) or type(exc).__name__
    if not details and exc.__cause__ is not None:
        details = [f"caused by {type(exc.__cause__).__name__}: {exc.__cause__}"]
    elif details:
        headline = headline.split("Value ", 1)[0].rstrip(" :") or f"{type(exc).__name__}: schema errors"
    if len(headline) > _MAX_HEADLINE:
        headline = headline[: _MAX_HEADLINE - 3] + "..."
    entries = ["\n      ".join([headline, *details])]
    nested = getattr(exc, "errors", None)  # ParametersError and friends group several
    if isinstance(nested, list | tuple):
        for sub in nested:
            if isinstance(sub, BaseException):
                entries.extend(_describe(sub))
    return entries


def _flatten(errors: Iterable[BaseException]) -> list[str]:
    out: list[str] = []
    for e in errors:
        out.extend(_describe(e))
    return out


def _require(module: str) -> Any:
    """Import a contract-testing dependency; without it, say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"OpenAPIContract needs {module.split('.')[0]}: install it with `pip install finops-sdk[contract]`"
        ) from exc


# -- the contract ----------------------------------------------------------------------------
class OpenAPIContract:
    """An OpenAPI 3.0/3.1 document to validate requests and responses against."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        base_uri: str = "",
        match_servers: bool = False,
        name: str = "the OpenAPI document",
    ) -> None:
        OpenAPI = _require("openapi_core").OpenAPI  # noqa: N806  (the library's class)

        data: dict[str, Any] = dict(spec)
        if not match_servers:
            data["servers"] = _path_only_servers(data.get("servers"))
        self.name = name
        self._app: Any = OpenAPI.from_dict(data, base_uri=base_uri)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, match_servers: bool = False) -> OpenAPIContract:
        """Load a YAML or JSON document (relative ``$ref``s resolve from its folder)."""
        reader = _require("jsonschema_path.readers").PathReader
        file = Path(path).absolute()
        data, base_uri = reader(file).read()
        return cls(data, base_uri=base_uri, match_servers=match_servers, name=file.name)

    @classmethod
    def from_package(
        cls, package: str, resource: str = "openapi.yaml", *, match_servers: bool = False
    ) -> OpenAPIContract:
        """The contract a generated package ships inside itself (``openapi.yaml`` beside its
        code): ``OpenAPIContract.from_package("finops_api_client")``, no path needed."""
        ref = importlib.resources.files(package).joinpath(resource)
        with importlib.resources.as_file(ref) as file:
            if not file.is_file():
                raise FileNotFoundError(f"{package} ships no {resource}")
            return cls.from_path(file, match_servers=match_servers)

    # -- the document ------------------------------------------------------------------------
    def operations(self) -> list[ContractOperation]:
        """Every operation, in document order."""
        out: list[ContractOperation] = []
        for route, item in (self._app.spec / "paths").str_items():
            for method in _HTTP_METHODS:
                if method not in item:
                    continue
                op = item / method
                op_id = (op / "operationId").read_str(None)
                statuses = tuple(str(k) for k in (op / "responses").str_keys())
                out.append(ContractOperation(op_id, method.upper(), str(route), statuses))
        return out

    def operation(self, operation_id: str) -> ContractOperation:
        """The operation of this id; ``KeyError`` naming the known ids when there is none."""
        for op in self.operations():
            if op.operation_id == operation_id:
                return op
        raise KeyError(f"{self.name} has no operation {operation_id!r}")

    # -- validation --------------------------------------------------------------------------
    def _find(self, req: _AdaptedRequest) -> tuple[Any, str | None, str]:
        from openapi_core.templating.paths.finders import APICallPathFinder

        found = APICallPathFinder(self._app.spec).find(req.method, req.full_url)
        op_id: str | None = (found.operation / "operationId").read_str(None)
        route = str(found.path_result.pattern)
        return found, op_id, route

    def _check_request(self, request: httpx.Request | WerkzeugRequest) -> tuple[ValidatedRequest, list[str]]:
        from openapi_core.templating.paths.exceptions import PathError

        req = _adapt_request(request)
        label = f"{req.method.upper()} {req.path}"
        try:
            found, op_id, route = self._find(req)
        except PathError as exc:  # path, operation or server not in the document
            return ValidatedRequest(None, req.method.upper(), label), _describe(exc)
        variables: Mapping[str, str] = found.path_result.variables or {}
        req.parameters.path = {k: unquote(v) for k, v in variables.items()}
        result = self._app.unmarshal_request(req)
        params = result.parameters
        validated = ValidatedRequest(
            operation_id=op_id,
            method=req.method.upper(),
            route=route,
            path_params=dict(params.path),
            query=dict(params.query),
            headers=dict(params.header),
            body=result.body,
        )
        return validated, _flatten(result.errors)

    def _check_response(
        self, request: httpx.Request | WerkzeugRequest, response: httpx.Response | WerkzeugResponse
    ) -> tuple[ValidatedResponse, list[str]]:
        from openapi_core.templating.paths.exceptions import PathError

        req = _adapt_request(request)
        resp = _adapt_response(response)
        try:
            _, op_id, _ = self._find(req)
        except PathError as exc:
            return ValidatedResponse(None, resp.status_code), _describe(exc)
        result = self._app.unmarshal_response(req, resp)
        validated = ValidatedResponse(op_id, resp.status_code, result.data, dict(result.headers))
        return validated, _flatten(result.errors)

    def validate_request(self, request: httpx.Request | WerkzeugRequest) -> ValidatedRequest:
        """Check method, path, path/query/header parameters, security and body.

        Raises :class:`ContractViolation` listing every problem; returns the typed values.
        """
        validated, errors = self._check_request(request)
        if errors:
            raise ContractViolation(self._summary("request", validated.method, _path_of(request)), errors)
        return validated

    def validate_response(
        self, request: httpx.Request | WerkzeugRequest, response: httpx.Response | WerkzeugResponse
    ) -> ValidatedResponse:
        """Check a response (status documented, headers, body) for the request it answers."""
        validated, errors = self._check_response(request, response)
        if errors:
            method = request.method.upper()
            what = f"response {validated.status_code} to"
            raise ContractViolation(self._summary(what, method, _path_of(request)), errors)
        return validated

    def assert_all_valid(
        self,
        exchanges: Iterable[tuple[httpx.Request | WerkzeugRequest, httpx.Response | WerkzeugResponse | None]],
        *,
        allow_empty: bool = False,
    ) -> list[tuple[ValidatedRequest, ValidatedResponse | None]]:
        """Validate every (request, response) pair, e.g. ``httpserver.log``.

        One :class:`ContractViolation` lists the problems of every exchange; an empty log
        fails too unless ``allow_empty`` (a test that sent nothing proves nothing).
        """
        results: list[tuple[ValidatedRequest, ValidatedResponse | None]] = []
        problems: list[str] = []
        count = 0
        for count, (request, response) in enumerate(exchanges, start=1):
            where = f"exchange {count}: {request.method.upper()} {_path_of(request)}"
            vreq, errors = self._check_request(request)
            problems.extend(f"{where}: request: {e.strip()}" for e in errors)
            vresp: ValidatedResponse | None = None
            if response is not None:
                vresp, errors = self._check_response(request, response)
                status = vresp.status_code
                problems.extend(f"{where}: response {status}: {e.strip()}" for e in errors)
            results.append((vreq, vresp))
        if count == 0 and not allow_empty:
            raise ContractViolation(f"no exchanges to check against {self.name}", ["the log is empty"])
        if problems:
            raise ContractViolation(f"{len(problems)} contract violation(s) against {self.name}", problems)
        return results

    def _summary(self, what: str, method: str, path: str) -> str:
        return f"{what} {method} {path} breaks {self.name}:"


def _path_only_servers(servers: Any) -> list[dict[str, Any]]:
    """``servers`` reduced to their paths, so any scheme and host match."""
    if not isinstance(servers, list) or not servers:
        return [{"url": "/"}]
    out: list[dict[str, Any]] = []
    for server in servers:
        if not isinstance(server, Mapping):
            continue
        url = str(server.get("url", "/"))
        path = urlsplit(url).path if "://" in url else url
        entry: dict[str, Any] = {"url": path or "/"}
        if "variables" in server and "{" in entry["url"]:
            entry["variables"] = server["variables"]
        out.append(entry)
    return out or [{"url": "/"}]
