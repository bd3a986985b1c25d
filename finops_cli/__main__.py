"""``python -m finops_cli``: the ``finops`` command."""

import sys

from finops_cli import main

sys.exit(main())
