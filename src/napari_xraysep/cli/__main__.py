"""``python -m napari_xraysep.cli``: the ``xraysep`` command."""

import sys

from . import main

sys.exit(main())
