"""Where the camera test data live: the level-1 cubes and the ISD documents beside the sample images.

``../shared/data/cameras`` and ``../shared/data/isds`` by default (siblings of the sample image folder), or
``$AUTOCNET_TEST_CAMERAS`` / ``$AUTOCNET_TEST_ISDS``. Never copied into the repository, never written to.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .conftest import DATA_DIR

CAMERA_DIR = Path(os.environ.get("AUTOCNET_TEST_CAMERAS", DATA_DIR.parent / "cameras")).resolve()
ISD_DIR = Path(os.environ.get("AUTOCNET_TEST_ISDS", DATA_DIR.parent / "isds")).resolve()
USGSCSM_ISDS = ISD_DIR / "usgscsm"      # DOI-USGS/usgscsm tests/data at commit ba32d13b
ALE_ISDS = ISD_DIR / "ale"              # DOI-USGS/ale tests/pytests/data/isds at commit c5b078f8


def usgscsm_isd(name: str) -> dict:
    """One of usgscsm's test ISDs, parsed (``name`` without ``.json``)."""
    return json.loads((USGSCSM_ISDS / f"{name}.json").read_text())
