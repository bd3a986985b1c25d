"""What the sync and async clients share: configuration, the contract checks, and the
procedures of a call, a call with a body and a health check, each written once.

The generated facade hands every method's :class:`~resilience.Operation` and generated
request kwargs to these; :mod:`resilience._sync` and :mod:`resilience._async` only drive.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import attrs
import httpx

from ._auth import SwitchableAuth, auth_from_credential, successor
from ._batch import BatchResult, DryRun, ProgressCallback
from ._batch_run import BatchRun, plan_for, prepare_items
from ._breaker import CircuitBreaker
from ._breaker_config import CircuitBreakerConfig
from ._breaker_registry import BreakerRegistry, CircuitBreakerControl
from ._call import CallContext, call_flow, call_record_of
from ._config import ClientConfig, check_base_url, to_timeout
from ._contract_checks import ContractChecks
from ._credentials import AuthType
from ._direct import build_request
from ._errors import APIError, CircuitOpenError
from ._errors_client import ClientClosedError, RedirectLoopError
from ._fleet import FleetStats, FleetSync, shared_state_from
from ._health import HealthReport, health_flow
from ._layers import GateTransport, RequestRefused
from ._metrics import MetricsRecorder, MetricsSnapshot
from ._operation import EXT_OPERATION, Operation, operation_of
from ._outbox_replay import AsyncClientOutbox, ClientOutbox, open_outbox, record_run
from ._response import build, credential_note, decode, status_error, transport_error
from ._retry import RetryPolicy
from ._stack import ResilienceStack, build_http_client
from ._steps import Flow
from ._validation import Validator

__all__: list[str] = []

logger = logging.getLogger("resilience.client")
T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class _Core(ContractChecks):
    """Configuration and every decision that does no I/O."""

    _ENV_PREFIX: ClassVar[str] = "API"
    _DEFAULT_BASE_URL: ClassVar[str] = "http://localhost"
    #: Set by the generated subclass: the User-Agent of every request (a ``headers=`` one wins).
    _USER_AGENT: ClassVar[str | None] = None
    #: Set by the generated subclass: the health operation, and the listing (the cheapest
    #: authenticated read) that checks the credential, or stands in for a missing (404) health one.
    _HEALTH_OPERATION: ClassVar[Operation | None] = None
    _HEALTH_FALLBACK: ClassVar[tuple[Operation, Mapping[str, Any]] | None] = None
    #: The generated package's "argument not given" sentinel: such arguments are not checked.
    _UNSET: ClassVar[object] = None
    #: Set by the generated subclass: every operation by id (what an outbox replay looks up).
    _OPERATIONS: ClassVar[Mapping[str, Operation]] = {}
    _OUTBOX_CONTROL: ClassVar[type[ClientOutbox | AsyncClientOutbox]] = ClientOutbox

    def __init__(self, config: ClientConfig) -> None:
        self._config = config
        store = open_outbox(config.outbox, config.wall_clock)  # a bad outbox: refused first
        owned = store is not config.outbox
        self._outbox = None if store is None else self._OUTBOX_CONTROL(self, store, owned=owned)
        self._base_url = check_base_url(config.base_url)
        self._home_origin = f"{self._base_url.scheme}://{self._base_url.netloc.decode('ascii')}"
        self._plain_http = self._base_url.scheme == "http"
        auth = config.auth
        if auth is None and config.api_key is not None:
            allow, kind = config.allow_insecure_http, config.auth_type or "api_key"
            auth = auth_from_credential(config.api_key, kind, allow_insecure_http=allow, name="api_key")
        self._timeout = to_timeout(config.timeout)
        metrics = None
        if config.enable_performance_monitoring:
            metrics = MetricsRecorder(
                hooks=config.metrics_hooks,
                log_every_requests=config.log_every_requests,
                log_every_seconds=config.log_every_seconds,
                clock=config.clock,
            )
        fleet = None
        if config.shared_state is not None:
            fleet = FleetSync(shared_state_from(config.shared_state), home_origin=self._home_origin, clock=config.clock)
        breakers = None
        if config.enable_circuit_breaker:
            listeners = [metrics.breaker_transition] if metrics is not None else []
            cb_config = config.circuit_breaker_config or CircuitBreakerConfig()
            factory = fleet.breaker_factory(cb_config, config.clock, listeners) if fleet is not None else None
            breakers = BreakerRegistry(cb_config, clock=config.clock, listeners=listeners, factory=factory)
            if fleet is not None:  # made now, so the first sync reads its fleet state before any call
                breakers.get(breakers.key_for(self._home_origin, None))
        policy = config.retry_policy_in_force()
        budget = config.retry_budget_in_force()
        if fleet is not None and budget is not None:
            budget = fleet.budget(budget)
        self._stack = ResilienceStack(
            auth=SwitchableAuth(auth), policy=policy, budget=budget, breakers=breakers, metrics=metrics, fleet=fleet
        )
        refusal = breakers.refusal if breakers is not None else None  # asked before each retry's wait
        self._ctx = CallContext(policy, budget, metrics, config.clock, config.wall_clock, refusal=refusal)
        if metrics is not None:
            # the hooks that read the breakers', budget's, fleet's and outbox's state
            metrics.bind(self._stack, self._home_origin, self._outbox)
        self._lock = threading.Lock()
        self._validators: dict[tuple[str, str], Validator] = {}
        self._urls: dict[str, httpx.URL] = {}
        self._home_breakers: dict[str | None, CircuitBreaker] = {}
        #: For a 401 or 403: what credential the request carried, or how to configure one.
        self._credential_note = functools.partial(
            credential_note, auth=self._stack.auth, env_prefix=self._ENV_PREFIX, home=self._home_origin
        )

    # -- configuration -----------------------------------------------------------------------
    @property
    def config(self) -> ClientConfig:
        """The options this client was built with (frozen; credentials not in its repr)."""
        return self._config

    @property
    def base_url(self) -> str:
        """The API's root URL, as configured."""
        return str(self._base_url)

    @property
    def dry_run(self) -> bool:
        """Whether writes are validated and described instead of sent."""
        return bool(self._config.dry_run)

    @property
    def auth(self) -> httpx.Auth | None:
        """The auth object the next call uses (``None``: no credential)."""
        return self._stack.auth.current

    @property
    def circuit_breaker(self) -> CircuitBreakerControl | None:
        """``None`` when the client was built with ``enable_circuit_breaker=False``."""
        reg = self._stack.breakers
        if reg is None:
            return None
        return CircuitBreakerControl(reg, reg.key_for(self._home_origin, None))

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force (``max_retries`` applied over the policy's own)."""
        return self._stack.policy

    @property
    def metrics(self) -> MetricsRecorder | None:
        """The metrics recorder, ``None`` when performance monitoring is off."""
        return self._stack.metrics

    def set_authentication(
        self, credential: str | tuple[str, str] | httpx.Auth | None, auth_type: AuthType | None = None
    ) -> None:
        """Switch credentials; the next call uses them, calls in flight keep theirs.

        ``credential`` is an auth object, ``None`` (no auth), or a string sent per ``auth_type``:
        "api_key", "bearer" or "basic" (then ``(user, password)`` or ``"user:password"``).
        Without ``auth_type`` the scheme in use is kept (an API key stays in its header), else
        the client's ``auth_type``. A credential that could not be sent is refused here.
        """
        if credential is not None and not isinstance(credential, httpx.Auth):
            allow, kind = self._config.allow_insecure_http, self._config.auth_type
            credential = successor(self._stack.auth.current, credential, auth_type, kind, allow_insecure_http=allow)
        self._stack.auth.set(credential)

    def set_timeout(self, timeout: float | httpx.Timeout) -> None:
        """New timeout for the next requests (seconds, or an ``httpx.Timeout``)."""
        value = to_timeout(timeout)
        with self._lock:
            self._timeout = value
            self._http.timeout = value

    _http: httpx.Client | httpx.AsyncClient
    _gate: GateTransport  # the outermost layer: closed with the client

    def get_performance_metrics(self) -> dict[str, Any]:
        """The old client's dict: ``global_metrics``, ``endpoint_metrics`` by route template,
        ``circuit_breaker``."""
        breaker = self.circuit_breaker
        cb: dict[str, object] = breaker.snapshot() if breaker is not None else {"state": "disabled"}
        m = self._stack.metrics
        if m is None:
            return {"enabled": False, "global_metrics": {}, "endpoint_metrics": {}, "circuit_breaker": cb}
        snap = m.snapshot()
        return {
            "enabled": True,
            "global_metrics": snap.global_metrics.as_dict(),
            "endpoint_metrics": {k: v.as_dict() for k, v in sorted(snap.operations.items())},
            "circuit_breaker": cb,
        }

    def get_metrics_snapshot(self) -> MetricsSnapshot | None:
        """An immutable copy of every metric now, ``None`` when monitoring is off."""
        m = self._stack.metrics
        if m is None:
            return None
        fleet = self._stack.fleet
        snap = m.snapshot(None if self._outbox is None else self._outbox.stats())
        return snap if fleet is None else attrs.evolve(snap, fleet=fleet.stats().as_dict())

    def fleet_stats(self) -> FleetStats | None:
        """Fleet mode's figures (round trips, fallbacks, state source); ``None`` without ``shared_state``."""
        fleet = self._stack.fleet
        return fleet.stats() if fleet is not None else None

    def reset_performance_metrics(self) -> None:
        """Zero every counter and histogram (nothing happens when monitoring is off)."""
        if self._stack.metrics is not None:
            self._stack.metrics.reset()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, auth={self.auth!r}, dry_run={self.dry_run})"

    # -- requests ----------------------------------------------------------------------------
    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of a relative path, cached: httpx would parse and merge it again
        on every request (measured ~24 µs a call, more than all our layers together)."""
        url = self._urls.get(path)
        if url is None:
            base = self._http.base_url
            rel = httpx.URL(path)
            if not rel.is_relative_url:
                return rel
            url = base.copy_with(raw_path=base.raw_path + rel.raw_path.lstrip(b"/"))
            if len(self._urls) < 1024:  # paths with ids in them are not worth keeping forever
                self._urls[path] = url
        return url

    def _build_request(self, op: Operation, kwargs: Mapping[str, Any]) -> httpx.Request:
        kw = dict(kwargs)
        kw.pop("method", None)
        kw.pop("extensions", None)
        url = self._url(kw.pop("url"))
        return build_request(self._http, op.method, url, kw, {EXT_OPERATION: op})

    def _check_open(self, op: Operation) -> None:
        """A closed client refuses every call: :class:`ClientClosedError`, nothing built or sent."""
        if self._gate.closed:
            raise ClientClosedError(operation=op.operation_id)

    def _refuse(self, op: Operation, trace_parent: Any = None) -> None:
        """A closed client, or an open circuit, refuses before the request is even built (no
        socket, no auth flow): :class:`ClientClosedError`, or :class:`CircuitOpenError`
        counted in the metrics like any other outcome (and traced under ``trace_parent``)."""
        self._check_open(op)
        registry = self._stack.breakers
        if registry is None:
            return
        op_id = op.operation_id
        breaker = self._home_breakers.get(op_id)
        if breaker is None:
            breaker = self._home_breakers[op_id] = registry.get(registry.key_for(self._home_origin, op_id))
        try:
            breaker.check(op_id)
        except CircuitOpenError as refused:
            m = self._stack.metrics
            if m is not None:
                m.refused(op, refused, trace_parent)
            raise

    def _refusal(self, op: Operation, trace_parent: Any = None) -> CircuitOpenError | None:
        """:meth:`_refuse` as a value, for a batch chunk (a closed client raises)."""
        try:
            self._refuse(op, trace_parent)
        except CircuitOpenError as err:
            return err
        return None

    def _exchange(self, request: httpx.Request) -> Flow[httpx.Response]:
        """One logical call whose answer is a 2xx, or a typed error."""
        if self._plain_http:  # refused before anything is sent or counted (a pinned auth does not ask again)
            op = operation_of(request)
            if op is None or op.requires_auth:  # an operation needing no credential is sent without one
                self._stack.auth.check_transport(request)
        local: APIError | None = None
        try:
            response = yield from call_flow(request, self._ctx)
        except httpx.HTTPError as exc:
            typed = self._typed(exc, request)
            if not isinstance(exc, httpx.LocalProtocolError):
                raise typed from exc
            local = typed
        if local is not None:  # raised outside the except: httpx's message quotes the header value
            raise local
        if not 200 <= response.status_code < 300:
            raise status_error(response, self._config.wall_clock, self._credential_note)
        return response

    def _typed(self, exc: httpx.HTTPError, request: httpx.Request) -> APIError:
        """The typed error of an httpx exception that ended a logical call."""
        if isinstance(exc, RequestRefused):  # by the gate, before anything was sent
            call_record_of(request).maybe_delivered |= exc.home_may_have_acted
            return exc.error
        if isinstance(exc, httpx.TooManyRedirects):
            op, rid = operation_of(request), request.headers.get("x-request-id")
            text = f"redirect loop: more than {self._http.max_redirects} redirects"
            return RedirectLoopError(text, operation=op.operation_id if op is not None else None, request_id=rid)
        return transport_error(exc, request)

    def _request_for(self, op: Operation, kwargs: Mapping[str, Any]) -> httpx.Request:
        """The request of a call, unless the open circuit refuses it first (no request built)."""
        self._refuse(op)
        return self._build_request(op, kwargs)

    def _body_request(self, op: Operation, kwargs: Mapping[str, Any], body: Any) -> httpx.Request | DryRun:
        """A non-batch call with a JSON body: validated, then its request (or, in dry run, the
        description of what would have been sent)."""
        self._check_open(op)
        if op.body is not None:
            self._check(self._validator(op, "body", op.body, request=True), body)
        if self.dry_run and op.method != "GET":
            return self._dry_run_report(op, 1, [(0, 1)], body)
        return self._request_for(op, self._with_body(kwargs, self._encode(body), op, None))

    def _answer(self, op: Operation, response: httpx.Response, parse: Callable[[Any], T]) -> T:
        """The model of a 2xx answer (``parse(None)`` for an answer without a body)."""
        if not op.success_has_body:
            return parse(None)
        data = decode(response, op, self._config.max_response_bytes, self._response_validator(op))
        return build(data, parse, response, op)

    def _start_batch(
        self,
        op: Operation,
        items: Sequence[Any],
        make_kwargs: Callable[[], dict[str, Any]],
        parse: Callable[[Any], Any],
        chunk_size: int | None,
        progress: ProgressCallback | None,
        wait_for_recovery: float | None,
        resume: BatchResult | None,
    ) -> BatchRun | BatchResult:
        """Validate every item and plan the chunks: a run for the driver, or (dry run) the
        result that says what would have been sent."""
        self._check_open(op)  # a closed client starts no batch (one in flight ends interrupted)
        # With an outbox every body is encoded before the first is sent: that is the JSON check.
        encoded_later = self._outbox is not None and not self.dry_run and resume is None
        data = prepare_items(self, op, items, encoded_later=encoded_later)
        plan = plan_for(op, len(data), chunk_size, resume)
        if self.dry_run:
            report = self._dry_run_report(op, len(data), [(c.start, c.stop) for c in plan], data[:3])
            return BatchResult(operation=op.operation_id, total=len(data), chunks=len(plan), dry_run=report)
        # Refused here, before the batch exists, as prepare_items would have (no span started).
        bodies = self._encode_slices(data, [(c.start, c.stop) for c in plan]) if encoded_later else None
        run = BatchRun(
            self,
            op,
            data,
            plan,
            resume,
            make_kwargs=make_kwargs,
            parse=parse,
            progress=progress,
            wait_for_recovery=wait_for_recovery,
        )
        if self._outbox is not None:  # recorded before the first chunk is sent (or refused: full)
            try:
                record_run(run, self._outbox.store, self._outbox.owner, bodies)
            except BaseException as exc:
                run.abandon(exc)
                raise
        return run

    def _health_flow(self) -> Flow[HealthReport]:
        return health_flow(self)

    # -- the stack -----------------------------------------------------------------------------
    def _install(self, http_class: type[H], inner: httpx.BaseTransport | httpx.AsyncBaseTransport) -> H:
        """The httpx client over the per-attempt layers and ``inner`` (``resilience/_stack.py``)."""
        http, self._gate = build_http_client(
            http_class,
            inner,
            self._stack,
            home_origin=self._home_origin,
            base_url=self._base_url,
            timeout=self._timeout,
            headers=self._config.headers or {},
            user_agent=self._USER_AGENT,
            max_body=self._config.max_response_bytes,
        )
        self._transport = self._gate
        if self._stack.fleet is not None:
            self._stack.fleet.attach("sync" if http_class is httpx.Client else "async")
        return http
