"""The retry policy as a pure function (issue 15): every transition of engine.policy.decide, no cluster, no
threads, no database."""
from __future__ import annotations

import dataclasses

import pytest

from autocnet_jobs import errors
from autocnet_jobs.catalogue.schema import JOB_STATES, JobState
from autocnet_jobs.engine.job import Job, catalogue_job
from autocnet_jobs.engine.policy import (Abandoned, Cancel, Committed, Failed, FutureDone, Launch, Rejected, Rules,
                                         SaveRow, Started, Stopped, StopHung, Succeeded, Tick, Unstarted, Write, decide,
                                         launched, task_end)

RULES = Rules(maxfailures=3, job_timeout=60.0, max_requeues=2)
W1 = {"host": "n1", "pid": "11", "address": "tcp://n1:1"}
W2 = {"host": "n2", "pid": "22", "address": "tcp://n2:2"}
# Every failure kind (README); the permanent ones are errors.PERMANENT_KINDS.
KINDS = ("unreadable", "unsupported_format", "no_data", "no_such_band", "camera_data", "isd_invalid", "extraction_error",
         "write_error", "worker_died", "timeout", "callback_error", "db_write_error", "unexpected_error")
Q, R, WR, D, F = JobState.QUEUED, JobState.RUNNING, JobState.WRITING, JobState.DONE, JobState.FAILED


def queued(**kw) -> Job:
    return launched(Job("/d/a.cub", 10, 1.0, **kw), "k1")


def running(**kw) -> Job:
    job, _ = decide(queued(**kw), Started(W1, now=100.0), RULES)
    return job


def writing(**kw) -> Job:
    job, _ = decide(running(**kw), Succeeded({"name": "a.cub"}), RULES)
    return job


def kinds(actions) -> list[type]:
    return [type(a) for a in actions]


def error(kind="extraction_error", message="boom") -> dict:
    return {"kind": kind, "type": "X", "message": message, "traceback": ""}


# ---- starts -----------------------------------------------------------------------------------------------------
def test_start_of_a_queued_job_runs_it_and_saves_its_row():
    job, actions = decide(queued(), Started(W1, now=5.0), RULES)
    assert (job.state, job.started_at, job.worker, job.failures) == (R, 5.0, W1, 0)
    assert kinds(actions) == [SaveRow]


def test_the_same_worker_starting_again_is_not_a_failure():
    job, actions = decide(running(), Started(dict(W1), now=7.0), RULES)
    assert (job.state, job.failures, job.started_at) == (R, 0, 7.0) and kinds(actions) == [SaveRow]


def test_a_rerun_on_another_worker_counts_as_a_worker_death():
    job, actions = decide(running(), Started(W2, now=9.0, at=123.0, log="/logs/n1"), RULES)
    assert (job.state, job.failures, job.worker) == (R, 1, W2)
    assert job.errors[-1] == {"kind": errors.WORKER_DIED, "type": "WorkerLeft", "attempt": 1, "worker": W1,
                              "time": 123.0, "log": "/logs/n1", "message": job.errors[-1]["message"]}
    assert kinds(actions) == [SaveRow]


def test_a_rerun_that_uses_up_the_budget_fails_the_job_and_cancels_the_task():
    job, actions = decide(running(failures=2), Started(W2, now=9.0), RULES)
    assert (job.state, job.failures, job.attempt) == (F, 3, None)
    assert kinds(actions) == [Cancel, SaveRow]


# ---- outcomes reported by the task ------------------------------------------------------------------------------
def test_success_hands_the_record_to_the_writer_and_waits_for_the_commit():
    job, actions = decide(running(failures=1), Succeeded({"name": "a.cub", "path": "/elsewhere"}), RULES)
    assert job.state is WR and kinds(actions) == [Write]
    assert actions[0].record == {"name": "a.cub", "path": "/d/a.cub", "_attempts": 2, "_worker": "n1"}


def test_commit_makes_the_job_done_and_ends_the_attempt():
    job, actions = decide(writing(), Committed(), RULES)
    assert (job.state, job.attempt, actions) == (D, None, [])


@pytest.mark.parametrize("state_of", [queued, running])
def test_a_commit_for_a_job_not_writing_changes_nothing(state_of):
    job = state_of()
    assert decide(job, Committed(), RULES) == (job, [])


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in errors.PERMANENT_KINDS])
def test_a_retryable_failure_counts_once_and_relaunches(kind):
    job, actions = decide(running(), Failed(error(kind), at=50.0, log="L"), RULES)
    assert (job.state, job.failures, job.attempt, job.worker, job.started_at) == (Q, 1, None, {}, None)
    assert job.errors[-1]["kind"] == kind and job.errors[-1]["attempt"] == 1 and job.errors[-1]["worker"] == W1
    assert kinds(actions) == [Launch, SaveRow]


@pytest.mark.parametrize("kind", sorted(errors.PERMANENT_KINDS))
def test_the_permanent_kinds_are_the_bad_input_ones(kind):
    assert kind in KINDS


@pytest.mark.parametrize("kind", sorted(errors.PERMANENT_KINDS))
def test_a_permanent_failure_fails_the_job_at_once(kind):
    job, actions = decide(running(), Failed(error(kind)), RULES)
    assert (job.state, job.failures) == (F, 1) and kinds(actions) == [SaveRow]


def test_the_failure_that_reaches_maxfailures_fails_the_job():
    job, actions = decide(running(failures=2), Failed(error()), RULES)
    assert (job.state, job.failures, job.attempt) == (F, 3, None) and kinds(actions) == [SaveRow]


def test_failures_accumulate_over_attempts_and_never_reset():
    job = queued()
    for n in range(1, 4):
        job, _ = decide(job, Started(W1, now=float(n)), RULES)
        job, actions = decide(job, Failed(error(message=f"try {n}")), RULES)
        assert job.failures == n
        if job.state is Q:
            job = launched(job, f"k{n + 1}")
    assert job.state is F and [e["message"] for e in job.errors] == ["try 1", "try 2", "try 3"]
    assert [e["attempt"] for e in job.errors] == [1, 2, 3]


def test_a_failure_before_start_records_no_worker_and_no_log():
    job, _ = decide(queued(), Failed(error(), log="ignored"), RULES)
    assert job.errors[-1]["worker"] == {} and job.errors[-1]["log"] is None


# ---- what Dask says about the future ----------------------------------------------------------------------------
def test_a_worker_death_before_start_requeues_without_a_failure():
    job, actions = decide(queued(), FutureDone("error", "KilledWorker", "gone"), RULES)
    assert (job.state, job.failures, job.requeues, job.attempt) == (Q, 0, 1, None) and kinds(actions) == [Launch]


def test_requeues_are_bounded_then_a_death_before_start_is_a_failure():
    job, actions = decide(queued(requeues=2), FutureDone("error", "KilledWorker", "gone"), RULES)
    assert (job.state, job.failures, job.requeues) == (Q, 1, 2) and kinds(actions) == [Launch, SaveRow]
    assert job.errors[-1]["kind"] == errors.WORKER_DIED


def test_a_worker_death_after_start_is_a_failure():
    job, actions = decide(running(), FutureDone("error", "KilledWorker", "gone"), RULES)
    assert (job.state, job.failures) == (Q, 1) and kinds(actions) == [Launch, SaveRow]
    assert job.errors[-1]["type"] == "KilledWorker" and "gone" in job.errors[-1]["message"]


def test_a_task_that_could_not_report_back_is_a_callback_error():
    job, _ = decide(running(), FutureDone("error", "CommunicationError", "refused"), RULES)
    assert (job.errors[-1]["kind"], job.errors[-1]["type"]) == (errors.CALLBACK_ERROR, "CommunicationError")


def test_a_cancelled_task_is_a_worker_death():
    job, _ = decide(running(), FutureDone("cancelled"), RULES)
    assert (job.errors[-1]["kind"], job.errors[-1]["type"]) == (errors.WORKER_DIED, "CancelledError")


def test_a_task_that_ended_without_reporting_is_unexpected():
    job, _ = decide(running(), FutureDone("finished"), RULES)
    assert (job.errors[-1]["kind"], job.errors[-1]["type"]) == (errors.UNEXPECTED, "NoCallback")


# ---- several images in one task: its end, for an image it had not started yet ---------------------------------------
@pytest.mark.parametrize("status,exc", [("error", "KilledWorker"), ("cancelled", None), ("finished", None),
                                        ("error", "CommunicationError")])
def test_an_image_its_task_never_started_goes_back_without_a_failure(status, exc):
    job, actions = decide(queued(), Unstarted(status, exc, "another image's worker died"), RULES)
    assert (job.state, job.failures, job.requeues, job.attempt, job.errors) == (Q, 0, 1, None, ())
    assert kinds(actions) == [Launch]


def test_an_image_sent_back_too_often_is_judged_as_its_task_ended():
    job, actions = decide(queued(requeues=2), Unstarted("error", "KilledWorker", "gone"), RULES)
    assert (job.state, job.failures) == (Q, 1) and kinds(actions) == [Launch, SaveRow]
    assert job.errors[-1]["kind"] == errors.WORKER_DIED


def test_an_image_whose_start_arrived_is_charged_for_its_task_end():
    job, _ = decide(running(), Unstarted("error", "KilledWorker", "gone"), RULES)
    assert (job.failures, job.errors[-1]["kind"]) == (1, errors.WORKER_DIED)


# ---- a worker the tracker stopped for another image's timeout ------------------------------------------------------
def test_an_image_running_on_a_worker_stopped_for_another_goes_back_without_a_failure():
    # The timed-out image was slow, not hung (its events late): its task had gone on to this one when we stopped
    # the worker. This image did nothing; its row said running, so it is saved as queued again.
    job, actions = decide(running(), Stopped("error", "KilledWorker", "stopped"), RULES)
    assert (job.state, job.failures, job.requeues, job.errors, job.worker) == (Q, 0, 1, (), {})
    assert kinds(actions) == [Launch, SaveRow]
    job, actions = decide(queued(), Stopped("error", "KilledWorker", "stopped"), RULES)
    assert (job.state, job.failures, job.requeues) == (Q, 0, 1) and kinds(actions) == [Launch]


def test_an_image_stopped_too_often_is_judged_as_its_task_ended():
    job, _ = decide(running(requeues=2), Stopped("error", "KilledWorker", "stopped"), RULES)
    assert (job.state, job.failures, job.errors[-1]["kind"]) == (Q, 1, errors.WORKER_DIED)


def _end(job, status="error", exc="KilledWorker", shared=True, stopped=()):
    return task_end(job, status, exc, "gone", 1.0, None, shared=shared, stopped_workers=set(stopped))


def test_a_task_end_is_charged_only_to_a_started_image_on_a_worker_nobody_stopped():
    assert type(_end(running())) is FutureDone  # its own worker died under it
    assert type(_end(running(), stopped=[W2["address"]])) is FutureDone  # another worker was stopped
    assert type(_end(running(), stopped=[W1["address"]])) is Stopped  # we stopped the worker it ran on
    assert type(_end(running(), status="finished", stopped=[W1["address"]])) is FutureDone  # ended by itself
    assert type(_end(queued())) is Unstarted
    assert type(_end(queued(), shared=False)) is FutureDone  # a task of one image: FutureDone requeues it itself
    # A queued image has no worker yet: a stopped worker's address never matches it.
    assert type(_end(queued(), stopped=[W1["address"]])) is Unstarted


def test_the_future_of_a_writing_job_ends_its_attempt_and_nothing_else():
    job, actions = decide(writing(), FutureDone("finished"), RULES)
    assert (job.state, job.attempt, job.failures, actions) == (WR, None, 0, [])
    job, _ = decide(job, Committed(), RULES)
    assert job.state is D


# ---- the writer -------------------------------------------------------------------------------------------------
def test_a_rejected_record_is_a_db_write_failure_and_relaunches():
    job, actions = decide(writing(), Rejected("bad value", at=1.0), RULES)
    assert (job.state, job.failures, job.errors[-1]["kind"]) == (Q, 1, errors.DB_WRITE)
    assert job.errors[-1]["message"] == "bad value" and kinds(actions) == [Launch, SaveRow]


def test_a_rejection_for_a_job_not_writing_changes_nothing():
    job = running()
    assert decide(job, Rejected("late"), RULES) == (job, [])


@pytest.mark.parametrize("state_of", [queued, running, writing])
def test_an_abandoned_job_fails_whatever_its_budget(state_of):
    job, actions = decide(state_of(), Abandoned({"kind": errors.DB_WRITE, "type": "WriterDied", "message": "m"}),
                          RULES)
    assert (job.state, job.failures, job.attempt) == (F, 1, None) and kinds(actions) == [SaveRow]


# ---- the clock --------------------------------------------------------------------------------------------------
def test_a_running_job_past_the_timeout_is_stopped_and_counted():
    job, actions = decide(running(), Tick(now=100.0 + 61.0, at=9.0, log="L"), RULES)
    assert (job.state, job.failures, job.errors[-1]["kind"]) == (Q, 1, errors.TIMEOUT)
    assert kinds(actions) == [StopHung, Launch, SaveRow] and actions[0].worker == W1
    assert job.errors[-1]["log"] == "L"


def test_a_timeout_that_reaches_maxfailures_stops_the_task_and_fails_the_job():
    job, actions = decide(running(failures=2), Tick(now=1000.0), RULES)
    assert job.state is F and kinds(actions) == [StopHung, SaveRow]


@pytest.mark.parametrize("rules,now", [(RULES, 100.0 + 60.0), (dataclasses.replace(RULES, job_timeout=None), 1e9)])
def test_no_timeout_within_the_limit_or_without_one(rules, now):
    job = running()
    assert decide(job, Tick(now=now), rules) == (job, [])


@pytest.mark.parametrize("state_of", [queued, writing])
def test_the_timeout_applies_only_to_running_jobs(state_of):
    job = state_of()
    assert decide(job, Tick(now=1e9), RULES) == (job, [])


# ---- terminal jobs, retries, the catalogue ----------------------------------------------------------------------
@pytest.mark.parametrize("event", [Started(W1, now=1.0), Succeeded({}), Failed(error()), FutureDone("finished"),
                                   Committed(), Rejected("x"), Tick(now=1e9), Abandoned(error()),
                                   Unstarted("cancelled"), Stopped("error", "KilledWorker")])
@pytest.mark.parametrize("state", [D, F])
def test_a_terminal_job_ignores_every_event(event, state):
    job = dataclasses.replace(queued(), state=state, attempt=None)
    assert decide(job, event, RULES) == (job, [])


def test_launched_gives_a_fresh_attempt_and_keeps_the_count():
    job = launched(dataclasses.replace(running(failures=2), state=Q), "k9")
    assert (job.attempt, job.state, job.worker, job.started_at, job.failures) == ("k9", Q, {}, None, 2)


def test_a_failed_job_retried_with_a_fresh_budget_keeps_its_history():
    failed, _ = decide(running(failures=2), Failed(error(message="third")), RULES)
    retry = launched(Job(failed.path, failed.size, failed.mtime, errors=list(failed.errors)), "k2")
    assert (retry.failures, retry.state) == (0, Q) and retry.errors == failed.errors
    job, actions = decide(running(), Failed(error()), RULES)
    assert job.state is Q  # one failure of the fresh budget does not fail it


def test_a_job_skipped_as_failed_in_the_catalogue_keeps_its_stored_reason():
    job = catalogue_job("/d/a.cub", 1, 2.0, {"state": "failed", "attempts": 3, "error_kind": "no_data",
                                              "last_error": "all nodata", "worker": "n1"})
    assert (job.state, job.failures, job.from_catalogue) == (F, 3, True)
    assert job.errors[0]["kind"] == "no_data" and job.errors[0]["earlier_run"]
    assert job.row()["state"] == "failed"


def test_rows_store_writing_as_queued_and_the_states_are_the_tables():
    assert writing().row()["state"] == "queued" and running().row()["state"] == "running"
    assert JOB_STATES == ("queued", "running", "done", "failed")
    assert [s.value for s in JobState if not s.terminal] == ["queued", "running", "writing"]


def test_decide_never_changes_the_job_it_is_given():
    job = running()
    before = dataclasses.asdict(job)
    decide(job, Failed(error()), RULES)
    decide(job, Tick(now=1e9), RULES)
    assert dataclasses.asdict(job) == before
