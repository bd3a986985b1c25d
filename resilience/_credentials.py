"""Credentials and auth types given as text, checked before anything is built or sent.

A credential with a stray space or newline (copied from a file, a shell, a web page) or a
control character cannot travel in a header: httpx would refuse it at send time, deep in a
call, as a protocol error. These checks refuse it where it is given, naming the parameter (or
the environment variable) and never quoting the value.
"""

from __future__ import annotations

import difflib
import re
from typing import Final, Literal

from ._errors import ConfigurationError

__all__ = ["AUTH_TYPES", "AuthType"]

#: How a string credential is sent: ``X-API-Key``, ``Authorization: Bearer`` or ``Basic``.
AuthType = Literal["api_key", "bearer", "basic"]
AUTH_TYPES: Final[tuple[AuthType, ...]] = ("api_key", "bearer", "basic")
_ALIASES: Final = {"apikey": "api_key", "x_api_key": "api_key"}
#: C0 controls, DEL and C1 controls.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def auth_type_named(value: object, name: str = "auth_type") -> AuthType:
    """``value`` as one of :data:`AUTH_TYPES` (any case, ``-`` for ``_``, ``apikey`` allowed);
    anything else is a :class:`ConfigurationError` suggesting the nearest name."""
    expected = "expected 'api_key', 'bearer' or 'basic'"
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string ({expected}), got {type(value).__name__}")
    kind = value.strip().lower().replace("-", "_")
    kind = _ALIASES.get(kind, kind)
    if kind in AUTH_TYPES:
        return kind
    squeezed = {t.replace("_", ""): t for t in AUTH_TYPES}
    near = difflib.get_close_matches(kind.replace("_", ""), list(squeezed), n=1, cutoff=0.5)
    hint = f" (did you mean {squeezed[near[0]]!r}?)" if near else ""
    raise ConfigurationError(f"unknown {name} {value[:40]!r}{hint}; {expected}")


def check_text_secret(name: str, value: object, *, header: bool) -> str:
    """A credential that is a non-empty string without surrounding whitespace or a control
    character; ``header``: sent as is in a header, so ASCII too. The value is never quoted."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string")
    if _CONTROL.search(value):
        raise ConfigurationError(
            f"{name} contains a control character (a newline, tab, NUL...), most likely by mistake (value not shown)"
        )
    if value != value.strip():
        raise ConfigurationError(
            f"{name} has leading or trailing whitespace, most likely copied with it: remove it (value not shown)"
        )
    if header and not value.isascii():
        raise ConfigurationError(
            f"{name} contains a non-ASCII character: an HTTP header cannot carry it as is (value not shown)"
        )
    return value


def check_credential(name: str, credential: object, auth_type: AuthType) -> tuple[str, str] | str:
    """The credential as its scheme takes it: ``(user, password)`` for basic, else the string.
    Refuses what could not be sent (see :func:`check_text_secret`), naming ``name``."""
    if auth_type == "basic":
        if isinstance(credential, tuple):
            if len(credential) != 2 or not all(isinstance(part, str) for part in credential):
                raise ConfigurationError(f"{name}: basic credentials are (username, password)")
            user, password = credential
            for part, value in (("username", user), ("password", password)):
                if _CONTROL.search(value):
                    raise ConfigurationError(f"{name}: the {part} contains a control character (value not shown)")
            return user, password
        if isinstance(credential, str) and ":" in credential:
            check_text_secret(name, credential, header=False)
            user, _, password = credential.partition(":")
            return user, password
        raise ConfigurationError(f"{name}: basic credentials are (username, password) or 'username:password'")
    if not isinstance(credential, str):
        raise ConfigurationError(f"{name}: a {auth_type!r} credential must be a string")
    return check_text_secret(name, credential, header=True)
