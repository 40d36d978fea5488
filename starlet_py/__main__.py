"""``python -m starlet_py``: the same as the ``starlet-py`` command."""

import sys

from .cli import main

sys.exit(main())
