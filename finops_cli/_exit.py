"""The exit statuses of ``finops``, one per outcome a script can act on."""

from __future__ import annotations

import enum

__all__ = ["EXIT_HELP", "ExitStatus"]


class ExitStatus(enum.IntEnum):
    """What ``finops`` exits with."""

    #: Everything worked: every item accepted, the backend healthy, the call answered.
    OK = 0
    #: The call failed (the backend refused it or could not be reached); ``health``: not healthy.
    FAILED = 1
    #: A command line Click cannot parse (an unknown option, a missing argument).
    USAGE = 2
    #: ``push``: every item was settled, but the server rejected some.
    REJECTED = 3
    #: ``push``: some items were not delivered or their outcome is unknown (run it again).
    UNDELIVERED = 4
    #: The input was refused before anything was sent (a bad file, a bad record, a bad value).
    BAD_INPUT = 5
    #: Configuration or credentials: a bad profile or setting, or the backend refused the key.
    CONFIG = 6
    #: Interrupted (Ctrl-C); what was settled is printed first.
    INTERRUPTED = 130


EXIT_HELP = """\b
Exit statuses:
  0    all well (push: every item accepted)
  1    the call failed, or the backend is unhealthy
  2    usage error
  3    push: some items rejected by the server; outbox replay: some rejected or dead-lettered
  4    push: some items not delivered or of unknown outcome (run it again);
       outbox replay: some still pending (run it again)
  5    bad input: nothing was sent
  6    configuration or credentials (a bad profile or setting, a refused key, no outbox)
  130  interrupted (Ctrl-C); what was settled is printed first"""
