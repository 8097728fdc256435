"""``python -m sandbox``: the sandbox's command line (see cli.py)."""

import sys

from .cli import main

sys.exit(main())
