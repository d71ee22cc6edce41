"""``python -m fastwait``: the same as the ``fastwait`` console script."""

import sys

from fastwait.cli import main

sys.exit(main())
