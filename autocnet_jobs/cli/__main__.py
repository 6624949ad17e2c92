"""``python -m autocnet_jobs.cli``: the same as ``autocnet-jobs``."""
import sys

from . import main

sys.exit(main())
