"""``python -m helpers.services up|status|down`` (the same as ``python -m helpers services ...``)."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
