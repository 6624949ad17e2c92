"""Many images, bounded work: several images per task (each its own job), a bounded number of tasks in Dask, the
catalogue read once per adder, batched callbacks (autocnet_jobs.engine.batching, .dispatch, .task)."""
from __future__ import annotations

import json
import os
import queue
import threading
import time

import pytest

from autocnet_jobs import ImageAdder
from autocnet_jobs.engine import batching
from autocnet_jobs.engine.callbacks import CallbackService

from . import faults
from .helpers import config, tiny_files


# ---- pure rules ------------------------------------------------------------------------------------------------
def test_a_fixed_images_per_task_is_kept_while_enough_images_wait():
    assert batching.images_per_task(8, None, waiting=1000, tasks=8) == 8
    assert batching.images_per_task(1, 1e-5, waiting=1000, tasks=8) == 1


def test_auto_starts_at_one_image_per_task_until_images_are_timed():
    assert batching.images_per_task("auto", None, waiting=10**6, tasks=8) == 1


@pytest.mark.parametrize("seconds,expected", [(0.25, 4), (0.01, 100), (1e-5, batching.MAX_AUTO_IMAGES), (1.0, 1),
                                              (30.0, 1)])
def test_auto_fills_a_second_at_the_mean_time_per_image(seconds, expected):
    assert batching.images_per_task("auto", seconds, waiting=10**6, tasks=8) == expected


@pytest.mark.parametrize("setting", [8, "auto"])
def test_the_last_images_are_spread_over_the_tasks(setting):
    # 14 images waiting and 8 task slots: two per task, not eight in one task while other workers idle.
    assert batching.images_per_task(setting, 1e-4, waiting=14, tasks=8) == 2
    assert batching.images_per_task(setting, 1e-4, waiting=3, tasks=8) == 1
    assert batching.images_per_task(setting, 1e-4, waiting=0, tasks=8) == 1


def test_the_in_flight_limit_is_a_few_tasks_per_worker_thread():
    assert batching.in_flight_limit("auto", 2) == 2 * batching.TASKS_PER_SLOT
    assert batching.in_flight_limit("auto", 0) == batching.TASKS_PER_SLOT  # never none at all
    assert batching.in_flight_limit(3, 100) == 3


def test_the_expected_slots_count_what_an_adaptive_slurm_cluster_may_grow_to():
    assert batching.expected_slots({"backend": "local", "n_workers": 3}) == 3
    slurm = {"backend": "slurm", "n_workers": 2, "slurm": {"maximum_jobs": 10, "cores": 4}}
    assert batching.expected_slots(slurm) == 40
    assert batching.expected_slots({"backend": "slurm", "n_workers": 2, "slurm": {}}) == 2


def test_the_mean_time_per_image_follows_the_run():
    mean = batching.mean_seconds(None, 2.0)
    assert mean == 2.0
    for _ in range(60):
        mean = batching.mean_seconds(mean, 0.1)
    assert 0.1 < mean < 0.11


def test_a_report_of_several_events_is_checked_whole_and_queued_in_order():
    events: queue.Queue = queue.Queue()
    service = CallbackService(events)
    record = {"path": "/d/a.cub"}
    n = service.report([["started", "k1", {"host": "h", "pid": 1, "secret": "x"}], ["succeeded", "k1", record, 0.5],
                        ["started", "k2", {"host": "h"}], ["failed", "k2", {"kind": "no_data", "extra": 1}, 0.1]])
    got = [events.get_nowait() for _ in range(n)]
    assert got == [("started", "k1", {"host": "h", "pid": "1"}), ("succeeded", "k1", record, 0.5),
                   ("started", "k2", {"host": "h"}),
                   ("failed", "k2", {"kind": "no_data", "type": "", "message": "", "traceback": ""}, 0.1)]
    for bad in ([["started", "k1", {}], ["finished", "k1", {}]], [["succeeded", "k1", ["x"], 0.1]],
                [["failed", "k1", {}, "slow"]], [["started", "", {}]], "started"):
        with pytest.raises(ValueError):
            service.report(bad)
    assert events.empty()  # a bad event refuses the whole report: nothing half-queued
    assert service.report(json.dumps([["succeeded", "k3", record, 0.2]])) == 1  # the JSON form, as tasks send it
    assert events.get_nowait() == ("succeeded", "k3", record, 0.2)
    with pytest.raises(ValueError):
        service.report("[not json")


# ---- with a cluster ----------------------------------------------------------------------------------------------
def test_a_hang_in_the_middle_of_a_batch_charges_only_its_own_image(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["a0.cub", "a1.cub", "a2-hang.cub", "a3.cub", "a4.cub", "a5.cub"]
    for name in names:
        (folder / name).write_bytes(b"x")
    # One worker, one task in flight, up to 8 images per task: the six share one task.
    cfg = config(tmp_path, cluster={"n_workers": 1, "job_timeout": 2, "maxfailures": 1, "images_per_task": 8,
                                    "max_in_flight": 1})
    with ImageAdder(cfg, process=faults.hang_marked, quiet=True) as ia:
        ia.add_images(folder, "cub")
        ia.wait(90)
        status = {os.path.basename(p): v for p, v in ia.job_status.items()}
        hung = str(folder / "a2-hang.cub")
        history = [h["kind"] for h in ia.failure(hung)["history"]]
        clean = [n for n in names if n != "a2-hang.cub" and ia.failure(str(folder / n)) is None]
        behind = [ia.job_info(str(folder / n))["requeues"] for n in ("a3.cub", "a4.cub", "a5.cub")]
        before = [ia.job_info(str(folder / n))["requeues"] for n in ("a0.cub", "a1.cub")]
    assert history == ["timeout"]
    assert status == {n: (1 if n == "a2-hang.cub" else True) for n in names}
    assert clean == [n for n in names if n != "a2-hang.cub"]  # nobody else charged
    # Those behind it went back uncounted (more than once when their next task reached the worker on its way
    # out); those before it never did.
    assert min(behind) >= 1 and before == [0, 0]


def test_queued_images_wait_in_the_tracker_not_in_dask(tmp_path):
    folder = tiny_files(tmp_path / "in", 3000)
    cfg = config(tmp_path, cluster={"images_per_task": 1, "max_in_flight": 5})
    with ImageAdder(cfg, process=faults.slow_record, quiet=True) as ia:
        seen: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                seen.append(ia.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        assert len(ia.add_images(folder, "cub")) == 3000
        sampler.start()
        time.sleep(2.0)
        progress = ia.progress()
        assert sum(progress.values()) == 3000 and progress["queued"] > 2000  # every image shows, queued ones too
        assert len(ia.job_status) == 3000
        stop.set()  # before the client closes under it
        sampler.join(5)
        t0 = time.perf_counter()
    close_s = time.perf_counter() - t0  # closing does nothing per queued image
    assert seen and max(seen) <= 5
    assert close_s < 15


def test_the_catalogue_is_read_once_per_adder_and_kept_current(tmp_path):
    folder = tiny_files(tmp_path / "in", 30)
    paths = sorted(str(p) for p in folder.iterdir())
    cfg = config(tmp_path)
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        asked: list[str] = []
        send = ia._tracker.writer.send
        ia._tracker.writer.send = lambda msg: (asked.append(msg[0]), send(msg))[1]  # count questions, pass them on
        for p in paths[:20]:
            assert ia.add_image(p)
        ia.wait(60)
        assert [ia.add_image(p) for p in paths[:20]] == [False] * 20  # committed in this run: known without asking
        for p in paths[20:]:
            assert ia.add_image(p)
        ia.wait(60)
        assert asked.count("known") == 1
        assert all(ia._tracker.known()[p]["state"] == "done" for p in paths)  # kept current from the commits
