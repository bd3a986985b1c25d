"""Client configuration as one frozen, validated value, and where the environment fills it.

:class:`ClientConfig` is the single list of client options: codegen writes the generated
clients' constructors from its fields (so ``help(FinOpsClient)`` shows every option with its
default and there is no second list to keep in sync). ``from_env`` fills the options the
caller left as ``None`` from ``<PREFIX>_API_URL``, ``<PREFIX>_API_KEY``, ``<PREFIX>_AUTH_TYPE``,
``<PREFIX>_DRY_RUN`` and ``<PREFIX>_SHARED_STATE``; a bad value names the variable it came from.
"""

from __future__ import annotations

import math
import os
import re
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs
import httpx

from ._body import DEFAULT_MAX_BODY
from ._breaker_config import CircuitBreakerConfig
from ._credentials import AuthType, auth_type_named, check_credential, check_text_secret
from ._errors import ConfigurationError
from ._fleet_store import SharedState, shown_url
from ._metrics_events import MetricsHook
from ._redact import REDACTED, SECRET_KEY_PATTERN, hold_secrets
from ._retry import RetryBudget, RetryPolicy

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "ClientConfig"]

DEFAULT_MAX_RESPONSE_BYTES: Final = DEFAULT_MAX_BODY
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


#: The parts of a URL that may carry a credential: userinfo, query, fragment.
_URL_SECRETS: Final = re.compile(r"^(?:[^:/?#]*:)?//([^/?#]*)@|[?#](.*)", re.S)


def _shown_url(url: str) -> tuple[str, list[str]]:
    """How an error may quote a base URL (userinfo, query and fragment redacted, even when it
    does not parse), and the redacted parts, for scrubbing a parser's message too."""
    hidden: list[str] = []

    def hide(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            hidden.append(match.group(1))
            return match.group(0)[: match.start(1) - match.start(0)] + REDACTED + "@"
        hidden.append(match.group(2))
        return match.group(0)[0] + REDACTED

    return repr(_URL_SECRETS.sub(hide, url)), [h for h in hidden if h]


def check_base_url(url: str, name: str = "base URL") -> httpx.URL:
    """An absolute http(s) URL with a host, no credentials, query or fragment; an error names
    it ``name`` and quotes the URL with those parts redacted."""
    if not isinstance(url, str):  # httpx's TypeError would quote it whole
        raise ConfigurationError(f"{name} must be a string, got {type(url).__name__}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        shown, hidden = _shown_url(url)
        reason = str(exc)
        for part in sorted(hidden, key=len, reverse=True):
            reason = reason.replace(part, REDACTED)
        raise ConfigurationError(f"invalid {name} {shown}: {reason}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL with a host, got {_shown_url(url)[0]}")
    if parsed.userinfo:
        raise ConfigurationError(f"put credentials in api_key/auth, not in the {name} (got {_shown_url(url)[0]})")
    if parsed.query or parsed.fragment:
        raise ConfigurationError(f"{name} must not carry a query or fragment, got {_shown_url(url)[0]}")
    return parsed


def to_timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    """Seconds (or an ``httpx.Timeout``) as an ``httpx.Timeout``; refuses what is not positive."""
    if isinstance(value, httpx.Timeout):
        return value
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"timeout must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"timeout must be a positive number of seconds, got {value!r}")
    return httpx.Timeout(float(value))


def env_flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def _valid_url(_: object, __: attrs.Attribute[str], value: str) -> None:
    check_base_url(value)


def _valid_timeout(_: object, __: attrs.Attribute[Any], value: float | httpx.Timeout) -> None:
    to_timeout(value)


def _positive_int(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{attribute.name} must be a positive int, got {value!r}")


def _instance(kind: type | tuple[type, ...]) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not isinstance(value, kind):
            raise ConfigurationError(f"{attribute.name} has the wrong type: {type(value).__name__}")

    return check


def _shared_state(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is None or isinstance(value, SharedState):
        return
    if not isinstance(value, str) or not value.startswith(("redis://", "rediss://", "unix://")):
        shown = shown_url(value) if isinstance(value, str) else type(value).__name__
        raise ConfigurationError(f"shared_state must be a redis:// URL or a SharedState, got {shown}")


def _hooks(value: Iterable[MetricsHook]) -> tuple[MetricsHook, ...]:
    return tuple(value)


def _headers(value: Mapping[str, str] | None) -> Mapping[str, str]:
    """The extra headers; a value no HTTP header can carry as is (surrounding whitespace, a
    control or non-ASCII character) is refused here, naming the header, not at send time."""
    headers = dict(value or {})
    for name, text in headers.items():
        if isinstance(text, str) and text:
            check_text_secret(f"headers[{name!r}]", text, header=True)
    return headers


def _auth_type(value: AuthType | None) -> AuthType | None:
    return None if value is None else auth_type_named(value)


def _doc(text: str, src: str | None = None, arg_type: str | None = None) -> dict[str, str]:
    """Field metadata for codegen: the option's help line; where the default has no literal
    form, the expression that writes it; where the constructor takes a wider type than the
    field keeps, that type."""
    meta = {"doc": text}
    if src is not None:
        meta["src"] = src
    if arg_type is not None:
        meta["arg_type"] = arg_type
    return meta


@attrs.frozen(slots=True, kw_only=True)
class ClientConfig:
    """Every option of a client, validated once; build a changed copy with :func:`attrs.evolve`."""

    base_url: str = attrs.field(
        default="http://localhost",
        validator=_valid_url,
        metadata=_doc("the API's root URL; None: from the environment"),
    )
    api_key: str | None = attrs.field(
        default=None, repr=False, metadata=_doc("the credential, sent per auth_type; None: from the environment")
    )
    auth_type: AuthType | None = attrs.field(
        default=None,
        converter=_auth_type,
        metadata=_doc(
            "how api_key is sent: 'api_key' (X-API-Key header), 'bearer' or 'basic'; None: from the environment, "
            "else 'api_key'"
        ),
    )
    auth: httpx.Auth | None = attrs.field(
        default=None, repr=False, validator=_instance(httpx.Auth), metadata=_doc("an auth object instead of api_key")
    )
    timeout: float | httpx.Timeout = attrs.field(
        default=30.0, validator=_valid_timeout, metadata=_doc("seconds per network phase (or an httpx.Timeout)")
    )
    max_retries: int | None = attrs.field(
        default=None, metadata=_doc("retries after the first attempt; None: the retry policy's (3)")
    )
    retry_policy: RetryPolicy | None = attrs.field(
        default=None, validator=_instance(RetryPolicy), metadata=_doc("backoff, deadline and statuses")
    )
    retry_budget: RetryBudget | bool | None = attrs.field(
        default=True, metadata=_doc("True: 20% of requests plus 10/s; False/None: unbounded")
    )
    circuit_breaker_config: CircuitBreakerConfig | None = attrs.field(
        default=None, validator=_instance(CircuitBreakerConfig), metadata=_doc("thresholds; None: the defaults")
    )
    enable_circuit_breaker: bool = attrs.field(default=True, metadata=_doc("False: no breaker at all"))
    enable_performance_monitoring: bool = attrs.field(default=True, metadata=_doc("False: no metrics"))
    metrics_hooks: tuple[MetricsHook, ...] = attrs.field(
        default=(),
        converter=_hooks,
        metadata=_doc("exporters told of every request, retry and transition", arg_type="Iterable[MetricsHook]"),
    )
    log_every_requests: int | None = attrs.field(default=None, metadata=_doc("log a metrics line every N requests"))
    log_every_seconds: float | None = attrs.field(default=None, metadata=_doc("log a metrics line every T seconds"))
    dry_run: bool | None = attrs.field(
        default=None, metadata=_doc("validate and describe writes, send none; None: from the environment")
    )
    allow_insecure_http: bool = attrs.field(default=False, metadata=_doc("allow credentials over plain http"))
    verify: bool | str | ssl.SSLContext = attrs.field(default=True, metadata=_doc("TLS verification"))
    headers: Mapping[str, str] | None = attrs.field(
        default=None, converter=_headers, repr=False, metadata=_doc("extra headers on every request")
    )
    validate_responses: bool = attrs.field(default=True, metadata=_doc("check 2xx bodies against the contract"))
    max_response_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESPONSE_BYTES,
        validator=_positive_int,
        metadata=_doc("largest response body read, in bytes", "DEFAULT_MAX_RESPONSE_BYTES"),
    )
    batch_concurrency: int = attrs.field(
        default=4, validator=_positive_int, metadata=_doc("chunks in flight at once (async client)")
    )
    clock: Callable[[], float] = attrs.field(
        default=time.monotonic, repr=False, metadata=_doc("monotonic seconds, for tests", "time.monotonic")
    )
    wall_clock: Callable[[], float] = attrs.field(
        default=time.time, repr=False, metadata=_doc("epoch seconds, for Retry-After dates", "time.time")
    )
    shared_state: str | SharedState | None = attrs.field(
        default=None,
        repr=False,
        validator=_shared_state,
        metadata=_doc("fleet mode: breaker and retry budget shared through 'redis://HOST:PORT/DB' (or a SharedState)"),
    )

    def __attrs_post_init__(self) -> None:
        if self.auth is not None and self.api_key is not None:
            raise ConfigurationError("pass either auth or api_key, not both")
        if self.api_key is not None:
            check_credential("api_key", self.api_key, self.auth_type or "api_key")
        hold_secrets(self)

    def _secret_values(self) -> list[str]:
        """The credentials this config holds (scrubbed from SDK messages and logs): the API
        key, and the values of headers whose names mark them as secret."""
        values = [v for k, v in (self.headers or {}).items() if SECRET_KEY_PATTERN.search(k) and isinstance(v, str)]
        if self.api_key is not None:
            values.append(self.api_key)
        if isinstance(self.shared_state, str) and (password := httpx.URL(self.shared_state).password):
            values.append(password)
        return values

    @classmethod
    def from_env(
        cls,
        prefix: str,
        *,
        default_base_url: str = "http://localhost",
        environ: Mapping[str, str] | None = None,
        **given: Any,
    ) -> ClientConfig:
        """A config from ``given``, where the options left ``None`` that the environment
        can hold come from ``<prefix>_API_URL``, ``<prefix>_API_KEY``, ``<prefix>_AUTH_TYPE`` and
        ``<prefix>_DRY_RUN``. A bad value read there is refused naming its variable."""
        env = os.environ if environ is None else environ
        options = dict(given)
        if options.get("base_url") is None:
            raw = env.get(f"{prefix}_API_URL")
            if raw:
                check_base_url(raw, f"{prefix}_API_URL")
            options["base_url"] = raw or default_base_url
        if options.get("auth_type") is None:
            raw = env.get(f"{prefix}_AUTH_TYPE")
            options["auth_type"] = auth_type_named(raw, f"{prefix}_AUTH_TYPE") if raw else "api_key"
        if options.get("api_key") is None and options.get("auth") is None:
            raw = env.get(f"{prefix}_API_KEY") or None
            if raw is not None:
                check_credential(f"{prefix}_API_KEY", raw, auth_type_named(options["auth_type"]))
            options["api_key"] = raw
        if options.get("dry_run") is None:
            raw = env.get(f"{prefix}_DRY_RUN")
            options["dry_run"] = env_flag(f"{prefix}_DRY_RUN", raw) if raw is not None else False
        if options.get("shared_state") is None and env.get(f"{prefix}_SHARED_STATE"):
            options["shared_state"] = env[f"{prefix}_SHARED_STATE"]
        return cls(**options)

    def retry_policy_in_force(self) -> RetryPolicy:
        """The retry policy, with ``max_retries`` applied when it was given."""
        policy = self.retry_policy or RetryPolicy()
        if self.max_retries is not None and self.max_retries != policy.max_retries:
            policy = attrs.evolve(policy, max_retries=self.max_retries)
        return policy

    def retry_budget_in_force(self) -> RetryBudget | None:
        """The retry budget: a fresh default one for ``True``, none for ``False``/``None``, else the one given."""
        if self.retry_budget is True:
            return RetryBudget(clock=self.clock)
        if self.retry_budget is False or self.retry_budget is None:
            return None
        return self.retry_budget
