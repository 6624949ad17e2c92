"""Per-image functions for the benchmarks. Shipped to workers by value (``cloudpickle.register_pickle_by_value``),
like a site's plug-in, so workers need not import ``bench/``."""
from __future__ import annotations

import os


def noop_record(path: str, settings: dict) -> dict:
    """A valid record without reading the file (one ``stat``): orchestration only, no extraction."""
    st = os.stat(path)
    return {"path": os.path.abspath(path), "name": os.path.basename(path), "checksum": "0" * 64,
            "size": st.st_size, "mtime": st.st_mtime, "driver": None, "width": None, "height": None,
            "bands": None, "body": None, "iau_code": None, "crs_wkt": None, "footprint_wkb": None,
            "footprint_source": None, "footprint_note": "no-op extractor", "camera": {"type": None, "reason": "no-op"},
            "keypoints_path": None, "n_keypoints": 0, "extractor": "noop", "extractor_params": {}, "note": None}


def noop_many(paths: list[str], settings: dict) -> list[dict]:
    return [noop_record(p, settings) for p in paths]
