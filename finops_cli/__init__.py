"""The ``finops`` command line: profiles, health, push, list and every other operation of the contract."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from ._app import app_group
from ._commands import add_contract_commands
from ._configure import add_configure
from ._exit import ExitStatus
from ._outbox import add_outbox

__all__ = ["ExitStatus", "build", "main"]


def build() -> click.Group:
    """The ``finops`` group with every command: its own and the contract's."""

    def commands(group: click.Group) -> None:
        add_configure(group)
        add_contract_commands(group)
        add_outbox(group)

    return app_group(commands)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``finops`` and return its exit status (see :class:`ExitStatus`)."""
    group = build()
    try:
        status = group.main(args=list(argv) if argv is not None else None, prog_name="finops", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:  # `finops list ... | head`: the reader went away, which is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitStatus.OK)
    return status if isinstance(status, int) else int(ExitStatus.OK)  # click returns an Exit's status


if __name__ == "__main__":
    sys.exit(main())
