"""Named profiles in an INI config file and a credentials file, kept the way the AWS CLI keeps them.

The config file holds ``[default]`` and ``[profile NAME]`` sections (url, auth type, timeout,
retries, dry run, outbox, shared state); the credentials file holds ``[NAME]`` sections (an API
key, a token, or a user and password). Both live in the user's config folder (platformdirs)
unless ``<PREFIX>_CONFIG_FILE`` / ``<PREFIX>_SHARED_CREDENTIALS_FILE`` name others. Generic: the
prefix and the app name are parameters. Every error names the file and the line, and never
quotes a value read from the credentials file.
"""

from __future__ import annotations

import configparser
import difflib
import math
import os
import re
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import attrs

from ._errors import ConfigurationError

__all__ = [
    "CONFIG_KEYS",
    "CREDENTIAL_KEYS",
    "InsecureCredentialsFileWarning",
    "Profile",
    "ProfileError",
    "ProfileFiles",
    "load_profile",
    "profile_files",
]

#: What a profile's section of the config file may hold.
CONFIG_KEYS: Final = ("url", "auth_type", "timeout", "retries", "dry_run", "outbox", "shared_state")
#: What a profile's section of the credentials file may hold.
CREDENTIAL_KEYS: Final = ("api_key", "token", "user", "password")
DEFAULT_PROFILE: Final = "default"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
_SECTION: Final = re.compile(r"^\s*\[(?P<name>[^\]]*)\]")
_KEY: Final = re.compile(r"^(?P<key>[^\s=:#;\[][^=:]*?)\s*[=:]")


class ProfileError(ConfigurationError):
    """A profile that cannot be used: missing, or a file that is malformed or holds an unknown
    key or a bad value. The message names the file and the line, never a secret."""


class InsecureCredentialsFileWarning(UserWarning):
    """The credentials file can be read by other users of the machine (as ssh warns of a key)."""


@attrs.frozen(slots=True)
class ProfileFiles:
    """Where the profiles are read from (and ``configure`` writes them)."""

    config: Path
    credentials: Path


@attrs.frozen(slots=True)
class Profile:
    """One named profile: its settings, and its credential as ``(auth_type, credential)``.

    ``settings`` holds the config file's keys, checked and typed (``url`` str, ``auth_type``
    str, ``timeout`` float, ``retries`` int, ``dry_run`` bool, ``outbox`` and ``shared_state``
    str); ``where`` maps each key to the ``file:line`` it was read from.
    """

    name: str
    settings: Mapping[str, object]
    credential: tuple[str, str] | None = attrs.field(default=None, repr=False)
    where: Mapping[str, str] = attrs.field(factory=dict, repr=False)


def profile_files(prefix: str, app_name: str, environ: Mapping[str, str] | None = None) -> ProfileFiles:
    """The two files: ``<PREFIX>_CONFIG_FILE`` and ``<PREFIX>_SHARED_CREDENTIALS_FILE`` when set,
    else ``config`` and ``credentials`` in the user's config folder for ``app_name``."""
    import platformdirs  # only when profiles are looked for

    env = os.environ if environ is None else environ
    folder = Path(platformdirs.user_config_dir(app_name, appauthor=False))
    config = env.get(f"{prefix}_CONFIG_FILE") or str(folder / "config")
    credentials = env.get(f"{prefix}_SHARED_CREDENTIALS_FILE") or str(folder / "credentials")
    return ProfileFiles(Path(config).expanduser(), Path(credentials).expanduser())


def _near(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _read(path: Path) -> tuple[configparser.ConfigParser, dict[tuple[str, str], int]] | None:
    """The parsed file and the line of every ``(section, key)`` (and ``(section, "")``), or
    ``None`` when it does not exist. A malformed file is a :class:`ProfileError` naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot be read: {type(exc).__name__}") from exc
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        if line is None and isinstance(exc, configparser.ParsingError) and exc.errors:
            line = exc.errors[0][0]
        what = {
            configparser.MissingSectionHeaderError: "a setting before any [section] header",
            configparser.DuplicateSectionError: "a section given twice",
            configparser.DuplicateOptionError: "a key given twice in one section",
        }.get(type(exc), "not a '[section]' header nor a 'key = value' line")
        # the line itself is never quoted: it may hold a secret pasted into the wrong place
        raise ProfileError(f"{path}, line {line or '?'}: {what} (line not shown)") from None
    lines: dict[tuple[str, str], int] = {}
    section = ""
    for number, line_text in enumerate(text.splitlines(), start=1):
        head = _SECTION.match(line_text)
        if head:
            section = head.group("name").strip()
            lines.setdefault((section, ""), number)
            continue
        key = _KEY.match(line_text)
        if key and not line_text[:1].isspace():
            lines.setdefault((section, key.group("key").strip()), number)
    return parser, lines


def _warn_if_readable(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        warnings.warn(
            f"UNPROTECTED CREDENTIALS FILE: permissions {mode:04o} for '{path}' are too open; "
            f"other users can read it (chmod 600 '{path}')",
            InsecureCredentialsFileWarning,
            stacklevel=4,
        )


def read_flag(text: str) -> bool | None:
    """A yes/no setting as written in a file or the environment; ``None``: not one."""
    word = text.strip().lower()
    return True if word in _TRUE else False if word in _FALSE else None


def read_seconds(text: str) -> float | None:
    """A positive, finite number of seconds; ``None``: not one."""
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def read_count(text: str) -> int | None:
    """A whole number, 0 or more; ``None``: not one."""
    return int(text) if text.strip().isdigit() else None


def _flag(value: str, where: str) -> bool:
    flag = read_flag(value)
    if flag is None:
        raise ProfileError(f"{where}: dry_run must be one of true/false/yes/no/on/off/1/0, got {value[:40]!r}")
    return flag


def _setting(key: str, value: str, where: str) -> object:
    """A config file value, typed; a bad one names where it was read."""
    if key == "timeout":
        seconds = read_seconds(value)
        if seconds is None:
            raise ProfileError(f"{where}: timeout must be a positive number of seconds, got {value[:40]!r}")
        return seconds
    if key == "retries":
        count = read_count(value)
        if count is None:
            raise ProfileError(f"{where}: retries must be a whole number, 0 or more, got {value[:40]!r}")
        return count
    if key == "dry_run":
        return _flag(value, where)
    if not value.strip():
        raise ProfileError(f"{where}: {key} is empty")
    return value.strip()


def _config_section(parser: configparser.ConfigParser, name: str) -> str | None:
    wanted = "default" if name == DEFAULT_PROFILE else f"profile {name}"
    for section in parser.sections():
        if " ".join(section.split()) == wanted:
            return section
    return None


def _credential(values: Mapping[str, str], where: Mapping[str, str], path: Path, name: str) -> tuple[str, str] | None:
    given = [k for k in CREDENTIAL_KEYS if k in values]
    if not given:
        return None
    if "user" in given or "password" in given:
        if given != ["user", "password"]:
            raise ProfileError(
                f"{path}, profile {name!r}: give user and password together, and nothing else (values not shown)"
            )
        return "basic", f"{values['user']}:{values['password']}"
    if len(given) > 1:
        raise ProfileError(f"{where[given[1]]}: give one of api_key or token, not both (values not shown)")
    key = given[0]
    return ("bearer" if key == "token" else "api_key"), values[key]


def load_profile(
    name: str | None, *, prefix: str, app_name: str, environ: Mapping[str, str] | None = None
) -> Profile | None:
    """The profile ``name`` (``None``: ``<PREFIX>_PROFILE``, else ``default``) from the two files.

    A profile named explicitly (argument or variable) that neither file holds is a
    :class:`ProfileError` listing those that exist; the implicit ``default`` missing is
    ``None``. An unknown key is refused with a did-you-mean; a credentials file other users can
    read warns (:class:`InsecureCredentialsFileWarning`).
    """
    env = os.environ if environ is None else environ
    chosen = name or env.get(f"{prefix}_PROFILE") or None
    wanted = chosen or DEFAULT_PROFILE
    files = profile_files(prefix, app_name, env)
    config = _read(files.config)
    creds = _read(files.credentials)
    settings: dict[str, object] = {}
    where: dict[str, str] = {}
    found = False
    if config is not None:
        parser, lines = config
        section = _config_section(parser, wanted)
        for other in parser.sections():
            words = other.split()
            if other != "default" and (len(words) != 2 or words[0] != "profile"):
                hint = f" (did you mean '[profile {other}]'?)" if len(words) == 1 else ""
                raise ProfileError(
                    f"{files.config}, line {lines.get((other, ''), '?')}: section [{other}] is neither [default] "
                    f"nor [profile NAME]{hint}"
                )
        if section is not None:
            found = True
            for key, value in parser.items(section):
                at = f"{files.config}, line {lines.get((section, key), '?')}"
                if key in CREDENTIAL_KEYS:
                    raise ProfileError(f"{at}: {key} belongs in the credentials file {files.credentials} (not shown)")
                if key not in CONFIG_KEYS:
                    raise ProfileError(f"{at}: unknown key {key!r}{_near(key, CONFIG_KEYS)}")
                settings[key] = _setting(key, value, at)
                where[key] = at
    credential = None
    if creds is not None:
        parser, lines = creds
        _warn_if_readable(files.credentials)
        if parser.has_section(wanted):
            found = True
            values: dict[str, str] = {}
            for key, value in parser.items(wanted):
                at = f"{files.credentials}, line {lines.get((wanted, key), '?')}"
                if key not in CREDENTIAL_KEYS:
                    hint = _near(key, CREDENTIAL_KEYS) or _near(key, CONFIG_KEYS)
                    raise ProfileError(f"{at}: unknown key {key!r}{hint} (value not shown)")
                if not value.strip():
                    raise ProfileError(f"{at}: {key} is empty")
                values[key], where[key] = value.strip(), at
            credential = _credential(values, where, files.credentials, wanted)
    if not found:
        if chosen is None:
            return None
        known = _known_profiles(config, creds)
        listed = ", ".join(sorted(known)) or "none"
        origin = "given" if name else f"from {prefix}_PROFILE"
        raise ProfileError(
            f"profile {wanted!r} ({origin}) is in neither {files.config} nor {files.credentials}"
            f"{_near(wanted, sorted(known))}; profiles there: {listed}"
        )
    return Profile(wanted, settings, credential, where)


def _known_profiles(
    config: tuple[configparser.ConfigParser, object] | None, creds: tuple[configparser.ConfigParser, object] | None
) -> set[str]:
    known: set[str] = set()
    if config is not None:
        known.update(s.split()[-1] if s != "default" else "default" for s in config[0].sections())
    if creds is not None:
        known.update(creds[0].sections())
    return known
