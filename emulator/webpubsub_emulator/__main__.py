"""``python -m webpubsub_emulator``: the same as the ``webpubsub-emulator`` command."""

import sys

from .cli import main

sys.exit(main())
