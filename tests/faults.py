"""Per-image functions for fault injection in tests: real functions that really sleep, raise or exit.

They are shipped to workers by value (``cloudpickle.register_pickle_by_value``), like a site plug-in.
"""
from __future__ import annotations

import os
import time


def tiny_record(path: str, settings: dict) -> dict:
    """A valid record without opening the file: measures orchestration, not extraction."""
    st = os.stat(path)
    return {"path": os.path.abspath(path), "name": os.path.basename(path), "checksum": "0" * 64,
            "size": st.st_size, "mtime": st.st_mtime, "driver": None, "width": None, "height": None,
            "bands": None, "body": None, "iau_code": None, "crs_wkt": None, "footprint_wkb": None,
            "footprint_source": None, "footprint_note": "no-op extractor", "camera": {"type": None, "reason": "no-op"},
            "keypoints_path": None, "n_keypoints": 0, "extractor": "noop", "extractor_params": {}, "note": None}


def always_raise(path: str, settings: dict) -> dict:
    raise RuntimeError(f"injected failure for {os.path.basename(path)}")


def hang_marked(path: str, settings: dict) -> dict:
    """Sleeps far past any test timeout for files whose name contains 'hang', else a no-op record."""
    if "hang" in os.path.basename(path):
        time.sleep(3600)
    return tiny_record(path, settings)


def kill_worker_once(path: str, settings: dict) -> dict:
    """Kills its own worker process the first time it sees a 'die' file (a marker file makes it once)."""
    marker = path + ".died"
    if "die" in os.path.basename(path) and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    return tiny_record(path, settings)


def slow_record(path: str, settings: dict) -> dict:
    """A no-op record after a short sleep, so a run lasts long enough to break something during it."""
    time.sleep(float(os.environ.get("AUTOCNET_TEST_SLOW", "0.05")))
    return tiny_record(path, settings)


def sleepy_record(path: str, settings: dict) -> dict:
    """A no-op record after 1.5 s, so a run of a few dozen images lasts long enough to disturb (a fixed sleep:
    a Slurm worker's environment is fixed when its job is submitted). A file whose name contains 'linger'
    sleeps 120 s the first time (a marker file beside it makes it once): a task surely in flight."""
    marker = path + ".lingered"
    if "linger" in os.path.basename(path) and not os.path.exists(marker):
        open(marker, "w").close()
        time.sleep(120)
    time.sleep(1.5)
    return tiny_record(path, settings)


class Escape(BaseException):
    """Not an ``Exception``: ``run_job`` does not catch it, so the task itself fails and Dask logs it."""


def escape_marked(path: str, settings: dict) -> dict:
    """Raises :class:`Escape` for files whose name contains 'escape' (a task error Dask logs as
    "Compute Failed"), else behaves like :func:`hang_marked`."""
    if "escape" in os.path.basename(path):
        raise Escape(f"escaped from {os.path.basename(path)}")
    return hang_marked(path, settings)


def wait_for_release(path: str, settings: dict) -> dict:
    """A no-op record once a file named 'release' exists beside the image (at most 120 s): holds a run open
    while a test looks at it."""
    gate = os.path.join(os.path.dirname(path), "release")
    deadline = time.monotonic() + 120
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    return tiny_record(path, settings)


def fail_until_ok(path: str, settings: dict) -> dict:
    """Raises until a file '<path>.ok' exists: a fault an operator can fix, for retry tests."""
    if not os.path.exists(path + ".ok"):
        raise RuntimeError(f"{os.path.basename(path)} is not ready yet")
    return tiny_record(path, settings)


def soak(path: str, settings: dict) -> dict:
    """Soak mix by file name: 'raise' always raises, 'hang' hangs on its first attempt only, else a no-op."""
    name = os.path.basename(path)
    if "raise" in name:
        raise ValueError(f"soak failure for {name}")
    if "hang" in name:
        marker = path + ".hung"
        if not os.path.exists(marker):
            with open(marker, "w") as f:  # who hung, for a test that wants to know
                f.write(f"{os.getpid()} {time.time()}")
            time.sleep(3600)
    return tiny_record(path, settings)


def gil_hang_once(path: str, settings: dict) -> dict:
    """For a 'gil' file, the first time: a regular expression that backtracks for ever. The regex engine holds
    the GIL throughout, so the worker's event loop stops too and cannot run ``exit_worker``: the worker must be
    killed from outside. A marker file beside the image makes it once."""
    import re

    marker = path + ".hung"
    if "gil" in os.path.basename(path) and not os.path.exists(marker):
        open(marker, "w").close()
        re.match(r"(a+)+$", "a" * 64 + "b")
    return tiny_record(path, settings)


def gil_hang_beside_partner(path: str, settings: dict) -> dict:
    """Two images on one worker of two threads. A 'gil' file, the first time (a '.hung' marker beside it makes it
    once): waits (at most 30 s, the GIL free) until its partner runs, then backtracks for ever holding the GIL
    (see :func:`gil_hang_once`), so the partner's thread stops too. A 'partner' file: says it runs (a
    'partner-running' file in the folder), then takes 1.5 s (frozen while the other holds the GIL): slow, but
    fine. Anything else: a no-op record."""
    import re

    name = os.path.basename(path)
    flag = os.path.join(os.path.dirname(path), "partner-running")
    marker = path + ".hung"
    if "gil" in name and not os.path.exists(marker):
        open(marker, "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.02)
        re.match(r"(a+)+$", "a" * 64 + "b")
    elif "partner" in name:
        open(flag, "w").close()
        time.sleep(1.5)
    return tiny_record(path, settings)


def strip_record(path: str, settings: dict) -> dict:
    """A no-op record with a Mars footprint: a 4 x 1 degree strip whose place follows the file's number (every
    neighbour overlaps the next), for tests of the overlap graph through a real run. Slow as slow_record."""
    import re

    import shapely

    time.sleep(float(os.environ.get("AUTOCNET_TEST_SLOW", "0")))
    n = int(re.findall(r"\d+", os.path.basename(path))[-1])
    lon = -170.0 + (n % 100) * 0.7
    fp = shapely.MultiPolygon([shapely.box(lon, -2.0 + (n // 100) * 3.0, lon + 1.0, 2.0 + (n // 100) * 3.0)])
    return dict(tiny_record(path, settings), body="Mars", iau_code="IAU_2015:49900",
                footprint_wkb=shapely.to_wkb(fp, hex=True), footprint_source="camera")
