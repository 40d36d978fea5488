"""``python -m starlet_py``: the same as the ``starlet-py`` command."""

from .cli import main

raise SystemExit(main())
