"""Client configuration as one frozen, validated value, and where the environment fills it.

:class:`ClientConfig` is the single list of client options: codegen writes the generated
clients' constructors from its fields (so ``help(FinOpsClient)`` shows every option with its
default and there is no second list to keep in sync). ``from_env`` fills the options the
caller left as ``None`` from the environment (``<PREFIX>_API_URL``, ``_API_KEY``, ``_AUTH_TYPE``,
``_DRY_RUN``, ``_TIMEOUT``, ``_MAX_RETRIES``,
``_OUTBOX``, ``_SHARED_STATE``), then from a named profile; a bad value names the
variable, or the file and line, it came from.
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
from ._outbox import Outbox
from ._profiles import load_profile, read_count, read_flag, read_seconds
from ._redact import REDACTED, SECRET_KEY_PATTERN, hold_secrets
from ._retry import RetryBudget, RetryPolicy

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "DEFAULT_TIMEOUT", "ClientConfig"]

DEFAULT_MAX_RESPONSE_BYTES: Final = DEFAULT_MAX_BODY
DEFAULT_TIMEOUT: Final = 30.0


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
    flag = read_flag(raw) if raw.strip() else False  # set but empty: off
    if flag is None:
        raise ConfigurationError(f"{name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")
    return flag


def _env_url(name: str, raw: str) -> str:
    check_base_url(raw, name)
    return raw


def _env_timeout(name: str, raw: str) -> float:
    seconds = read_seconds(raw)
    if seconds is None:
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {raw[:40]!r}")
    return seconds


def _env_retries(name: str, raw: str) -> int:
    count = read_count(raw)
    if count is None:
        raise ConfigurationError(f"{name} must be a whole number, 0 or more, got {raw[:40]!r}")
    return count


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
        default=DEFAULT_TIMEOUT,
        validator=_valid_timeout,
        metadata=_doc(
            "seconds per network phase (or an httpx.Timeout); None: from the environment or profile, else 30",
            "None",
            "float | httpx.Timeout | None",
        ),
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
    profile: str | None = attrs.field(
        default=None,
        validator=_instance(str),
        metadata=_doc("the named profile (config and credentials files); None: from the environment, else default"),
    )

    outbox: str | os.PathLike[str] | Outbox | None = attrs.field(
        default=None,
        validator=_instance((str, os.PathLike, Outbox)),
        metadata=_doc(
            "a durable outbox: an SQLite file's path or an Outbox; batch calls are recorded before they are "
            "sent, client.outbox.replay() re-sends what was not settled; None: from the environment, else none",
            arg_type="str | os.PathLike[str] | Outbox | None",
        ),
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
        app_name: str | None = None,
        **given: Any,
    ) -> ClientConfig:
        """A config from ``given``; each option left ``None`` is resolved in one order:
        **explicit argument, then environment, then profile, then default**.

        Environment: ``<prefix>_API_URL``, ``_API_KEY``, ``_AUTH_TYPE``, ``_DRY_RUN``,
        ``_TIMEOUT`` and ``_MAX_RETRIES``. Profile: ``given["profile"]``, else
        ``<prefix>_PROFILE``, else ``default`` (if the files have it), read from the config
        and credentials files of :func:`~resilience.load_profile` (``app_name``, default
        ``prefix.lower()``, names the user's config folder): ``url``, ``auth_type``,
        ``timeout``, ``retries``, ``dry_run`` (and ``outbox`` / ``shared_state``, passed on
        when the config has such options), and a credential. A credential counts as one
        option: an explicit ``api_key`` or ``auth`` wins, then ``<prefix>_API_KEY``, then the
        profile's (whose kind, ``token`` or ``user``/``password``, sets the auth type unless
        one was given or set). A bad value is refused naming its variable or file and line.
        """
        env = os.environ if environ is None else environ
        options = dict(given)
        profile = load_profile(options.get("profile"), prefix=prefix, app_name=app_name or prefix.lower(), environ=env)
        conf: Mapping[str, object] = profile.settings if profile is not None else {}
        if profile is not None:
            options["profile"] = profile.name

        where = profile.where if profile is not None else {}

        def pick(option: str, variable: str, key: str, parse: Callable[[str, str], object], default: object) -> None:
            if options.get(option) is not None:
                return
            raw = env.get(f"{prefix}_{variable}")
            if raw:
                options[option] = parse(f"{prefix}_{variable}", raw)
            elif key in conf:
                value = conf[key]
                options[option] = parse(f"{key} ({where[key]})", value) if isinstance(value, str) else value
            else:
                options[option] = default

        pick("base_url", "API_URL", "url", _env_url, default_base_url)
        credential = profile.credential if profile is not None else None
        inferred = credential[0] if credential is not None else "api_key"
        pick("auth_type", "AUTH_TYPE", "auth_type", lambda name, raw: auth_type_named(raw, name), None)
        explicit_type = options["auth_type"]
        if options.get("api_key") is None and options.get("auth") is None:
            raw = env.get(f"{prefix}_API_KEY") or None
            if raw is not None:
                check_credential(f"{prefix}_API_KEY", raw, auth_type_named(explicit_type or "api_key"))
                options["api_key"] = raw
            elif credential is not None:
                options["auth_type"] = explicit_type or inferred
                name = next((where[k] for k in ("api_key", "token", "password") if k in where), "the profile")
                check_credential(name, credential[1], auth_type_named(options["auth_type"]))
                options["api_key"] = credential[1]
        if options.get("auth_type") is None:
            options["auth_type"] = "api_key"
        pick("dry_run", "DRY_RUN", "dry_run", env_flag, False)
        pick("timeout", "TIMEOUT", "timeout", _env_timeout, DEFAULT_TIMEOUT)
        pick("max_retries", "MAX_RETRIES", "retries", _env_retries, None)
        fields = attrs.fields_dict(cls)
        for key in ("outbox", "shared_state"):  # options other modules add; passed on when present
            if key in fields and options.get(key) is None:
                raw = env.get(f"{prefix}_{key.upper()}")
                if raw or key in conf:
                    options[key] = raw or conf[key]
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
