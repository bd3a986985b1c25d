"""The demo's one printer: whole lines, log records included, below a progress line it keeps redrawn."""

from __future__ import annotations

import logging
import shutil
import threading
from typing import TextIO

from resilience import BatchProgress, BatchResult, ProgressCallback

CLEAR_LINE = "\r\x1b[2K"  # back to column 0, blank the line
BAR = 12


class Console:
    """Every line the demo shows goes through here, log lines too (see :class:`ConsoleHandler`).

    On a terminal the running batch's progress is one line redrawn in place: a line printed
    meanwhile first blanks it, then the progress line is drawn again below, so neither breaks
    the other. Elsewhere (a pipe, a file, CI) progress comes as whole lines at each quarter."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, width: int | None = None) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._width = width
        self._live = ""  # the progress line on screen now (terminal only)
        self._lock = threading.RLock()  # the backend's threads log too

    def line(self, text: str = "") -> None:
        with self._lock:
            if self._live:
                self._stream.write(CLEAR_LINE)
            self._stream.write(text + "\n")
            if self._live:
                self._stream.write(self._live)
            self._stream.flush()

    def progress_printer(self, label: str) -> ProgressCallback:
        """A ``progress=`` callback drawing one batched call's progress, named ``label``."""

        def show(p: BatchProgress) -> None:
            text = progress_text(label, p)
            final = p.done >= p.total
            with self._lock:
                if self._tty:
                    self._live = "" if final else self._fit(text)
                    self._stream.write(CLEAR_LINE + (text + "\n" if final else self._live))
                elif final or p.chunks_done % max(1, p.chunks_total // 4) == 0:
                    self._stream.write(text + "\n")
                self._stream.flush()

        return show

    def _fit(self, text: str) -> str:
        # Longer than the terminal, the line would wrap and CR would redraw only its last row.
        width = self._width or shutil.get_terminal_size().columns
        return text[: max(width - 1, 20)]


class ConsoleHandler(logging.Handler):
    """Log records printed by the console, so they never land in the middle of the progress line.

    The breaker's own transition records are left out below ERROR: the demo's metrics hook prints
    each transition already, and printing both would show every transition twice."""

    def __init__(self, console: Console, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.console = console

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "resilience.breaker" and record.levelno < logging.ERROR:
            return False
        return super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.line(self.format(record))
        except Exception:  # noqa: BLE001 - logging's contract: report through handleError, never raise
            self.handleError(record)


def progress_text(label: str, p: BatchProgress) -> str:
    """One line; what matters most comes first, as a narrow terminal shows only the start."""
    filled = BAR * p.done // p.total if p.total else BAR
    return (
        f"   {label:<10} [{'#' * filled}{'.' * (BAR - filled)}] {p.done:>6,}/{p.total:,} items  "
        f"accepted {p.accepted:,}  failed {p.failed:,}  chunk {p.chunks_done}/{p.chunks_total}"
    )


def outcomes(result: BatchResult) -> str:
    """Where every item of a batched call ended up, as one line."""
    return (
        f"accepted {result.accepted_count:,}  rejected {len(result.rejected):,}  "
        f"not delivered {len(result.not_delivered_indexes()):,}  "
        f"outcome unknown {len(result.outcome_unknown_indexes()):,}  "
        f"({result.chunks} chunk{'' if result.chunks == 1 else 's'})"
    )
