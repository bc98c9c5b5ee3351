"""``python -m lnn_service serve ...`` until ``firebreak lnn`` is wired in."""

import sys

from lnn_service.cli import run

sys.exit(run(sys.argv[1:]))
