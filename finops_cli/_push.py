"""``finops push KIND FILE|-``: validate every record first, then send in chunks, with progress.

Two passes over the input keep memory flat for any number of records: the first validates
every record (reporting each bad one by line and field), the second sends them a window at a
time through the SDK's batch call (chunked, keyed, retried). Standard input is read once and
spooled to a temporary file for the second pass.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final

import attrs
import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from resilience import AuthenticationError, BatchInterruptedError, BatchProgress, BatchResult, Invalid, Operation
from resilience import compile_schema as _compile

from ._app import Settings, fail, guarded, pass_settings, stderr, stdout
from ._exit import ExitStatus
from ._records import DEFAULT_CAP, FORMATS, BadInput, Problem, Source, read_records, sniff

__all__ = ["push_command"]

#: Bad records shown before the rest are only counted.
SHOWN: Final = 20
#: Chunks per SDK call: the records in memory at once are this many chunks' worth.
WINDOW_CHUNKS: Final = 10


@attrs.define
class Tally:
    """Where the records went, over every window."""

    total: int
    accepted: int = 0
    rejected: int = 0
    not_delivered: int = 0
    unknown: int = 0
    rejections: list[tuple[int, str]] = attrs.field(factory=list)
    auth_failures: int = 0

    def add(self, result: BatchResult, lines: list[int]) -> None:
        self.accepted += len(result.accepted)
        self.rejected += len(result.rejected)
        for r in result.rejected:
            if len(self.rejections) < SHOWN:
                self.rejections.append((lines[r.index], r.reason))
        for group, failures in (("nd", result.not_delivered), ("unknown", result.outcome_unknown)):
            for f in failures:
                size = f.stop - f.start
                if group == "nd":
                    self.not_delivered += size
                else:
                    self.unknown += size
                self.auth_failures += size if isinstance(f.error, AuthenticationError) else 0

    @property
    def settled(self) -> int:
        return self.accepted + self.rejected + self.not_delivered + self.unknown


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} items/s" if speed else "- items/s", style="cyan")


@contextlib.contextmanager
def _opened(path: str) -> Iterator[tuple[IO[bytes], IO[bytes] | None]]:
    """The input, and for stdin or a pipe (read once) the spool its bytes are copied to."""
    if path == "-":
        with tempfile.TemporaryFile(prefix="finops-push-") as spool:
            yield sys.stdin.buffer, spool
        return
    try:
        stream = Path(path).open("rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise fail(ExitStatus.BAD_INPUT, f"cannot read {path}: {exc.strerror}") from exc
    with stream:
        if stream.seekable():
            yield stream, None
            return
        with tempfile.TemporaryFile(prefix="finops-push-") as spool:  # a FIFO, <(command): read once
            yield stream, spool


def _validate(source: Source, fmt: str, op: Operation, cap: int) -> int:
    """Pass 1: count the records; every bad one is reported, then nothing is sent."""
    check = _compile(op.item_schema)
    count, bad = 0, 0
    shown: list[Problem] = []
    schema: Mapping[str, Any] = op.item_schema if isinstance(op.item_schema, Mapping) else {}
    for record in read_records(source, fmt, schema, cap):  # type: ignore[arg-type]
        if isinstance(record, Problem):
            problem: Problem | None = record
        else:
            line, value = record
            problem = None
            if not isinstance(value, Mapping):
                problem = Problem(line, "", f"a record must be a JSON object, got {type(value).__name__}")
            else:
                try:
                    check(value, "")
                except Invalid as exc:
                    problem = Problem(line, exc.path, exc.message)
        count += 1
        if problem is not None:
            bad += 1
            if len(shown) < SHOWN:
                shown.append(problem)
    if count == 0:
        raise BadInput(0, "the input holds no records")
    if bad:
        err = stderr()
        for p in shown:
            where = f"line {p.line}" + (f", field {p.field}" if p.field else "")
            err.print(f"{where}: {p.message}", highlight=False, markup=False)
        more = f" ({bad - len(shown):,} more not shown)" if bad > len(shown) else ""
        raise fail(ExitStatus.BAD_INPUT, f"{bad:,} of {count:,} record(s) are bad{more}; nothing was sent")
    return count


def _windows(source: Source, fmt: str, op: Operation, cap: int, size: int) -> Iterator[tuple[list[Any], list[int]]]:
    items: list[Any] = []
    lines: list[int] = []
    schema: Mapping[str, Any] = op.item_schema if isinstance(op.item_schema, Mapping) else {}
    for record in read_records(source, fmt, schema, cap):  # type: ignore[arg-type]
        if isinstance(record, Problem):  # the file changed since it was validated
            raise BadInput(record.line, f"changed while being read: {record.message}")
        items.append(record[1])
        lines.append(record[0])
        if len(items) == size:
            yield items, lines
            items, lines = [], []
    if items:
        yield items, lines


def _summary(tally: Tally, seconds: float, interrupted: bool) -> None:
    table = Table(title="interrupted: what was settled" if interrupted else None, show_header=True)
    table.add_column("outcome")
    table.add_column("items", justify="right")
    table.add_row("accepted", f"{tally.accepted:,}")
    table.add_row("rejected", f"{tally.rejected:,}")
    table.add_row("not delivered", f"{tally.not_delivered:,}")
    table.add_row("outcome unknown", f"{tally.unknown:,}")
    if interrupted:
        table.add_row("not sent", f"{tally.total - tally.settled:,}")
    table.add_row("total", f"{tally.total:,}")
    rate = f"{tally.settled / seconds:,.0f} items/s" if seconds > 0 else "-"
    table.caption = f"{seconds:.1f} s, {rate}"
    stdout().print(table)
    for line, reason in tally.rejections:
        stderr().print(f"rejected: line {line}: {reason}", highlight=False, markup=False)
    if tally.rejected > len(tally.rejections):
        stderr().print(f"rejected: {tally.rejected - len(tally.rejections):,} more not shown", highlight=False)


def push_command(kinds: dict[str, Operation]) -> click.Command:
    """``push`` for the batch operations of the contract, by KIND."""

    @click.command(
        "push",
        epilog=f"KIND: {', '.join(sorted(kinds))}. FILE: a JSON array, NDJSON (one object a line) or CSV "
        "(nested fields as JSON columns).",
    )
    @click.argument("kind", type=click.Choice(sorted(kinds)), metavar="KIND")
    @click.argument("file", metavar="FILE|-")
    @click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="auto", help="Default: by extension or content."
    )
    @click.option("--dry-run", is_flag=True, help="Validate every record; send nothing.")
    @click.option("--max-record-bytes", type=click.IntRange(min=1), default=DEFAULT_CAP, show_default=True)
    @click.option(
        "--outbox",
        metavar="PATH",
        help="Record every record in this outbox file before sending any, so that `finops outbox replay` "
        "finishes a push interrupted or killed (else FINOPS_OUTBOX, else the profile's outbox).",
    )
    @pass_settings
    @guarded
    def push(
        settings: Settings, kind: str, file: str, fmt: str, dry_run: bool, max_record_bytes: int, outbox: str | None
    ) -> None:
        """Push the records of FILE (or - for stdin) as KIND.

        Every record is validated first; if any is bad, each is reported by line and field and
        nothing is sent. Then they go in chunks, with a progress bar on a terminal and a summary.
        Exit 0: all accepted; 3: some rejected; 4: some not delivered or of unknown outcome;
        5: bad input (nothing sent); 130: interrupted (what was settled is printed).

        With an outbox, every record is recorded in it before the first is sent (and held in
        memory at once); what is left pending (interrupted, killed, not delivered) is sent by
        `finops outbox replay`, under the same Idempotency-Keys.
        """
        op = kinds[kind]
        with _opened(file) as (stream, spool):
            source = Source(stream, spool)
            try:
                if not source.peek():
                    raise BadInput(0, "the input is empty: no records")
                chosen = sniff(source, file) if fmt == "auto" else fmt
                count = _validate(source, chosen, op, max_record_bytes)
            except BadInput as exc:
                raise fail(ExitStatus.BAD_INPUT, f"{file}: {exc}; nothing was sent") from exc
            except KeyboardInterrupt as exc:
                raise fail(ExitStatus.INTERRUPTED, "interrupted while validating; nothing was sent") from exc
            client = settings.client(dry_run=dry_run, outbox=outbox)
            size = (op.batch.max_items if op.batch and op.batch.max_items else 500) * WINDOW_CHUNKS
            if client.outbox is not None:  # one call: every chunk recorded before the first is sent
                size = max(count, 1)
            if client.dry_run:
                chunks = -(-count // (op.batch.max_items if op.batch and op.batch.max_items else 500))
                stdout().print(f"dry run: {count:,} valid {kind} record(s), {chunks} chunk(s); nothing was sent")
                return
            if spool is not None:
                spool.seek(0)
                source = Source(spool)
            else:
                stream.seek(0)
                source = Source(stream)
            _send(client, op, kind, source, chosen, count, size, max_record_bytes)

    return push


def _send(client: Any, op: Operation, kind: str, source: Source, fmt: str, count: int, size: int, cap: int) -> None:
    call = getattr(client, op.operation_id)
    tally = Tally(count)
    started = time.monotonic()
    progress = Progress(
        TextColumn(f"pushing {kind}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeRemainingColumn(),
        console=stderr(),
        disable=not stderr().is_terminal,
    )
    interrupted: BaseException | None = None
    with progress:
        task = progress.add_task(kind, total=count)
        offset = 0
        for items, lines in _windows(source, fmt, op, cap, size):

            def tell(p: BatchProgress, base: int = offset) -> None:
                progress.update(task, completed=base + p.done)

            try:
                result = call(items, progress=tell)
            except (KeyboardInterrupt, BatchInterruptedError) as exc:
                partial = getattr(exc, "result", None)
                if partial is not None:
                    tally.add(partial, lines)
                interrupted = exc
                break
            tally.add(result, lines)
            offset += len(items)
            progress.update(task, completed=offset)
            if tally.auth_failures and not tally.accepted:
                break  # the backend refuses the credential: the rest would fare no better
    _summary(tally, time.monotonic() - started, interrupted is not None)
    if client.outbox is not None:
        pending = client.outbox.stats().pending_items
        if pending:
            stderr().print(
                f"{pending:,} item(s) pending in the outbox {client.config.outbox}: finops outbox replay",
                highlight=False,
                markup=False,
            )
    if isinstance(interrupted, KeyboardInterrupt):
        raise click.exceptions.Exit(int(ExitStatus.INTERRUPTED))
    if tally.auth_failures and not tally.accepted:
        raise fail(ExitStatus.CONFIG, "the backend refused the credential (check it: finops health)")
    if tally.not_delivered or tally.unknown or interrupted is not None or tally.settled < tally.total:
        raise click.exceptions.Exit(int(ExitStatus.UNDELIVERED))
    if tally.rejected:
        raise click.exceptions.Exit(int(ExitStatus.REJECTED))
