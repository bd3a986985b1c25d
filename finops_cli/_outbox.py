"""``finops outbox stats|replay|dead-letters|requeue|purge``: the durable outbox from a terminal."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from resilience import ReplayReport
from resilience._redact import scrub_secrets

from ._app import Settings, fail, guarded, pass_settings, stderr, stdout
from ._exit import ExitStatus
from ._output import OUTPUTS, write_items, write_one

__all__ = ["add_outbox"]

F = TypeVar("F", bound=Callable[..., Any])

#: Credentials in a reason that are no live client's (a header or a query echoed by a server).
_SECRETISH: Final = re.compile(r"(?i)(bearer\s+|basic\s+|(?:api[_-]?key|token|secret|password)\s*[=:]\s*)[^\s,;&\"']+")
DEAD_COLUMNS: Final = ["id", "operation", "items", "attempts", "created", "reason"]
NO_OUTBOX: Final = "no outbox configured: give --outbox PATH, or set FINOPS_OUTBOX or the profile's outbox key"


def _safe(reason: str) -> str:
    """A dead letter's reason as printed: live credentials and secret-looking values redacted."""
    return _SECRETISH.sub(lambda m: m.group(1) + "[redacted]", scrub_secrets(reason))


def _path_option(func: F) -> F:
    return click.option(
        "--outbox",
        "path",
        metavar="PATH",
        help="The outbox file (else the group's --outbox, FINOPS_OUTBOX, the profile's outbox).",
    )(func)


def _control(settings: Settings, path: str | None) -> Any:
    """``client.outbox`` of the client built with the outbox ``path`` (or the configured one)."""
    ctx = click.get_current_context()
    chosen = path or (ctx.parent.params.get("path") if ctx.parent is not None else None)
    control = settings.client(outbox=chosen).outbox
    if control is None:
        raise fail(ExitStatus.CONFIG, NO_OUTBOX)
    free = getattr(control.store, "free_orphans", None)  # leases of killed pushes: pending at once
    if free is not None:
        free()
    return control


def _default_output(output: str | None, piped: str) -> str:
    return output or ("table" if sys.stdout.isatty() else piped)


def _ids(ids: tuple[str, ...], every: bool) -> list[str] | None:
    if bool(ids) == every:
        raise click.UsageError("give dead-letter ids or --all (one or the other)")
    return None if every else list(ids)


def _dead_rows(control: Any) -> Iterator[dict[str, Any]]:
    for d in control.dead_letters():
        created = datetime.fromtimestamp(d.created, UTC).isoformat(timespec="seconds")
        yield {
            "id": d.key,
            "operation": d.operation,
            "items": d.items,
            "attempts": d.attempts,
            "created": created,
            "reason": _safe(d.reason),
        }


def _replay_summary(report: ReplayReport) -> None:
    table = Table(title="replay", show_header=True)
    for column in ("outcome", "chunks", "items"):
        table.add_column(column, justify="left" if column == "outcome" else "right")
    table.add_row("accepted", f"{report.chunks_accepted:,}", f"{report.items_accepted:,}")
    table.add_row("rejected", "-", f"{report.items_rejected:,}")
    table.add_row("dead-lettered", f"{report.chunks_dead:,}", f"{report.items_dead:,}")
    table.add_row("still pending", f"{report.chunks_pending:,}", f"{report.items_pending:,}")
    stdout().print(table)


def _replay_with_progress(control: Any) -> ReplayReport:
    """The replay, with a bar on a terminal: items no longer pending, polled from the store."""
    err = stderr()
    if not err.is_terminal:
        report: ReplayReport = control.replay()
        return report
    total = control.stats().pending_items
    done = threading.Event()
    with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), console=err) as progress:
        task = progress.add_task("replay", total=total)

        def poll() -> None:
            while not done.wait(0.2):
                progress.update(task, completed=max(0, total - control.stats().pending_items))

        watcher = threading.Thread(target=poll, name="finops-replay-progress", daemon=True)
        watcher.start()
        try:
            report = control.replay()
        finally:
            done.set()
            watcher.join()
        progress.update(task, completed=max(0, total - report.items_pending))
    return report


def add_outbox(group: click.Group) -> None:
    """Add the ``outbox`` group to ``group``."""

    @group.group("outbox")
    @_path_option
    def outbox(path: str | None) -> None:
        """The durable outbox: what `push --outbox` left pending, replayed; its dead letters.

        The outbox is --outbox PATH (here or on each command), else FINOPS_OUTBOX, else the
        profile's `outbox` key; none configured: exit 6.
        """

    @outbox.command("stats")
    @_path_option
    @click.option("--output", type=click.Choice(["table", "json"]), help="Default: a table on a terminal, else JSON.")
    @pass_settings
    @guarded
    def stats(settings: Settings, path: str | None, output: str | None) -> None:
        """Pending chunks and items, dead letters, bytes stored, age of the oldest pending chunk."""
        control = _control(settings, path)
        s = control.stats()
        data = {
            "outbox": str(settings.client().config.outbox),
            "pending_chunks": s.pending_chunks,
            "pending_items": s.pending_items,
            "dead_letters": s.dead_letters,
            "bytes": s.bytes,
            "oldest_age_seconds": round(s.oldest_age, 3),
        }
        write_one(data, _default_output(output, "json"))

    @outbox.command("dead-letters")
    @_path_option
    @click.option("--output", type=click.Choice(OUTPUTS), help="Default: a table on a terminal, else NDJSON.")
    @pass_settings
    @guarded
    def dead_letters(settings: Settings, path: str | None, output: str | None) -> None:
        """The chunks given up on, oldest first, and why (secrets redacted).

        Reconcile each with the backend, then `requeue` it (sent again by the next replay, under
        its key) or `purge` it.
        """
        control = _control(settings, path)
        write_items(_dead_rows(control), DEAD_COLUMNS, _default_output(output, "ndjson"))

    @outbox.command("requeue")
    @_path_option
    @click.argument("ids", nargs=-1, metavar="[ID]...")
    @click.option("--all", "every", is_flag=True, help="Every dead letter.")
    @pass_settings
    @guarded
    def requeue(settings: Settings, path: str | None, ids: tuple[str, ...], every: bool) -> None:
        """Dead letters (by id, or --all) pending again, attempts reset; the next replay sends them.

        Exit 5 when an id given is not a dead letter (the others are requeued).
        """
        keys = _ids(ids, every)
        count = _control(settings, path).requeue(keys)
        stdout().print(f"requeued {count:,} dead letter(s)", highlight=False)
        _missing(keys, count)

    @outbox.command("purge")
    @_path_option
    @click.argument("ids", nargs=-1, metavar="[ID]...")
    @click.option("--all", "every", is_flag=True, help="Every dead letter.")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask (a terminal is asked to confirm).")
    @pass_settings
    @guarded
    def purge(settings: Settings, path: str | None, ids: tuple[str, ...], every: bool, yes: bool) -> None:
        """Delete dead letters (by id, or --all) for good.

        On a terminal it asks first unless --yes; declined: nothing is deleted, exit 1.
        Exit 5 when an id given is not a dead letter (the others are purged).
        """
        keys = _ids(ids, every)
        control = _control(settings, path)
        if not yes and sys.stdin.isatty():
            what = "every dead letter" if keys is None else f"{len(keys)} dead letter(s)"
            if not click.confirm(f"Delete {what} from {settings.client().config.outbox} for good?", err=True):
                raise fail(ExitStatus.FAILED, "not confirmed: nothing was purged")
        count = control.purge(keys)
        stdout().print(f"purged {count:,} dead letter(s)", highlight=False)
        _missing(keys, count)

    @outbox.command("replay")
    @_path_option
    @pass_settings
    @guarded
    def replay(settings: Settings, path: str | None) -> None:
        """Send every pending chunk once, oldest first, under its original Idempotency-Key.

        A progress bar on a terminal, then a summary. Exit 0: nothing left pending and nothing
        dead-lettered or rejected by this replay; 4: some still pending (run it again);
        3: some dead-lettered or rejected (see dead-letters); 6: no outbox, or the backend
        refuses the credential (checked first: nothing is dead-lettered for it).
        """
        control = _control(settings, path)
        if control.stats().pending_chunks:
            health = settings.client().health_check()
            if health.reason in ("unauthorized", "forbidden", "misconfigured"):
                raise fail(ExitStatus.CONFIG, "the backend refused the credential (check it: finops health)")
        report = _replay_with_progress(control)
        _replay_summary(report)
        if report.chunks_pending:
            raise click.exceptions.Exit(int(ExitStatus.UNDELIVERED))
        if report.chunks_dead or report.items_rejected:
            raise click.exceptions.Exit(int(ExitStatus.REJECTED))


def _missing(keys: list[str] | None, count: int) -> None:
    if keys is not None and count < len(keys):
        raise fail(ExitStatus.BAD_INPUT, f"{len(keys) - count:,} of the ids given are not dead letters")
