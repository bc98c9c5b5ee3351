"""``python -m launcher``: see ``launcher.run``."""

from __future__ import annotations

import asyncio
import os
import sys

from launcher.options import parse
from launcher.run import supervise


def main() -> int:
    """Run the launcher until Ctrl-C or SIGTERM; its exit status."""
    options = parse()
    return asyncio.run(supervise(options, dict(os.environ)))


if __name__ == "__main__":
    sys.exit(main())
