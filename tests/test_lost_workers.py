"""Workers that cannot be stopped or do not come back must not stall a run (autocnet_jobs.engine.watchdog)."""
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


def test_a_task_dask_reruns_after_its_worker_retires_is_counted_once(tmp_path):
    # Dask re-runs the task of a worker that leaves gracefully (retirement, worker lifetime) under the same key,
    # without telling the client. The second start, from another worker, counts as the worker loss it was.
    folder = tiny_files(tmp_path / "in", 3)
    lingering = folder / "img-linger.cub"  # sleeps 120 s the first time; the re-run returns after 1.5 s
    lingering.write_bytes(b"x")
    with ImageAdder(config(tmp_path, cluster={"maxfailures": 3}), process=faults.sleepy_record, quiet=True) as ia:
        ia.add_images(folder, "cub")
        info = _wait_for(lambda: (i := ia.job_info(lingering))["state"] == "running" and i, 60)
        ia.client.retire_workers([info["worker"]["address"]], close_workers=True)
        ia.wait(90)
        status, f = ia.job_status, ia.failure(lingering)
    assert all(v is True for v in status.values()), status
    assert [(h["kind"], h["type"]) for h in f["history"]] == [("worker_died", "WorkerLeft")]
    assert f["history"][0]["worker"]["address"] == info["worker"]["address"]


def _wait_for(fn, timeout: float):
    deadline = time.time() + timeout
    while not (value := fn()):
        assert time.time() < deadline, "condition not reached in time"
        time.sleep(0.1)
    return value
