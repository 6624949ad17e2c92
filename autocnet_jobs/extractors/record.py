"""What a per-image job returns: the record's fields (:data:`RECORD_KEYS`, their one definition: the task, the
store, the queries and the exports take them from here) and :func:`plain`, which makes any value of it JSON-safe.

The record travels over a Pyro5 serpent channel to the tracker and then to the database writer, so it holds only
plain JSON-safe Python values (no numpy scalars, no bytes, no NaN).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

# What the label says about the acquisition (times as UTC ISO-8601 text ending in Z) and the viewing angles at the
# image centre (degrees); ``resolution`` is metres per pixel at the centre.
ACQUISITION_KEYS = ("spacecraft", "instrument", "product_id", "start_time", "stop_time", "target", "serial_number")
VIEWING_KEYS = ("incidence", "emission", "phase")
RECORD_KEYS = ("path", "name", "checksum", "size", "mtime", "driver", "width", "height", "bands", "body",
               "iau_code", "crs_wkt", "footprint_wkb", "footprint_source", "footprint_note", "camera",
               "keypoints_path", "n_keypoints", "extractor", "extractor_params", "note",
               # acquisition (extractors.acquisition): label values, None where the label does not say
               *ACQUISITION_KEYS, *VIEWING_KEYS, "resolution")


def plain(value: Any, *, strict: bool = False) -> Any:
    """``value`` as JSON-safe Python: numpy scalars/arrays to int/float/list, tuples (and sets) to lists, keys to
    str, NaN/inf to None, bytes to hex and any other object to its ``str()``. ``strict`` leaves sets, bytes and
    other objects as they are, for a JSON check to refuse (a camera plug-in's answer)."""
    if isinstance(value, dict):
        return {str(k): plain(v, strict=strict) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or (isinstance(value, set) and not strict):
        return [plain(v, strict=strict) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), strict=strict)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if strict or value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
