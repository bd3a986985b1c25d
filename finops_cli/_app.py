"""The ``finops`` group: global options, the client they build, errors as exit statuses, ``health``."""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import attrs
import click
from rich.console import Console
from rich.table import Table

from resilience import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InsecureCredentialsFileWarning,
    PermissionDeniedError,
    RequestValidationError,
)

from ._exit import EXIT_HELP, ExitStatus

__all__ = ["Settings", "app_group", "fail", "pass_settings", "stderr", "stdout"]

F = TypeVar("F", bound=Callable[..., Any])


def stdout() -> Console:
    """Where results go (a table on a terminal, data when piped)."""
    return Console(soft_wrap=True)


def stderr() -> Console:
    """Where progress, warnings and errors go."""
    return Console(stderr=True, soft_wrap=True)


def fail(status: ExitStatus, message: str) -> click.exceptions.Exit:
    """Print ``message`` on stderr and leave with ``status``."""
    stderr().print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return click.exceptions.Exit(int(status))


@attrs.define
class Settings:
    """The global options, and the client built from them on first use."""

    profile: str | None = None
    url: str | None = None
    timeout: float | None = None
    _client: Any = None

    def client(self, *, dry_run: bool | None = None, outbox: str | None = None) -> Any:
        """The FinOps client, from the options, then the environment, then the profile;
        ``outbox``: its path (else FINOPS_OUTBOX, else the profile's, else none)."""
        if self._client is None:
            from finops_api_client import FinOpsClient

            with _errors_as_exit():
                self._client = FinOpsClient(
                    base_url=self.url,
                    timeout=self.timeout,
                    profile=self.profile,
                    dry_run=dry_run or None,
                    outbox=outbox or None,
                )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


pass_settings = click.make_pass_decorator(Settings)


@contextmanager
def _errors_as_exit() -> Iterator[None]:
    """SDK errors as a message on stderr and their exit status (never a traceback)."""
    try:
        yield
    except ConfigurationError as exc:
        raise fail(ExitStatus.CONFIG, str(exc)) from exc
    except (AuthenticationError, PermissionDeniedError) as exc:
        raise fail(ExitStatus.CONFIG, f"{exc} (check the profile's credential: finops configure)") from exc
    except RequestValidationError as exc:
        raise fail(ExitStatus.BAD_INPUT, str(exc)) from exc
    except APIError as exc:
        raise fail(ExitStatus.FAILED, str(exc)) from exc


def guarded(func: F) -> F:
    """A command whose SDK errors become exit statuses."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _errors_as_exit():
            return func(*args, **kwargs)

    return run  # type: ignore[return-value]


def _version() -> str:
    try:
        return version("finops-sdk")
    except PackageNotFoundError:  # a source tree never installed
        return "0+unknown"


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    stderr().print(f"[yellow]warning:[/] {message}", markup=True, highlight=False)


def app_group(commands: Callable[[click.Group], None]) -> click.Group:
    """The ``finops`` group, its contract commands added by ``commands``."""

    @click.group(
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
        epilog=EXIT_HELP,
    )
    @click.option("--profile", metavar="NAME", help="Named profile (else FINOPS_PROFILE, else default).")
    @click.option("--url", metavar="URL", help="The API's root URL (else FINOPS_API_URL, else the profile's).")
    @click.option(
        "--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS", help="Per network phase."
    )
    @click.option("--debug", is_flag=True, help="The SDK's logs (secrets redacted) on stderr.")
    @click.version_option(_version(), "--version", prog_name="finops")
    @click.pass_context
    def finops(ctx: click.Context, profile: str | None, url: str | None, timeout: float | None, debug: bool) -> None:
        """The FinOps backend from a terminal: check it, push files to it, list and approve.

        Settings come from the options, then FINOPS_* variables, then the profile
        (`finops configure` writes one), then the defaults. No option takes a secret.
        """
        warnings.showwarning = _show_warning
        warnings.simplefilter("default", InsecureCredentialsFileWarning)
        if debug:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger("resilience").addHandler(handler)
            logging.getLogger("resilience").setLevel(logging.DEBUG)
        settings = Settings(profile=profile, url=url, timeout=timeout)
        ctx.obj = settings
        ctx.call_on_close(settings.close)

    @finops.command()
    @pass_settings
    @guarded
    def health(settings: Settings) -> None:
        """Is the backend up, and does it accept the credential? Exit 0 only when both hold."""
        report = settings.client().health_check()
        table = Table(show_header=False, box=None)
        table.add_row("backend", settings.client().base_url)
        table.add_row("healthy", "[green]yes[/]" if report.healthy else f"[red]no[/] ({report.reason})")
        table.add_row("status", str(report.status or "-"))
        table.add_row("credentials", "accepted" if report.healthy else _credential_word(report.reason))
        table.add_row("circuit breaker", str(report.circuit_breaker or "-"))
        table.add_row("latency", f"{report.latency * 1000:.0f} ms" if report.latency is not None else "-")
        if report.error:
            table.add_row("error", str(report.error))
        stdout().print(table)
        if not report.healthy:
            bad_key = report.reason in ("unauthorized", "forbidden", "misconfigured")
            raise click.exceptions.Exit(int(ExitStatus.CONFIG if bad_key else ExitStatus.FAILED))

    commands(finops)
    return finops


def _credential_word(reason: str) -> str:
    return {"unauthorized": "refused (401)", "forbidden": "refused (403)"}.get(reason, "not checked")
