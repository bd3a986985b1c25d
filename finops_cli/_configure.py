"""``finops configure``: write a profile, the secret read with hidden input into a 0600 file."""

from __future__ import annotations

import configparser
import io
import os
from pathlib import Path

import click

from resilience import AUTH_TYPES, ProfileError, load_profile, profile_files

from ._app import Settings, fail, pass_settings, stdout
from ._exit import ExitStatus

__all__ = ["add_configure"]

PREFIX = "FINOPS"
APP = "finops"


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    if path.exists():
        parser.read(path, encoding="utf-8")
    return parser


def _write(path: Path, parser: configparser.ConfigParser, mode: int) -> None:
    """Replace ``path`` with the parser's text, the new file created with ``mode`` (never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = io.StringIO()
    parser.write(text)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text.getvalue())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def add_configure(group: click.Group) -> None:
    """Add ``configure`` to ``group``."""

    @group.command()
    @pass_settings
    def configure(settings: Settings) -> None:
        """Write a profile (--profile NAME, else default): URL, auth type and credential.

        The credential is read with hidden input, never from an option, and kept in the
        credentials file, created readable by you alone (0600). Other profiles are kept.
        """
        name = settings.profile or "default"
        files = profile_files(PREFIX, APP)
        try:
            current = load_profile(name, prefix=PREFIX, app_name=APP)
        except ProfileError:
            current = None  # a new profile (or one being repaired)
        now = dict(current.settings) if current is not None else {}
        url = click.prompt("API URL", default=str(now.get("url", settings.url or "http://localhost:5002")))
        auth = click.prompt("Auth type", type=click.Choice(AUTH_TYPES), default=str(now.get("auth_type", "api_key")))
        credentials: dict[str, str] = {}
        if auth == "basic":
            credentials["user"] = click.prompt("User")
            credentials["password"] = click.prompt("Password", hide_input=True)
        else:
            credentials["token" if auth == "bearer" else "api_key"] = click.prompt(
                "Token" if auth == "bearer" else "API key", hide_input=True
            )
        config = _read(files.config)
        section = "default" if name == "default" else f"profile {name}"
        if not config.has_section(section):
            config.add_section(section)
        config[section]["url"] = url
        config[section]["auth_type"] = auth
        creds = _read(files.credentials)
        if creds.has_section(name):
            creds.remove_section(name)
        creds.add_section(name)
        for key, value in credentials.items():
            creds[name][key] = value
        try:
            _write(files.config, config, 0o644)
            _write(files.credentials, creds, 0o600)
        except OSError as exc:
            raise fail(ExitStatus.CONFIG, f"cannot write the profile: {exc.strerror} ({exc.filename})") from exc
        stdout().print(f"profile {name!r} written: {files.config} and {files.credentials} (0600)", highlight=False)
