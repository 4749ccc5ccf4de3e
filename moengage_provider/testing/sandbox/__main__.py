"""``python -m moengage_provider.testing.sandbox``: see :mod:`.cli`."""

import sys

from moengage_provider.testing.sandbox.cli import main

sys.exit(main())
