"""The built-in defaults (``defaults.yml``), the one home both the config loader and the extractor rules read.

(``config`` validates the extractor section with ``extractors.features``' rules, which need the defaults: reading
them here rather than from ``config`` keeps that an edge one way, not a cycle.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULTS_PATH = Path(__file__).with_name("defaults.yml")


def defaults() -> dict[str, Any]:
    """A fresh copy of the built-in defaults."""
    with open(DEFAULTS_PATH) as f:
        return yaml.safe_load(f)
