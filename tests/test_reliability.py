"""Never lose a job: real faults (killed workers, hung tasks, a killed adder, bad input, hostile callers)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import Pyro5.api
import Pyro5.errors
import psutil
import pytest

from autocnet_jobs import ConfigError, ImageAdder, queries

from . import faults
from .conftest import REPO, sample
from .helpers import children, config, listening_ports, pids_with_file_open, tiny_files

CLI = str(Path(sys.executable).with_name("autocnet-jobs"))


def wait_until(predicate, timeout: float = 120, step: float = 0.05, message=lambda: "condition not reached in time"):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, message()
        time.sleep(step)


def stray_processes(before: set[int]) -> list[str]:
    """Live (not zombie) child processes that were not there before, with their command lines. Not counted:
    multiprocessing's resource tracker, which the first spawned process of an interpreter starts and which by
    design lives as long as the interpreter (pytest's), whoever spawned first."""
    out = []
    for pid in children() - before:
        try:
            p = psutil.Process(pid)
            if "multiprocessing.resource_tracker" in " ".join(p.cmdline()):
                continue
            if p.status() != "zombie":
                out.append(f"{pid} {p.status()} {' '.join(p.cmdline())[:200]}")
        except psutil.NoSuchProcess:
            pass
    return out


# The faults that depend on how images share tasks run with one image per task and with eight (each image still
# its own job): a death or a hang charges only the image running then.
per_task = pytest.mark.parametrize("per_task", [1, 8])


@per_task
def test_sigkill_of_a_worker_counts_once_and_the_job_reruns(tmp_path, monkeypatch, per_task):
    monkeypatch.setenv("AUTOCNET_TEST_SLOW", "1.0")
    folder = tiny_files(tmp_path / "in", 6 if per_task == 1 else 12)
    # Two tasks in flight: 6 images in each with 8 per task.
    cfg = config(tmp_path, cluster={"images_per_task": per_task, "max_in_flight": "auto" if per_task == 1 else 2})
    with ImageAdder(cfg, process=faults.slow_record, quiet=True) as ia:
        pids = ia.client.run(os.getpid)  # {worker address: pid}
        ia.add_images(folder, "cub")
        wait_until(lambda: any((i := ia.job_info(p)) and i["state"] == "running" for p in ia.job_status))
        victim = next(p for p in ia.job_status if ia.job_info(p)["state"] == "running")
        address = ia.job_info(victim)["worker"]["address"]
        os.kill(pids[address], signal.SIGKILL)
        ia.wait(120)
        assert all(v is True for v in ia.job_status.values())
        history = ia.failure(victim)["history"]
        assert [h["kind"] for h in history] == ["worker_died"]  # counted once: Dask did not retry on its own
        others = [p for p in ia.job_status if p != victim and ia.failure(p)]
        assert all(h["kind"] == "worker_died" for p in others for h in ia.failure(p)["history"])


@per_task
def test_hung_task_times_out_is_cancelled_and_its_worker_restarted(tmp_path, per_task):
    folder = tiny_files(tmp_path / "in", 4)
    (folder / "hang-forever.cub").write_bytes(b"x")
    # With 8 per task, one task in flight: the hung image and the four behind it share it, and go back uncounted.
    cfg = config(tmp_path, cluster={"job_timeout": 2, "maxfailures": 2, "images_per_task": per_task,
                                    "max_in_flight": "auto" if per_task == 1 else 1})
    with ImageAdder(cfg, process=faults.hang_marked, quiet=True) as ia:
        before = set(ia.client.run(os.getpid).values())
        ia.add_images(folder, "cub")
        ia.wait(120)
        wait_until(lambda: len(ia.client.scheduler_info()["workers"]) == 2, timeout=60)
        hung = str(folder / "hang-forever.cub")
        assert ia.failed_jobs == [hung]
        f = ia.failure(hung)
        assert f["attempts"] == 2 and [h["kind"] for h in f["history"]] == ["timeout", "timeout"]
        assert sum(v is True for v in ia.job_status.values()) == 4
        assert [p for p in ia.job_status if p != hung and ia.failure(p)] == []  # charged to the hung image only
        after: set[int] = set()

        def replaced() -> bool:  # the second hung attempt's worker may still be on its way out
            nonlocal after
            try:
                after = set(ia.client.run(os.getpid).values())
            except Exception:  # noqa: BLE001 - a worker left during the broadcast
                return False
            return len(after) == 2 and bool(before - after)

        wait_until(replaced, timeout=60, step=0.5)  # a worker stuck in the hung task was replaced
        # Nothing is left computing the hung task.
        wait_until(lambda: not any(ia.client.processing().values()), timeout=30)


def test_killed_adder_resumes_without_partial_files_or_duplicates(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    src = sample("no_change_before.cub")
    n = 40
    for i in range(n):
        (images / f"copy{i:03d}.cub").symlink_to(src)
    cfg_file = tmp_path / "cfg.yml"
    cfg_file.write_text(f"database:\n  url: sqlite:///{tmp_path / 'cat.db'}\n")
    cmd = [CLI, "add", str(images), "--ext", "cub", "--config", str(cfg_file), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = f"sqlite:///{tmp_path / 'cat.db'}"

    def some_done():
        try:
            return queries.job_counts(db)["done"] >= 8
        except Exception:  # noqa: BLE001 - not created yet
            return False

    wait_until(some_done, timeout=180, step=0.2)
    family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_until(lambda: not [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"],
               timeout=60)  # the writer and the workers follow the adder
    done_before = queries.job_counts(db)["done"]
    assert 8 <= done_before < n
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{n - done_before} images submitted, {done_before} already in the catalogue" in out.stdout
    rows = queries.images(db, with_footprint=False)
    assert len(rows) == n == len({r["path"] for r in rows})
    for r in rows:
        with h5py.File(r["keypoints_path"]) as f:
            assert f["keypoints"].shape[0] == r["n_keypoints"] > 0
    leftovers = [p.name for p in images.iterdir() if not p.name.endswith((".cub", "_kps.h5"))]
    assert leftovers == []


@per_task
def test_bad_inputs_each_get_a_typed_reason_and_the_run_goes_on(tmp_path, per_task):
    d = tmp_path / "in"
    d.mkdir()
    good = sample("dawnEqui1.cub")
    (d / "text.cub").write_text("this is not an image\n")
    (d / "empty.cub").write_bytes(b"")
    (d / "truncated.cub").write_bytes(good.read_bytes()[:20000])
    (d / "loop.cub").symlink_to(d / "loop.cub")
    (d / "folder.cub").mkdir()
    names = ["with space.cub", "quote's \"x\".cub", "ünïcødé_画像.cub"]
    for name in names:
        (d / name).symlink_to(good)
    with ImageAdder(config(tmp_path, cluster={"maxfailures": 2, "images_per_task": per_task}), quiet=True) as ia:
        assert len(ia.add_images(d, "cub")) == 8
        ia.wait(300)
        kinds = {Path(p).name: ia.failure(p)["kind"] for p in ia.failed_jobs}
        done = {Path(p).name for p, v in ia.job_status.items() if v is True}
    assert done == set(names)
    assert kinds["text.cub"] == "unsupported_format"
    assert kinds["empty.cub"] == "unsupported_format"
    assert kinds["truncated.cub"] in ("unreadable", "unsupported_format")
    assert kinds["loop.cub"] == "unreadable"
    assert kinds["folder.cub"] == "unreadable"
    rows = queries.images(config(tmp_path)["database"]["url"], with_footprint=False)
    assert {r["name"] for r in rows} == set(names)


def test_unwritable_output_folder_is_an_error_up_front(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="output.dir"):
        ImageAdder(config(tmp_path, output={"dir": str(blocker / "kps"), "always": True}), quiet=True)


def test_callback_channel_survives_garbage_oversized_and_floods(tmp_path):
    with ImageAdder(config(tmp_path, pyro={"max_message_size": 100_000}), quiet=True) as ia:
        host, port = ia.callback_uri.split("@")[1].rsplit(":", 1)
        for junk in (b"GET / HTTP/1.0\r\n\r\n", os.urandom(5000), b"PYRO" + os.urandom(40)):
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(junk)
                s.settimeout(5)
                try:
                    s.recv(100)
                except (socket.timeout, ConnectionResetError):
                    pass
        with Pyro5.api.Proxy(ia.callback_uri) as p:
            p._pyroHandshake = ia._token
            with pytest.raises(Exception):
                p.failed("attempt-x", {"message": "x" * 200_000})  # above max_message_size
        with Pyro5.api.Proxy(ia.callback_uri) as p:
            p._pyroHandshake = ia._token
            with pytest.raises(ValueError):
                p.succeeded("attempt-x", ["not", "a", "record"])
            assert p.ping() == "pong"
        # More simultaneous connections than Pyro5's thread pool (80) would allow.
        results: list[str] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(120)

        def caller():
            try:
                with Pyro5.api.Proxy(ia.callback_uri) as p:
                    p._pyroHandshake = ia._token
                    p._pyroBind()
                    barrier.wait(30)
                    for _ in range(20):
                        results.append(p.ping())
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=caller) for _ in range(120)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == [] and len(results) == 120 * 20
        folder = tiny_files(tmp_path / "in", 5)  # and the run still works
        ia._tracker.process = faults.tiny_record
        ia.add_images(folder, "cub")
        ia.wait(60)
        assert all(v is True for v in ia.job_status.values())


def test_retry_failed_gives_a_fresh_budget(tmp_path):
    folder = tiny_files(tmp_path / "in", 4)
    with ImageAdder(config(tmp_path, cluster={"maxfailures": 2}), process=faults.fail_until_ok, quiet=True) as ia:
        ia.add_images(folder, "cub")
        ia.wait(60)
        assert len(ia.failed_jobs) == 4
        for p in folder.glob("*.cub"):
            Path(str(p) + ".ok").write_text("")
        assert len(ia.retry_failed()) == 4
        ia.wait(60)
        assert ia.failed_jobs == [] and all(v is True for v in ia.job_status.values())
        assert len(ia.failure(str(folder / "img00000.cub"))["history"]) == 2  # the history is kept


def test_cli_failed_and_retry_across_runs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "late.cub").symlink_to(tmp_path / "not-there-yet.cub")  # dangling: unreadable until fixed
    (d / "ok.cub").symlink_to(sample("dawnEqui1.cub"))
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"database:\n  url: sqlite:///{tmp_path / 'cat.db'}\ncluster:\n  maxfailures: 2\n")
    run = lambda *a: subprocess.run([CLI, *a, "--config", str(cfg)], capture_output=True, text=True, timeout=300)
    out = run("add", str(d), "--ext", "cub", "--no-progress")
    assert out.returncode == 0 and "failed" in out.stdout
    failed = run("failed", "--traceback")
    assert "late.cub" in failed.stdout and "unreadable" in failed.stdout and "Traceback" in failed.stdout
    strict = run("add", str(d), "--ext", "cub", "--no-progress", "--strict")
    # Nothing new: the failed one waits for retry, and is still a failure of the catalogue for --strict.
    assert strict.returncode == 1 and "0 images submitted, 1 already in the catalogue, 1 failed before" in strict.stdout
    shutil.copy(sample("dawnEqui1.cub"), tmp_path / "not-there-yet.cub")
    again = run("retry", "--no-progress")
    assert again.returncode == 0 and "1 failed images resubmitted" in again.stdout
    status = json.loads(run("status", "--json").stdout)
    assert status["counts"] == {"queued": 0, "running": 0, "done": 2, "failed": 0}


@per_task
def test_status_from_a_second_process_matches_the_tracker(tmp_path, per_task):
    folder = tiny_files(tmp_path / "in", 12)
    for name in ("zz-hang-a.cub", "zz-hang-b.cub"):  # sorted last: submitted after the others
        (folder / name).write_bytes(b"x")
    cfg = config(tmp_path, cluster={"job_timeout": 600, "images_per_task": per_task})
    url = cfg["database"]["url"]
    with ImageAdder(cfg, process=faults.hang_marked, quiet=True) as ia:
        ia.add_images(folder, "cub")
        # The workers end up stuck in the hanging jobs: a state that holds still long enough to compare. With
        # several per task the two may share the last task: one runs, the other waits behind it, queued. The
        # hanging images were submitted last, so they run last: tasks start in the order the tracker sent them
        # (without that, a later launch overtook an earlier one and an image waited out job_timeout behind them).
        wait_until(lambda: (c := ia.progress())["done"] == 12 and c["running"] >= 1 and c["running"] + c["queued"]
                   == 2, timeout=120, message=lambda: f"progress {ia.progress()}, status {ia.job_status}")
        time.sleep(1.0)  # one writer flush interval and more
        mine = ia.progress()
        out = subprocess.run([CLI, "status", "--json", "--db", url, "--detail"], capture_output=True, text=True,
                             timeout=60)
        theirs = json.loads(out.stdout)
        assert theirs["counts"] == {"queued": mine["queued"], "running": mine["running"], "done": mine["done"],
                                    "failed": mine["failed"]}
        running = sorted(Path(j["path"]).name for j in theirs["jobs"] if j["state"] == "running")
        assert running == sorted(Path(p).name for p in ia.job_status if ia.job_info(p)["state"] == "running")
        assert set(running) <= {"zz-hang-a.cub", "zz-hang-b.cub"} and len(running) == mine["running"]


# Once, with tasks of 8 images (the batched path is the one with more to get wrong: a raise or a hang must charge
# its own image only); one image per task is the other tests' case too. (Issue 25: it ran twice, ~250 s.)
@pytest.mark.parametrize("per_task", [8])
def test_soak_2000_images_with_raises_and_hangs(tmp_path, per_task):
    d = tmp_path / "in"
    d.mkdir()
    n = 2000
    for i in range(n):
        kind = "raise" if i % 20 == 7 else "hang" if i % 100 == 42 else "ok"
        (d / f"{kind}{i:05d}.cub").write_bytes(b"x")
    n_raise, n_hang = n // 20, n // 100
    before_children = children()
    before_threads = {t.ident for t in threading.enumerate()}
    cfg = config(tmp_path, cluster={"job_timeout": 3, "maxfailures": 3, "images_per_task": per_task})
    with ImageAdder(cfg, process=faults.soak, quiet=True) as ia:
        ports = {int(ia.callback_uri.rsplit(":", 1)[1]), int(ia.client.scheduler.address.rsplit(":", 1)[1])}
        writer = ia._tracker.writer.pid
        assert len(ia.add_images(d, "cub")) == n
        ia.wait(900)
        status, failed = ia.job_status, ia.failed_jobs
        attempts = {p: ia.failure(p)["attempts"] for p in failed}
        raise_kinds = {h["type"] for p in failed for h in ia.failure(p)["history"]}
        # A hang (or a raise) charges its own image only: the others of its task went back without a failure.
        ok_timeouts = [p for p in status if "ok" in os.path.basename(p) and ia.failure(p)
                       and "timeout" in [h["kind"] for h in ia.failure(p)["history"]]]
        hung = [p for p in status if "hang" in p]
        hang_history = {p: [h["kind"] for h in (ia.failure(p) or {"history": []})["history"]] for p in hung}
        # A hang with no failure is allowed only where Dask wrote the hanging execution off (KilledWorker) before
        # its start reached the tracker: the job was requeued uncounted, as a job that never started is.
        uncounted = {p: (open(p + ".hung").read(), ia.job_info(p)) for p, h in hang_history.items()
                     if not h and not ia.job_info(p)["requeues"]}
    assert len(status) == n
    assert sorted(failed) == sorted(p for p in status if "raise" in p) and len(failed) == n_raise
    assert set(attempts.values()) == {3} and raise_kinds == {"ValueError"}
    assert ok_timeouts == []
    assert sum(v is True for v in status.values()) == n - n_raise
    # Each hang counted as a timeout. On a loaded machine a hang's worker can also be lost before the timeout
    # (a restart slower than SpecCluster's lost-worker-timeout; Dask then re-runs the task): counted as such.
    assert len(hung) == n_hang
    assert not uncounted, uncounted
    assert all("timeout" in h or "worker_died" in h for h in hang_history.values() if h), hang_history
    assert all(set(h) <= {"timeout", "worker_died"} and len(h) < 3 for h in hang_history.values()), hang_history
    counts = queries.job_counts(cfg["database"]["url"])
    assert counts == {"queued": 0, "running": 0, "done": n - n_raise, "failed": n_raise}
    # Nothing of the run is left behind.
    wait_until(lambda: not stray_processes(before_children), timeout=60,
               message=lambda: f"processes left: {stray_processes(before_children)}")
    assert not psutil.pid_exists(writer) or psutil.Process(writer).status() == "zombie"
    assert not (ports & listening_ports())
    assert pids_with_file_open(tmp_path / "catalogue.db") == set()
    extra = [t for t in threading.enumerate() if t.ident not in before_threads and t.is_alive()]
    assert not [t.name for t in extra if t.name.startswith("autocnet")]


def test_schema_errors_fail_jobs_instead_of_retrying_forever(tmp_path):
    import sqlite3

    from autocnet_jobs import DatabaseUnavailable

    folder = tiny_files(tmp_path / "in", 3)
    cfg = config(tmp_path, cluster={"maxfailures": 2})
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        ia.add_images(folder, "cub")
        ia.wait(60)
    con = sqlite3.connect(tmp_path / "catalogue.db")
    con.execute("ALTER TABLE images DROP COLUMN note")  # a catalogue someone changed by hand
    con.commit()
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        ia.add_images(folder, "cub", force=True)
        ia.wait(120)  # returns: a schema error is not a lost connection to wait out
        assert len(ia.failed_jobs) == 3
        assert {ia.failure(p)["kind"] for p in ia.failed_jobs} == {"db_write_error"}
    con.execute("UPDATE schema_info SET version = 1")
    con.commit()
    con.close()
    with pytest.raises(DatabaseUnavailable, match="schema version 1"):
        ImageAdder(cfg, quiet=True)
