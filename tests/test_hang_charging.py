"""A hang holding the GIL is charged to the image that hangs, and to no other (issue 25, correctness item 4).

Two images in flight on one worker (a worker of two threads, or a task of several images): when one hangs in a C
call that holds the GIL the worker cannot even run its event loop, the events still in it never leave, and the
watchdog kills it after ``cluster.worker_grace``. Only the hanging image counts the failure; the other goes back
uncounted. Pure rules first (engine.policy, milliseconds), then real runs on a LocalCluster.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time

from distributed import LocalCluster

from autocnet_jobs import ImageAdder
from autocnet_jobs.catalogue.schema import JobState
from autocnet_jobs.engine import task
from autocnet_jobs.engine.job import Job
from autocnet_jobs.engine.policy import (
    Caught,
    Cleared,
    Launch,
    Rules,
    SaveRow,
    Started,
    StopHung,
    Stopped,
    Succeeded,
    Tick,
    decide,
    hung_task,
    launched,
    task_end,
)
from autocnet_jobs.scheduler import local

from . import faults
from .helpers import config

RULES = Rules(maxfailures=3, job_timeout=60.0, max_requeues=2, stop_wait=40.0)
W = {"host": "n1", "pid": "11", "address": "tcp://n1:1"}
Q, R = JobState.QUEUED, JobState.RUNNING


def job(name: str, attempt: str, started: float | None = None) -> Job:
    """A launched job; running on W since ``started`` when given."""
    j = launched(Job(f"/d/{name}.cub", 10, 1.0), attempt)
    return j if started is None else decide(j, Started(W, now=started), RULES)[0]


def end(j: Job, shared: bool, stopped: dict) -> tuple[Job, list]:
    """What the end of ``j``'s task, its worker killed (KilledWorker), makes of it."""
    return decide(j, task_end(j, "error", "KilledWorker", "worker died", 1.0, None, shared=shared,
                              stopped_workers=stopped), RULES)


def kinds(actions) -> list[type]:
    return [type(a) for a in actions]


# ---- the rules: two images in flight on one worker ---------------------------------------------------------------
def test_two_threads_the_first_started_hangs_only_it_is_charged_and_the_second_goes_back_uncounted():
    first, second = job("first", "k1", started=100.0), job("second", "k2", started=101.0)
    # The first passes the timeout: charged, and its worker is stopped (the tracker notes when).
    first, actions = decide(first, Tick(161.0), RULES)
    assert (first.state, first.failures, first.errors[-1]["kind"]) == (Q, 1, "timeout")
    assert kinds(actions) == [StopHung, Launch, SaveRow] and actions[0].worker == W
    stopped = {W["address"]: 161.0}
    # The second passes its own while the worker is still being stopped: it waits for the worker's end.
    waiting, actions = decide(second, Tick(162.0, stopping=161.0), RULES)
    assert (waiting, actions) == (second, [])
    # The worker said it ran both (one per thread): the second's task timed out nothing, so nothing is charged.
    assert hung_task([second], {"k1", "k2"}, W) == []
    # Killed: the second's task ends with it, and the second goes back uncounted.
    second, actions = end(second, shared=False, stopped=stopped)
    assert (second.state, second.failures, second.requeues, list(second.errors)) == (Q, 0, 1, [])
    assert kinds(actions) == [Launch, SaveRow]


def test_a_worker_that_is_never_gone_does_not_hold_the_other_image_for_ever():
    second = job("second", "k2", started=101.0)
    second, actions = decide(second, Tick(161.0 + RULES.stop_wait + 1, stopping=161.0), RULES)
    assert (second.state, second.failures, second.errors[-1]["kind"]) == (Q, 1, "timeout")
    assert kinds(actions) == [StopHung, Launch, SaveRow]


def test_a_task_of_two_whose_second_image_hangs_unheard_charges_the_second_only():
    # The tracker heard the first start, nothing more: the first's end and the second's start stayed in the worker.
    first, second = job("first", "k1", started=100.0), job("second", "k2")
    first, actions = decide(first, Tick(161.0, later=True), RULES)
    # Not charged yet: an image after it may be the one running. Its worker is stopped.
    assert (first.state, first.failures, first.timed_out) == (R, 0, 161.0)
    assert kinds(actions) == [StopHung]
    assert decide(first, Tick(162.0, later=True, stopping=161.0), RULES) == (first, [])
    # Before the kill the worker's nanny says it was running the second.
    verdicts = hung_task([first, second], {"k2"}, W, at=5.0, log="w.log")
    assert [(j.path, type(e)) for j, e in verdicts] == [(first.path, Cleared), (second.path, Caught)]
    second, actions = decide(second, verdicts[1][1], RULES)
    assert (second.state, second.failures, second.errors[-1]["kind"]) == (Q, 1, "timeout")
    assert second.errors[-1]["worker"] == W and second.errors[-1]["log"] == "w.log"
    assert kinds(actions) == [Launch, SaveRow]
    first, actions = decide(first, verdicts[0][1], RULES)
    assert (first.state, first.failures, first.timed_out, actions) == (R, 0, None, [])
    # The kill ends the task: the first (its outcome lost with the worker) goes back uncounted.
    first, actions = end(first, shared=True, stopped={W["address"]: 161.0})
    assert (first.state, first.failures, first.requeues) == (Q, 0, 1)


def test_a_task_whose_timed_out_image_is_the_one_running_charges_it_and_not_the_next():
    first, second = job("first", "k1", started=100.0), job("second", "k2")
    first, _ = decide(first, Tick(161.0, later=True), RULES)
    verdicts = hung_task([first, second], {"k1"}, W)
    assert [(j.path, type(e)) for j, e in verdicts] == [(first.path, Caught)]
    first, _ = decide(first, verdicts[0][1], RULES)
    assert (first.state, first.failures, first.errors[-1]["kind"]) == (Q, 1, "timeout")
    second, _ = decide(second, task_end(second, "error", "KilledWorker", "", 1.0, None, shared=True,
                                        stopped_workers={W["address"]: 161.0}), RULES)
    assert (second.state, second.failures) == (Q, 0)


def test_when_the_worker_cannot_say_the_timed_out_image_is_charged_at_its_task_end():
    first = job("first", "k1", started=100.0)
    first, _ = decide(first, Tick(161.0, later=True), RULES)
    assert hung_task([first], {"k9"}, W) == []  # it named nothing of this task
    for status, exc in (("error", "KilledWorker"), ("cancelled", None)):
        ended, actions = decide(first, task_end(first, status, exc, "", 1.0, None, shared=True,
                                                stopped_workers={W["address"]: 161.0}), RULES)
        assert (ended.state, ended.failures, ended.errors[-1]["kind"]) == (Q, 1, "timeout")
        assert kinds(actions) == [Launch, SaveRow]
    # And a worker that never goes away does not hold it for ever either.
    late, actions = decide(first, Tick(161.0 + RULES.stop_wait + 1, later=True, stopping=161.0), RULES)
    assert (late.failures, late.errors[-1]["kind"]) == (1, "timeout") and StopHung in kinds(actions)


def test_an_image_that_reported_after_all_is_not_caught():
    first = job("first", "k1", started=100.0)
    first, _ = decide(first, Tick(161.0, later=True), RULES)
    writing, _ = decide(first, Succeeded({"name": "first.cub"}), RULES)
    assert decide(writing, Caught(W), RULES) == (writing, [])
    # A task end on a stopped worker sends back what it ended uncounted, cancelled or killed.
    other = job("other", "k3", started=100.0)
    for status in ("error", "cancelled"):
        assert type(task_end(other, status, None, "", 0.0, None, shared=False,
                             stopped_workers={W["address"]: 1.0})) is Stopped


def test_a_relaunch_forgets_the_timeout_of_the_attempt_before():
    first = job("first", "k1", started=100.0)
    first, _ = decide(first, Tick(161.0, later=True), RULES)
    assert launched(dataclasses.replace(first, state=Q), "k9").timed_out is None


# ---- the worker's side: which image each task thread is on -------------------------------------------------------
def test_breadcrumbs_say_which_attempt_each_thread_runs_and_are_read_once():
    crumbs = task._Breadcrumbs()
    try:
        crumbs.mark("run-1")
        done = threading.Event()
        t = threading.Thread(target=lambda: (crumbs.mark("run-2"), done.wait(5)))
        t.start()
        time.sleep(0.1)
        path = task.breadcrumb_path(os.getpid())
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
        assert task.running_attempts(os.getpid()) == ["run-1", "run-2"]
        assert not os.path.exists(path) and task.running_attempts(os.getpid()) == []  # read by the kill, once
        done.set()
        t.join()
        assert not crumbs.broken
    finally:
        crumbs.remove()


# ---- with a cluster ----------------------------------------------------------------------------------------------
def _wait_until(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_gil_hang_on_a_worker_of_two_threads_charges_the_hanging_image_only(tmp_path, monkeypatch):
    # One worker of two threads (as a Slurm worker of cluster.slurm.cores: 2): the hanging image starts first, its
    # partner right after; the hang freezes the partner's thread too. Without the fix the partner's own timeout
    # came while the watchdog waited out worker_grace, and it was charged a timeout it did not cause.
    monkeypatch.setattr(local, "LocalCluster", lambda **kw: LocalCluster(**{**kw, "threads_per_worker": 2}))
    folder = tmp_path / "in"
    folder.mkdir()
    hang, partner = folder / "a-gil.cub", folder / "b-partner.cub"
    for p in (hang, partner):
        p.write_bytes(b"x")
    cfg = config(tmp_path, cluster={"n_workers": 1, "job_timeout": 3, "worker_grace": 4, "maxfailures": 3})
    with ImageAdder(cfg, process=faults.gil_hang_beside_partner, quiet=True) as ia:
        assert list(ia.client.nthreads().values()) == [2]
        ia.add_image(hang)
        _wait_until(lambda: ia.job_info(hang)["state"] == "running", 30, "the hanging image to start")
        ia.add_image(partner)  # started second, on the worker's other thread
        ia.wait(90)
        status, hung, other = ia.job_status, ia.failure(str(hang)), ia.failure(str(partner))
        kills = ia._tracker.watchdog.kills
    assert status == {str(hang): True, str(partner): True}
    assert kills == 1
    assert [h["kind"] for h in hung["history"]] in (["timeout"], ["worker_died"])
    assert other is None, other["history"]  # not charged: it only waited for the hanging one


def test_a_gil_hang_after_an_image_of_the_same_task_charges_the_hanging_image(tmp_path):
    # Two images in one task on one worker thread: the first ends at once, the second hangs holding the GIL before
    # the first's end or its own start could leave the worker. The tracker last heard the first one start; the
    # worker knew better. Without the fix the first was charged the timeout and the hanging one went free.
    folder = tmp_path / "in"
    folder.mkdir()
    fine, hang = folder / "a-fine.cub", folder / "b-gil.cub"
    for p in (fine, hang):
        p.write_bytes(b"x")
    cfg = config(tmp_path, cluster={"n_workers": 1, "job_timeout": 2, "worker_grace": 3, "maxfailures": 3,
                                    "images_per_task": 2, "max_in_flight": 1})
    with ImageAdder(cfg, process=faults.gil_hang_once, quiet=True) as ia:
        ia.add_images(folder, "cub")
        ia.wait(90)
        status, hung, other = ia.job_status, ia.failure(str(hang)), ia.failure(str(fine))
        kills = ia._tracker.watchdog.kills
    assert status == {str(fine): True, str(hang): True}
    assert kills == 1
    assert [h["kind"] for h in hung["history"]] == ["timeout"]
    assert "was killed" in hung["message"]  # on the word of the worker, not of the start the tracker heard last
    assert other is None, other["history"]
