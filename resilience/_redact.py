"""Redaction: headers by allowlist, JSON keys by pattern, URLs without query values, live credentials scrubbed.

The credentials in force are known here: every auth scheme and client config registers itself
(held weakly) with :func:`hold_secrets`, and :func:`scrub_secrets` replaces their values
wherever they appear. The SDK's own loggers run every record through that scrub; httpx's
INFO line (``HTTP Request: GET <url> ...``) shows URLs with their query values redacted.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import weakref
from collections.abc import Iterable
from typing import Any, Final, Protocol

import httpx

__all__ = ["REDACTED", "SAFE_HEADERS", "SECRET_KEY_PATTERN", "redact_body", "redact_headers"]

REDACTED: Final = "[redacted]"

#: Headers shown in logs (and in the repr of the client's headers) as they are; every other
#: header is shown as ``[redacted]``. Not ``location``: a signed redirect URL is a credential.
SAFE_HEADERS: Final = frozenset(
    {
        "accept",
        "accept-encoding",
        "content-type",
        "content-length",
        "content-encoding",
        "date",
        "host",
        "idempotency-key",
        "retry-after",
        "server",
        "transfer-encoding",
        "user-agent",
        "x-request-id",
        "connection",
    }
)

#: A JSON key, header name or query parameter that names a secret.
SECRET_KEY_PATTERN: Final = re.compile(
    r"password|passwd|pwd|secret|token|api[-_]?key|private[-_]?key|access[-_]?key|authorization|credential"
    r"|session|cookie|jwt|dsn|signature",
    re.I,
)
MAX_BODY_CHARS: Final = 512
#: A credential shorter than this is not scrubbed from text: it would match everywhere.
MIN_SECRET_CHARS: Final = 4
#: The SDK's loggers (``resilience`` and ``resilience.*``) run their records through :func:`scrub_secrets`.
SDK_LOGGER: Final = "resilience"


def redact_headers(headers: Iterable[tuple[str, str]], safe: frozenset[str] = SAFE_HEADERS) -> dict[str, str]:
    """Headers for a log line: allow-listed names keep their value, every other value is ``[redacted]``."""
    return {k: (v if k.lower() in safe else REDACTED) for k, v in headers}


# -- the live credentials ---------------------------------------------------------------------


class _HoldsSecrets(Protocol):
    def _secret_values(self) -> Iterable[str]: ...


_holders: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_holders_lock = threading.Lock()
#: Bumped when a holder is added or its credential changes; with the number of live holders,
#: the key of the cached list (a holder that dies changes that number).
_generation = 0
_cached: tuple[tuple[int, int], list[str]] = ((-1, -1), [])


def hold_secrets(holder: _HoldsSecrets) -> None:
    """Scrub ``holder``'s credentials from SDK messages and logs for as long as it lives
    (call again when they change)."""
    global _generation
    with _holders_lock:
        _holders[id(holder)] = holder
        _generation += 1
    install_log_filters()  # cheap unless loggers were added: covers any created since import


def live_secrets() -> list[str]:
    """The credentials of every live holder, longest first."""
    global _cached
    key, secrets = _cached
    if key == (_generation, len(_holders)):
        return secrets
    with _holders_lock:
        key = (_generation, len(_holders))
        holders = list(_holders.values())
    found = {s for h in holders for s in h._secret_values() if isinstance(s, str) and len(s) >= MIN_SECRET_CHARS}
    secrets = sorted(found, key=len, reverse=True)
    _cached = (key, secrets)
    return secrets


def _replace(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub_secrets(text: str) -> str:
    """``text`` with every live credential replaced by ``[redacted]``."""
    return _replace(text, live_secrets()) if text else text


# -- bodies and URLs --------------------------------------------------------------------------


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and SECRET_KEY_PATTERN.search(k) else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def redact_body(content: bytes | str | None, limit: int = MAX_BODY_CHARS) -> str:
    """A JSON body with secret-looking keys and live credentials redacted, truncated to
    ``limit`` characters.

    A body that is not JSON is shown only by its size: it could hold anything.
    """
    if not content:
        return ""
    size = len(content)
    # Parse at most a bounded prefix: a huge body is summarised, not decoded.
    if size > 64 * 1024:
        return f"<{size} bytes>"
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return f"<{size} bytes, not JSON>"
    text = scrub_secrets(json.dumps(_scrub(data), separators=(",", ":"), ensure_ascii=False, default=str))
    if len(text) > limit:
        return text[:limit] + f"...<{size} bytes>"
    return text


def redact_url(url: httpx.URL) -> str:
    """``url`` without userinfo or fragment, its query parameters shown by name only."""
    if not (url.query or url.fragment or url.userinfo):
        return str(url)
    shown = str(url.copy_with(query=None, fragment=None, userinfo=b""))
    if url.query:
        shown += "?" + "&".join(f"{name}={REDACTED}" for name, _ in url.params.multi_items())
    return shown


# -- logs and reprs ---------------------------------------------------------------------------


class _ScrubFilter(logging.Filter):
    """Scrubs live credentials from a record's message; with ``urls``, shows its URL
    arguments through :func:`redact_url` first. Runs only for records that are emitted."""

    def __init__(self, *, urls: bool = False) -> None:
        super().__init__()
        self._urls = urls

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if self._urls and isinstance(args, tuple) and any(isinstance(a, httpx.URL) for a in args):
            record.args = tuple(redact_url(a) if isinstance(a, httpx.URL) else a for a in args)
        secrets = live_secrets()
        if secrets:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001  (a malformed record is the handler's to report)
                return True
            clean = _replace(message, secrets)
            if clean != message:
                record.msg, record.args = clean, None
        return True


_SDK_FILTER: Final = _ScrubFilter()
_HTTPX_FILTER: Final = _ScrubFilter(urls=True)
_loggers_seen = -1


def install_log_filters() -> None:
    """Put the scrub on every SDK logger and on httpx's (idempotent; a no-op unless loggers
    were created since the last call)."""
    global _loggers_seen
    known = logging.Logger.manager.loggerDict
    if len(known) == _loggers_seen:
        return
    names = [n for n in list(known) if n == SDK_LOGGER or n.startswith(SDK_LOGGER + ".")]
    for name, flt in [*((n, _SDK_FILTER) for n in names), ("httpx", _HTTPX_FILTER)]:
        logger = logging.getLogger(name)
        if flt not in logger.filters:
            logger.addFilter(flt)
    _loggers_seen = len(known)


class _MaskedHeaders(httpx.Headers):
    """httpx headers whose repr shows only the allowlisted values (httpx masks only
    ``Authorization``)."""

    def __repr__(self) -> str:
        shown = [(k, v if k.lower() in SAFE_HEADERS else REDACTED) for k, v in self.multi_items()]
        as_dict = dict(shown)
        return f"Headers({as_dict if len(as_dict) == len(shown) else shown!r})"


def mask_header_repr(client: httpx.Client | httpx.AsyncClient) -> None:
    """Give ``client.headers`` a repr that hides credential values (what is sent is unchanged)."""
    client._headers = _MaskedHeaders(client.headers)


install_log_filters()
