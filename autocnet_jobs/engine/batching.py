"""How many images one task carries and how many tasks may be in Dask at once: pure functions of the settings
(``cluster.images_per_task``, ``cluster.max_in_flight``) and of what the run has measured.

Both keep the scheduler's work proportional to the cluster, not to the archive: a task costs the scheduler ~1 ms
whatever it holds, so small images travel several per task (aiming at tasks of about a second), and only a few
tasks per worker thread are in Dask at once; the rest wait in the tracker.
"""
from __future__ import annotations

from typing import Mapping

AUTO = "auto"
TASK_SECONDS = 1.0  # what ``images_per_task: auto`` aims a task at
MAX_AUTO_IMAGES = 128  # beyond this the scheduler's share per image is already negligible (bench/README.md)
TASKS_PER_SLOT = 4  # ``max_in_flight: auto``: tasks in Dask per worker thread (one running, the rest queued)
TIMING_WEIGHT = 0.1  # weight of a new image's time in the running mean


def images_per_task(setting: int | str, seconds_per_image: float | None, waiting: int, tasks: int) -> int:
    """Images for the next task: the setting, or for ``auto`` as many as fill ~:data:`TASK_SECONDS` at the run's
    mean time per image (1 until an image has been timed, and for images that take a second or more). Never more
    than spreads the ``waiting`` images over ``tasks`` tasks: the last few images of a run (or a short run) go
    out one or two per task to idle workers instead of queueing behind each other in one task."""
    if setting != AUTO:
        size = int(setting)
    elif seconds_per_image is None:
        size = 1
    else:
        size = int(TASK_SECONDS / max(seconds_per_image, 1e-6))
        size = min(MAX_AUTO_IMAGES, size)
    return max(1, min(size, -(-waiting // max(1, tasks))))


def in_flight_limit(setting: int | str, slots: int) -> int:
    """Most tasks in Dask at once: the setting, or for ``auto`` :data:`TASKS_PER_SLOT` per worker thread."""
    if setting != AUTO:
        return int(setting)
    return TASKS_PER_SLOT * max(1, slots)


def expected_slots(cluster: Mapping) -> int:
    """Worker threads the configured cluster is meant to have, before any has connected: the floor of
    :func:`in_flight_limit`'s count (an adaptive Slurm cluster only grows when the scheduler has work waiting,
    so the limit counts the jobs ``maximum_jobs`` allows, not only those running)."""
    if cluster.get("backend") != "slurm":
        return int(cluster["n_workers"])
    slurm = cluster.get("slurm") or {}
    jobs = max(int(cluster["n_workers"]), int(slurm.get("maximum_jobs") or 0))
    return jobs * int(slurm.get("cores") or 1)


def mean_seconds(mean: float | None, sample: float) -> float:
    """The running mean of the time per image, with one more image's ``sample`` (seconds)."""
    if mean is None:
        return sample
    return mean + TIMING_WEIGHT * (sample - mean)
