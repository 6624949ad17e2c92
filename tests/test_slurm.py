"""The same ImageAdder on a real single-node Slurm (issue 5), and a whole ingestion as an sbatch job.

Needs the private Slurm that ``deploy/run_tests.sh`` starts (fixture ``slurm_env``). Never more than two worker
jobs of one core each: the test machines have two cores and are shared.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from autocnet_jobs import ImageAdder, queries
from autocnet_jobs.scheduler.slurm import SlurmBackend

from . import faults
from .conftest import DATA_DIR, REPO, link_images
from .helpers import config, tiny_files

SBATCH = REPO / "deploy" / "slurm" / "add_images.sbatch"
CUBS = sorted(p.name for p in DATA_DIR.glob("*.cub"))


# ---- helpers -------------------------------------------------------------------------------------------------
def slurm_config(tmp: Path, **cluster) -> dict:
    """Two worker jobs of one core on the private Slurm; logs under ``tmp/logs``; short walltime."""
    slurm = {"cores": 1, "memory": "1GB", "processes": 1, "queue": "debug", "interface": "lo",
             "walltime": "00:10:00", "log_directory": str(tmp / "logs")}
    slurm.update(cluster.pop("slurm", {}))
    return config(tmp, cluster={"backend": "slurm", "n_workers": 2, "slurm": slurm, **cluster})


def squeue() -> dict[str, tuple[str, str]]:
    """Every job the private Slurm lists: {job id: (name, state)}."""
    out = subprocess.run(["squeue", "-h", "-o", "%i|%j|%T"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    return {i: (name, state) for i, name, state in (line.split("|") for line in out.split())}


def scancel(job_id: str) -> None:
    subprocess.run(["scancel", job_id], check=True, timeout=30)


def wait_for(predicate, timeout: float, what: str, step: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout} s")


def backend(ia: ImageAdder) -> SlurmBackend:
    assert isinstance(ia._backend, SlurmBackend)
    return ia._backend


def ids_gone(ids) -> bool:
    """None of ``ids`` is in squeue any more (not even completing)."""
    return not set(ids) & set(squeue())


class JobWatcher:
    """Samples squeue and the cluster's worker jobs in the background while a run goes on."""

    def __init__(self, ia: ImageAdder):
        self.ia = ia
        self.seen: dict[str, set[tuple[str, str]]] = {}  # job id -> {(name, state)}
        self.cluster_ids: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "JobWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.3)

    def sample(self) -> None:
        self.cluster_ids.update(backend(self.ia).job_ids())
        for job, name_state in squeue().items():
            self.seen.setdefault(job, set()).add(name_state)

    def running(self) -> set[str]:
        """Job ids of this run's cluster that squeue showed RUNNING as dask-worker."""
        return {j for j in self.cluster_ids if ("dask-worker", "RUNNING") in self.seen.get(j, ())}


def row_summary(rows: list[dict]) -> dict[str, tuple]:
    """What must not depend on where an image was processed, by file name."""
    out = {}
    for r in rows:
        fp = r["footprint"]
        out[r["name"]] = (r["n_keypoints"], r["body"], r["iau_code"], r["width"], r["height"], r["checksum"],
                          r["footprint_source"], None if fp is None else fp.wkb, None if fp is None else fp.area)
    return out


def keypoints(row: dict) -> np.ndarray:
    with h5py.File(row["keypoints_path"]) as f:
        return f["keypoints"][()]


def token_in_processes(token: str, job_ids: set[str]) -> tuple[set[str], list[str]]:
    """(jobs whose processes were inspected, pids among them whose command line or environment holds ``token``)."""
    inspected, hits = set(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        job = next((v.split(b"=", 1)[1].decode() for v in env.split(b"\0") if v.startswith(b"SLURM_JOB_ID=")), None)
        if job in job_ids and b"distributed" in cmd:
            inspected.add(job)
            if token.encode() in env + cmd:
                hits.append(pid)
    return inspected, hits


# ---- the sample cubes, local and on Slurm ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_cubs(tmp_path_factory):
    """Every sample *.cub through the local backend: the reference the Slurm run must equal."""
    tmp = tmp_path_factory.mktemp("local")
    images = link_images(tmp / "images", CUBS)
    cfg = config(tmp)
    with ImageAdder(cfg, quiet=True) as ia:
        ia.add_images(images, "cub")
        ia.wait(timeout=300)
        status = ia.job_status
    return {"status": status, "rows": queries.images(cfg["database"]["url"])}


@pytest.fixture(scope="module")
def slurm_cubs(slurm_env, tmp_path_factory):
    """Every sample *.cub with ``backend: slurm``, watching squeue and the worker processes during the run."""
    tmp = tmp_path_factory.mktemp("slurm")
    images = link_images(tmp / "images", CUBS)
    cfg = slurm_config(tmp)
    t0 = time.monotonic()
    # As if a Dask nanny had already run in this process (it sets this in its own environment), which sbatch
    # then exports to the worker jobs: the job script must still clear it.
    saved = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"
    ia = ImageAdder(cfg, quiet=True)
    try:
        be = backend(ia)
        with JobWatcher(ia) as watch:
            submitted = ia.add_images(images, "cub")
            # Both worker jobs come up while there is work (adapt bounds = n_workers).
            wait_for(lambda: len(watch.running()) == 2, 60, "two worker jobs RUNNING in squeue")
            ia.client.wait_for_workers(2, timeout=60)  # their worker processes are up: inspect them
            inspected, leaked = token_in_processes(ia._token, watch.running())
            worker_settings = ia.client.run(_worker_settings)
            ia.wait(timeout=300)
            watch.sample()
        result = {"tmp": tmp, "images": images, "cfg": cfg, "submitted": submitted, "status": ia.job_status,
                  "info": {p: ia.job_info(p) for p in submitted}, "watch": watch, "job_ids": set(be.job_ids()),
                  "job_script": be.job_script(), "token": ia._token, "leaked": leaked, "inspected": inspected,
                  "log_dir": tmp / "logs", "dashboard": ia.dashboard_link,
                  "worker_settings": worker_settings}
    finally:
        ia.close()
        if saved is None:
            os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        else:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = saved
    result["after_close"] = squeue()
    result["seconds"] = time.monotonic() - t0
    print(f"slurm run of {len(CUBS)} cubes: {result['seconds']:.1f} s", file=sys.stderr)
    return result


def _worker_settings() -> tuple:
    import dask

    return (dask.config.get("distributed.admin.tick.interval"), dask.config.get("distributed.worker.profile.interval"),
            os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS"))


def test_slurm_workers_get_the_same_worker_settings_as_local_ones(slurm_cubs):
    # Dask's default MALLOC_TRIM_THRESHOLD_ cost 15% per image (bench/README.md); the tick and profiler
    # intervals cut an idle worker's CPU. Slurm workers read their own Dask config, so the job script sets them.
    values = set(slurm_cubs["worker_settings"].values())
    assert values == {("500ms", "100ms", None, "1")}, slurm_cubs["worker_settings"]


def test_cubes_ingest_on_slurm_worker_jobs(slurm_cubs):
    run = slurm_cubs
    assert sorted(run["submitted"]) == sorted(str(run["images"] / n) for n in CUBS)
    assert all(v is True for v in run["status"].values()), run["status"]
    # squeue showed the cluster's own worker jobs, by id, named and running, during the run ...
    running = run["watch"].running()
    assert len(running) == 2, (run["watch"].cluster_ids, run["watch"].seen)
    assert running == run["job_ids"]
    # ... and every image records the Slurm job of the worker that ran it, with that job's log file.
    used = set()
    for path, info in run["info"].items():
        job = info["worker"]["slurm_job_id"]
        assert job in running, (path, info)
        assert info["log"] == str(run["log_dir"] / f"dask-worker-{job}.err")
        used.add(job)
    for job in used:
        log = (run["log_dir"] / f"dask-worker-{job}.err").read_text()
        assert "Starting Worker" in log and "Registered to" in log
    # The jobs table keeps it too, so `autocnet-jobs status --detail` can say where an image ran.
    rows = queries.job_rows(run["cfg"]["database"]["url"])
    assert {r["worker"] for r in rows} <= {f"{os.uname().nodename} (slurm job {j})" for j in used}


def test_slurm_results_equal_local(slurm_cubs, local_cubs):
    slurm_rows = queries.images(slurm_cubs["cfg"]["database"]["url"])
    assert sorted(r["name"] for r in slurm_rows) == CUBS
    assert all(v is True for v in local_cubs["status"].values())
    assert row_summary(slurm_rows) == row_summary(local_cubs["rows"])
    local = {r["name"]: r for r in local_cubs["rows"]}
    for r in slurm_rows:
        assert np.array_equal(keypoints(r), keypoints(local[r["name"]])), r["name"]


def test_close_leaves_no_job_of_the_run(slurm_cubs):
    ids = slurm_cubs["job_ids"] | slurm_cubs["watch"].cluster_ids
    assert len(ids) == 2
    left = {j: v for j, v in slurm_cubs["after_close"].items() if j in ids}
    assert left == {}, left


def test_token_not_in_job_scripts_processes_or_logs(slurm_cubs):
    run = slurm_cubs
    token = run["token"]
    assert len(token) >= 32
    assert "#SBATCH" in run["job_script"] and token not in run["job_script"]
    assert run["inspected"] == run["job_ids"] and run["leaked"] == []  # the workers' command lines and environment
    logs = list(run["log_dir"].iterdir())
    assert logs
    for log in logs:
        assert token not in log.read_text(errors="replace"), log


# ---- a worker job cancelled mid-run ------------------------------------------------------------------------------
def test_scancel_of_a_worker_mid_task_is_retried_and_replaced(slurm_env, tmp_path):
    folder = tiny_files(tmp_path / "in", 28)
    lingering = folder / "img00000-linger.cub"  # first in line; its first attempt sleeps until cancelled
    lingering.write_bytes(b"x")
    cfg = slurm_config(tmp_path, maxfailures=2, job_timeout=120)
    t0 = time.monotonic()
    with ImageAdder(cfg, process=faults.sleepy_record, quiet=True) as ia:
        be = backend(ia)
        with JobWatcher(ia) as watch:
            submitted = ia.add_images(folder, "cub")
            info = wait_for(lambda: (i := ia.job_info(lingering))["state"] == "running" and i,
                            90, "the lingering image running on a worker")
            victim = info["worker"]["slurm_job_id"]
            before = set(be.job_ids())
            assert victim in before and squeue()[victim] == ("dask-worker", "RUNNING")
            scancel(victim)
            t_cancel = time.monotonic()
            # The scheduler notices at once; the tracker counts the death and resubmits the image.
            f = wait_for(lambda: ia.failure(lingering), 30, "the cancelled task counted as a failure")
            # adapt() submits a replacement job after distributed.deploy.lost-worker-timeout (15 s).
            new = wait_for(lambda: set(squeue()) - before - {victim}, 60, "a replacement worker job in squeue")
            t_replaced = time.monotonic()
            ia.wait(timeout=180)
            watch.sample()
        status = ia.job_status
        infos = {p: ia.job_info(p) for p in submitted}
        job_ids = set(be.job_ids())
        history = ia.failure(lingering)["history"]
    elapsed = time.monotonic() - t0
    print(f"scancel run: {elapsed:.1f} s, replacement after {t_replaced - t_cancel:.1f} s", file=sys.stderr)

    assert f["kind"] == "worker_died" and f["worker"]["slurm_job_id"] == victim
    assert f["log"] == str(tmp_path / "logs" / f"dask-worker-{victim}.err")
    assert "signal-15" in Path(f["log"]).read_text()  # the worker saw scancel's SIGTERM
    assert [h["kind"] for h in history] == ["worker_died"]
    # Every image ends True or failed within its budget; none lost.
    assert set(status) == set(submitted)
    for path, state in status.items():
        assert state is True or infos[path]["state"] == "failed", infos[path]
        assert infos[path]["failures"] <= cfg["cluster"]["maxfailures"]
        if infos[path]["failures"]:
            assert all(h["kind"] == "worker_died" and h["worker"]["slurm_job_id"] == victim
                       for h in infos[path]["history"]), infos[path]
    assert status[str(lingering)] is True and infos[str(lingering)]["failures"] == 1
    assert infos[str(lingering)]["worker"]["slurm_job_id"] != victim
    # The replacement job is one of this cluster's, ran as a worker, and did some of the work.
    assert new <= job_ids and victim not in job_ids and len(job_ids) == 2
    replacement = next(iter(new))
    assert ("dask-worker", "RUNNING") in watch.seen[replacement]
    assert any(i["worker"]["slurm_job_id"] == replacement for i in infos.values())
    wait_for(lambda: ids_gone(job_ids | before), 30, "no job of the run left after close")


def test_a_worker_job_cancelled_while_pending_is_replaced(slurm_env, tmp_path):
    """dask-jobqueue alone never replaces a job that ends before its worker connects (SlurmBackend's watcher does)."""
    blocker = subprocess.run(["sbatch", "--parsable", "-J", "blocker", "-c", "2", "--time=3", "--wrap", "sleep 170"],
                             capture_output=True, text=True, check=True, timeout=30).stdout.strip().split(";")[0]
    try:
        wait_for(lambda: squeue().get(blocker, ("", ""))[1] == "RUNNING", 30, "a job holding both CPUs")
        folder = tiny_files(tmp_path / "in", 16)
        with ImageAdder(slurm_config(tmp_path), process=faults.sleepy_record, quiet=True) as ia:
            be = backend(ia)
            submitted = ia.add_images(folder, "cub")
            first = wait_for(lambda: len(ids := be.job_ids()) == 2 and set(ids), 60, "two worker jobs submitted")
            assert {squeue()[j][1] for j in first} == {"PENDING"}
            victim = min(first, key=int)
            scancel(victim)
            scancel(blocker)
            t_cancel = time.monotonic()
            new = wait_for(lambda: set(squeue()) - first - {blocker}, 60, "a replacement for the pending job")
            print(f"pending job replaced after {time.monotonic() - t_cancel:.1f} s", file=sys.stderr)
            ia.wait(timeout=120)
            status = ia.job_status
            ran_on = {ia.job_info(p)["worker"]["slurm_job_id"] for p in submitted}
            job_ids, error = set(be.job_ids()), be.error
    finally:
        subprocess.run(["scancel", blocker], timeout=30)
    assert all(v is True for v in status.values()), status  # nothing ran on the cancelled job: no failure
    assert error is None
    assert victim not in job_ids and new <= job_ids and len(job_ids) == 2
    assert ran_on == job_ids  # both the surviving and the replacement job did work
    wait_for(lambda: ids_gone(job_ids | first), 30, "no job of the run left after close")


def test_worker_jobs_that_never_start_are_not_resubmitted_for_ever(slurm_env, tmp_path, monkeypatch):
    monkeypatch.setattr(SlurmBackend, "check_interval", 1.0)
    cfg = slurm_config(tmp_path, slurm={"python": str(tmp_path / "no-such-python")})
    with ImageAdder(cfg, quiet=True) as ia:
        be = backend(ia)
        error = wait_for(lambda: be.error, 90, "the backend giving up on stillborn worker jobs")
        # The other slot's job may have been submitted just before the give-up and write its log only when it
        # starts: let the run's jobs end before counting what was submitted.
        wait_for(lambda: ids_gone(be.job_ids()), 60, "the last stillborn worker jobs ending")
        submitted = sorted((tmp_path / "logs").glob("*.err"))
        time.sleep(3 * SlurmBackend.check_interval)
        assert sorted((tmp_path / "logs").glob("*.err")) == submitted  # no more submissions
        job_ids = set(be.job_ids())
    assert 2 < len(submitted) <= 2 + be._max_stillborn  # replaced a few times, then stopped
    assert "ended before their worker connected" in error and "no-such-python" in error, error
    assert str(tmp_path / "logs" / "dask-worker-") in error
    wait_for(lambda: ids_gone(job_ids), 30, "no job of the run left after close")


# ---- a job that never calls back; a task error Dask logs -----------------------------------------------------------
def test_job_timeout_on_slurm_and_a_task_error_in_the_logs(slurm_env, tmp_path):
    folder = tiny_files(tmp_path / "in", 6)
    hang, escape = folder / "img-hang.cub", folder / "img-escape.cub"
    hang.write_bytes(b"x")
    escape.write_bytes(b"x")
    cfg = slurm_config(tmp_path, maxfailures=2, job_timeout=6)
    t0 = time.monotonic()
    with ImageAdder(cfg, process=faults.escape_marked, quiet=True) as ia:
        be = backend(ia)
        ia.add_images(folder, "cub")
        first = wait_for(lambda: len(ids := be.job_ids()) == 2 and set(ids), 60, "two worker jobs submitted")
        ia.wait(timeout=150)
        status, failed = ia.job_status, ia.failed_jobs
        f_hang, f_escape = ia.failure(hang), ia.failure(escape)
        job_ids = set(be.job_ids())
        script, token = be.job_script(), ia._token
    print(f"timeout run: {time.monotonic() - t0:.1f} s", file=sys.stderr)

    assert sorted(failed) == sorted([str(hang), str(escape)])
    assert sum(v is True for v in status.values()) == 6
    history = f_hang["history"]
    assert f_hang["attempts"] == 2 and history[0]["kind"] == "timeout", history
    assert history[0]["worker"]["slurm_job_id"] in first and history[0]["log"].startswith(str(tmp_path / "logs"))
    # With few tasks left, Dask sends a task straight to a busy worker (no scheduler-side queuing), so the retry
    # may sit on the worker being restarted and die with it. Either way the image is given up, and the run ends.
    assert {h["kind"] for h in history} <= {"timeout", "worker_died"}, history
    assert f_escape["attempts"] == 2 and f_escape["type"] == "Escape" and "escaped from" in f_escape["message"]
    # The hung worker was restarted inside its job, not replaced: the same two jobs served the whole run.
    assert job_ids == first
    # Dask logged the failed task on its worker, and still not the token.
    logs = {p.name: p.read_text(errors="replace") for p in (tmp_path / "logs").iterdir()}
    assert any("Compute Failed" in text and "Escape" in text for text in logs.values()), list(logs)
    assert not [name for name, text in logs.items() if token in text]
    assert token not in script
    wait_for(lambda: ids_gone(job_ids), 30, "no job of the run left after close")


# ---- a whole ingestion as a batch job ------------------------------------------------------------------------------
def sbatch_wait(args: list[str], chdir: Path, env: dict, timeout: float = 240) -> tuple[int, str]:
    """``sbatch --wait``: returns (exit code, job id)."""
    res = subprocess.run(["sbatch", "--wait", "--parsable", "--chdir", str(chdir), *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=timeout)
    job = res.stdout.strip().split(";")[0]
    assert job.isdigit(), (res.stdout, res.stderr)
    return res.returncode, job


def scontrol_job(job: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, timeout=30).stdout
    return dict(field.split("=", 1) for field in out.split() if "=" in field)


@pytest.fixture
def batch_env(slurm_env) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "autocnet_config"}  # built-in defaults in the job
    env["AUTOCNET_JOBS"] = str(REPO / ".venv" / "bin" / "autocnet-jobs")
    return env


def test_sbatch_template_ingests_the_sample_cubes(batch_env, tmp_path, local_cubs):
    images = link_images(tmp_path / "images", CUBS)
    t0 = time.monotonic()
    rc, job = sbatch_wait(["--export=ALL", "--time=5", str(SBATCH), str(images), "cub"], tmp_path, batch_env)
    print(f"sbatch ingestion: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    log = tmp_path / f"autocnet-add-{job}.log"
    text = log.read_text()
    assert rc == 0, text
    info = scontrol_job(job)
    assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", info
    assert f"{len(CUBS)} images submitted" in text and f"job {job}" in text and "exited with 0" in text
    url = f"sqlite:///{tmp_path / 'autocnet.db'}"  # the default database, in the job's working directory
    assert queries.job_counts(url)["done"] == len(CUBS), (text, sorted(p.name for p in tmp_path.iterdir()))
    rows = queries.images(url)
    assert row_summary(rows) == row_summary(local_cubs["rows"])


def test_sbatch_template_with_a_missing_directory_fails_clearly(batch_env, tmp_path):
    missing = tmp_path / "no-such-dir"
    env = {k: v for k, v in batch_env.items() if k != "AUTOCNET_JOBS"}  # the template finds ./.venv itself
    rc, job = sbatch_wait(["--time=2", str(SBATCH), str(missing), "cub"], tmp_path, env, timeout=120)
    text = (tmp_path / f"autocnet-add-{job}.log").read_text()
    assert rc != 0, text
    info = scontrol_job(job)
    assert info["JobState"] == "FAILED" and info["ExitCode"] != "0:0", info
    assert str(missing) in text and "does not exist" in text, text
    assert not (tmp_path / "autocnet.db").exists()


def test_a_worker_stuck_holding_the_gil_is_scancelled_and_replaced(slurm_env, tmp_path):
    # The stuck worker's event loop cannot run exit_worker: after worker_grace its job is scancelled. One worker
    # job, so the run can only finish if that happens and adapt() submits a replacement.
    folder = tiny_files(tmp_path / "in", 6)
    stuck = folder / "img-gil.cub"
    stuck.write_bytes(b"x")
    cfg = slurm_config(tmp_path, n_workers=1, maxfailures=3, job_timeout=4, worker_grace=3)
    with ImageAdder(cfg, process=faults.gil_hang_once, quiet=True) as ia:
        be = backend(ia)
        ia.add_images(folder, "cub")
        first = wait_for(lambda: len(ids := be.job_ids()) == 1 and set(ids), 60, "one worker job submitted")
        ia.wait(timeout=150)
        status, f = ia.job_status, ia.failure(stuck)
        kills, job_ids = ia._tracker.watchdog.kills, set(be.job_ids())
    assert all(v is True for v in status.values()), status
    victim = f["history"][0]["worker"]["slurm_job_id"]
    assert [h["kind"] for h in f["history"]] == ["timeout"] and victim in first
    assert kills == 1 and victim not in job_ids
    wait_for(lambda: ids_gone(job_ids | first), 30, "no job of the run left after close")


def test_callback_daemon_listens_on_the_slurm_interface_by_default(slurm_env, tmp_path):
    # pyro.host unset: the daemon binds where the workers reach the scheduler (cluster.slurm.interface), not to
    # loopback, which compute nodes could not reach. Uses a non-loopback interface of this machine.
    import psutil

    addrs = {name: a.address for name, al in psutil.net_if_addrs().items() for a in al
             if a.family == socket.AF_INET and not a.address.startswith("127.")}
    if not addrs:
        pytest.skip("this machine has no non-loopback IPv4 interface")
    name, ip = sorted(addrs.items())[0]
    folder = tiny_files(tmp_path / "in", 4)
    cfg = slurm_config(tmp_path, slurm={"interface": name})
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        assert ia.callback_uri.split("@")[1].rsplit(":", 1)[0] == ip
        ia.add_images(folder, "cub")
        ia.wait(timeout=120)
        status = ia.job_status
        job_ids = set(backend(ia).job_ids())
    assert len(status) == 4 and all(v is True for v in status.values()), status
    wait_for(lambda: ids_gone(job_ids), 30, "no job of the run left after close")


# ---- a site's dask-jobqueue configuration (jobqueue.yaml) ----------------------------------------------------------
SITE_JOBQUEUE = {"cores": 1, "memory": "1GB", "walltime": "00:07:00", "queue": "debug", "interface": "lo",
                 "job-extra-directives": ["--comment=site-directive"],
                 "job-script-prologue": ["export SITE_PROLOGUE=site"], "job-directives-skip": ["--cpus-per-task"]}


def job_script(site: dict, **slurm) -> str:
    """The worker job script for ``cluster.slurm`` = ``slurm`` under a site's ``jobqueue.slurm`` = ``site``
    (rendered by a real SLURMCluster; no job is submitted)."""
    import dask

    from autocnet_jobs import config as config_mod
    from autocnet_jobs.scheduler.base import dask_settings
    from autocnet_jobs.scheduler.slurm import WatchedSLURMCluster

    be = SlurmBackend(config_mod.load({"cluster": {"backend": "slurm", "slurm": slurm}})["cluster"])
    with dask.config.set({f"jobqueue.slurm.{k}": v for k, v in site.items()}), dask_settings():
        cluster = WatchedSLURMCluster(**be.cluster_kwargs())
        try:
            return cluster.job_script()
        finally:
            cluster.close()


def directives(script: str) -> list[str]:
    return [line.split(None, 1)[1] for line in script.splitlines() if line.startswith("#SBATCH")]


def test_a_sites_jobqueue_config_applies_where_ours_is_unset(slurm_env):
    # Nothing set in cluster.slurm: the site's cores, memory, walltime, queue, directives, skips and prologue.
    script = job_script(SITE_JOBQUEUE)
    assert directives(script) == ["-J dask-worker", "-p debug", "-n 1", "--mem=954M", "-t 00:07:00",
                                  "--comment=site-directive"], script
    lines = script.splitlines()
    # The site's prologue first (module loads), then our thread limits and worker settings, which must hold.
    assert lines.index("export SITE_PROLOGUE=site") < lines.index(
        "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 GDAL_NUM_THREADS=1") < lines.index("unset MALLOC_TRIM_THRESHOLD_")
    assert "--interface lo" in script and "--memory-limit 0.93GiB" in script


def test_our_slurm_keys_win_and_lists_add_to_the_sites(slurm_env):
    script = job_script(SITE_JOBQUEUE, memory="3GB", walltime="00:05:00", queue="debug",
                        job_extra_directives=["--nice=5"], job_directives_skip=["-J "],
                        job_script_prologue=["module load gdal", "export USER_PROLOGUE=user"])
    assert directives(script) == ["-p debug", "-n 1", "--mem=3G", "-t 00:05:00", "--comment=site-directive",
                                  "--nice=5"], script
    lines = script.splitlines()
    assert lines.index("export SITE_PROLOGUE=site") < lines.index("module load gdal") < lines.index(
        "export USER_PROLOGUE=user") < lines.index("unset MALLOC_TRIM_THRESHOLD_")


def test_without_any_site_config_a_worker_job_is_one_core_and_2gb(slurm_env):
    # dask-jobqueue has no default for cores and memory (it refuses to start): ours apply only then.
    script = job_script({}, queue="debug", interface="lo")
    assert directives(script) == ["-J dask-worker", "-p debug", "-n 1", "--cpus-per-task=1", "--mem=2G",
                                  "-t 00:30:00"], script


_SITE_RUN = """
import json, os, subprocess, sys
from pathlib import Path
from autocnet_jobs import ImageAdder
from tests import faults
from tests.helpers import config, tiny_files

tmp = Path(sys.argv[1])
folder = tiny_files(tmp / "in", 4)
# Only what the site does not say: the backend, our prologue line, one worker job and where its log goes.
cfg = config(tmp, cluster={"backend": "slurm", "n_workers": 1, "slurm": {
    "log_directory": str(tmp / "logs"), "job_script_prologue": ["export USER_PROLOGUE=user"]}})
with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
    ia.add_images(folder, "cub")
    ia.wait(timeout=150)
    be = ia._backend
    jobs = be.job_ids()
    env = ia.client.run(lambda: {k: os.environ.get(k) for k in ("SITE_PROLOGUE", "USER_PROLOGUE", "SLURM_JOB_ID")})
    slurm = {j: subprocess.run(["scontrol", "show", "job", j], capture_output=True, text=True).stdout for j in jobs}
    print(json.dumps({"script": be.job_script(), "status": ia.job_status, "env": list(env.values()),
                      "jobs": jobs, "scontrol": slurm, "callback": ia.callback_uri}))
"""


def test_a_real_worker_job_under_a_sites_jobqueue_yaml(slurm_env, tmp_path):
    # The site's file as sites ship it: $DASK_CONFIG/jobqueue.yaml, read by Dask when the process starts.
    import json

    import yaml

    (tmp_path / "dask").mkdir()
    (tmp_path / "dask" / "jobqueue.yaml").write_text(yaml.safe_dump({"jobqueue": {"slurm": SITE_JOBQUEUE}}))
    env = {**os.environ, "DASK_CONFIG": str(tmp_path / "dask")}
    res = subprocess.run([sys.executable, "-c", _SITE_RUN, str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    run = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(run["status"]) == 4 and all(v is True for v in run["status"].values()), run["status"]
    assert "-t 00:07:00" in run["script"] and "--comment=site-directive" in run["script"]
    # The worker job really ran with the site's limits and both prologues (the site's and ours).
    (job,) = run["jobs"]
    info = dict(f.split("=", 1) for f in run["scontrol"][job].split() if "=" in f)
    assert (info["TimeLimit"], info["Partition"], info["Comment"]) == ("00:07:00", "debug", "site-directive"), info
    assert info["MinMemoryNode"] == "954M", info
    assert run["env"] == [{"SITE_PROLOGUE": "site", "USER_PROLOGUE": "user", "SLURM_JOB_ID": job}], run["env"]
    # The callback daemon listens on the site's interface (lo), where the workers reach this process.
    assert run["callback"].split("@")[1].startswith("127.0.0.1:"), run["callback"]
    wait_for(lambda: ids_gone({job}), 30, "no job of the run left after close")
