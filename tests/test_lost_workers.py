"""Workers that cannot be stopped or do not come back must not stall a run (autocnet_jobs.watchdog)."""
from __future__ import annotations

import os
import time

import dask

from autocnet_jobs import ImageAdder

from . import faults
from .helpers import config, tiny_files


def test_worker_stuck_holding_the_gil_is_killed_and_the_run_finishes(tmp_path):
    # One worker: if the stuck one were not killed, nothing else could run the retry and the run would stall.
    folder = tiny_files(tmp_path / "in", 3)
    (folder / "gil-stuck.cub").write_bytes(b"x")
    cfg = config(tmp_path, cluster={"n_workers": 1, "job_timeout": 2, "worker_grace": 3, "maxfailures": 3})
    with ImageAdder(cfg, process=faults.gil_hang_once, quiet=True) as ia:
        first = set(ia.client.run(os.getpid).values())
        ia.add_images(folder, "cub")
        ia.wait(90)
        stuck = str(folder / "gil-stuck.cub")
        assert all(v is True for v in ia.job_status.values()), ia.job_status
        assert [h["kind"] for h in ia.failure(stuck)["history"]] == ["timeout"]
        assert ia._tracker.watchdog.kills == 1
        now = set(ia.client.run(os.getpid).values())
        assert now and not now & first  # the stuck process is gone, a fresh one took over
        for pid in first:
            assert not _alive(pid)


def test_local_workers_that_do_not_come_back_are_replaced(tmp_path, monkeypatch):
    # Workers that retire (Dask's worker lifetime, restart off) leave LocalCluster for good: their nannies close
    # and nothing starts new ones. The replacements are made outside this config block, so they stay.
    folder = tiny_files(tmp_path / "in", 30)
    monkeypatch.setenv("AUTOCNET_TEST_SLOW", "0.3")  # 30 images take ~5 s on 2 workers: they retire midway
    cfg = config(tmp_path, cluster={"n_workers": 2, "worker_grace": 2})
    with dask.config.set({"distributed.worker.lifetime.duration": "2s",
                          "distributed.worker.lifetime.restart": False}):
        ia = ImageAdder(cfg, process=faults.slow_record, quiet=True)
    with ia:
        ia.add_images(folder, "cub")
        ia.wait(120)
        assert all(v is True for v in ia.job_status.values()), ia.job_status
        assert ia._tracker.watchdog.heals >= 1
        assert len(ia.client.scheduler_info()["workers"]) == 2


def _alive(pid: int) -> bool:
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True
