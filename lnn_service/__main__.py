"""``python -m lnn_service serve ...``: the same commands as ``firebreak lnn``, without the bot."""

import sys

from lnn_service.cli import run

sys.exit(run(sys.argv[1:]))
