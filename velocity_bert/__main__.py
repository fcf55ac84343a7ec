"""`python -m velocity_bert ...`: the `velocity-bert` command, where its script is not on PATH."""

import sys

from .cli import main

sys.exit(main())
