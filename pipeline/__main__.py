"""`python -m pipeline`: see pipeline/cli/main.py."""

from __future__ import annotations

import sys

from pipeline.cli.main import main

sys.exit(main())
