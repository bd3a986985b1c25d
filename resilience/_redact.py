"""Redaction for log lines: headers by allowlist, JSON keys by pattern, bodies truncated."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["REDACTED", "SAFE_HEADERS", "SECRET_KEY_PATTERN", "redact_body", "redact_headers"]

REDACTED: Final = "[redacted]"

#: Headers shown in logs as they are; every other header is shown as ``[redacted]``.
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
        "location",
    }
)

SECRET_KEY_PATTERN: Final = re.compile(r"password|secret|token|api[-_]?key|authorization|credential", re.I)
MAX_BODY_CHARS: Final = 512


def redact_headers(headers: Iterable[tuple[str, str]], safe: frozenset[str] = SAFE_HEADERS) -> dict[str, str]:
    return {k: (v if k.lower() in safe else REDACTED) for k, v in headers}


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
    """A JSON body with secret-looking keys redacted, truncated to ``limit`` characters.

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
    text = json.dumps(_scrub(data), separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) > limit:
        return text[:limit] + f"...<{size} bytes>"
    return text
