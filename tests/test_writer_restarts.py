"""The database writer killed at awkward moments: what the tracker does when it restarts it."""
from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

from autocnet_jobs import ImageAdder, queries
from autocnet_jobs.engine.writer_link import MAX_WRITER_RESTARTS

from . import faults
from .helpers import config, tiny_files
from .test_reliability import wait_until


def kill_writer(ia: ImageAdder) -> None:
    """SIGKILL the writer (also when stopped) and wait until the tracker has started another."""
    old = ia._tracker.writer
    os.kill(old.pid, signal.SIGKILL)
    wait_until(lambda: ia._tracker.writer is not old and ia._tracker.writer.alive(), timeout=30)


def test_writer_deaths_spread_over_a_long_run_do_not_add_up(tmp_path: Path) -> None:
    """Deaths with commits in between are not 'the same records keep killing the writer': a long run that
    loses its writer now and then must not fail the records in flight at the sixth death."""
    folder = tmp_path / "in"
    folder.mkdir()
    with ImageAdder(config(tmp_path), process=faults.tiny_record, quiet=True) as ia:
        for i in range(MAX_WRITER_RESTARTS):
            path = folder / f"img{i}.cub"
            path.write_bytes(b"x")
            ia.add_image(path, force=True)  # force: no catalogue question to a writer about to die
            wait_until(lambda: ia.job_status.get(str(path)) is True, timeout=60)
            kill_writer(ia)
        os.kill(ia._tracker.writer.pid, signal.SIGSTOP)  # a record surely unacknowledged at the next death
        last = folder / "last.cub"
        last.write_bytes(b"x")
        ia.add_image(last, force=True)
        wait_until(lambda: ia.job_info(last)["state"] == "writing", timeout=60)
        kill_writer(ia)
        ia.wait(60)
        assert ia.failed_jobs == []
        assert ia.job_status[str(last)] is True


def test_a_catalogue_question_in_flight_when_the_writer_dies_is_asked_again(tmp_path: Path) -> None:
    """add_images asks the writer what the catalogue holds; if the writer dies before it answers, the new
    writer must be asked, instead of add_images hanging for 600 s."""
    folder = tiny_files(tmp_path / "in", 3)
    with ImageAdder(config(tmp_path), process=faults.tiny_record, quiet=True) as ia:
        os.kill(ia._tracker.writer.pid, signal.SIGSTOP)  # it receives the question but cannot answer
        submitted: list[list[str]] = []
        asking = threading.Thread(target=lambda: submitted.append(ia.add_images(folder, "cub")), daemon=True)
        asking.start()
        wait_until(lambda: bool(ia._tracker._known_waiters), timeout=10)
        time.sleep(0.5)  # the tracker thread forwards the question to the stopped writer
        kill_writer(ia)
        asking.join(30)
        assert submitted and len(submitted[0]) == 3
        ia.wait(60)
        assert all(v is True for v in ia.job_status.values())


def test_a_writer_restart_keeps_the_job_rows_of_skipped_and_finished_jobs(tmp_path: Path) -> None:
    """After a restart only rows that may have been lost are re-sent: the attempts and worker recorded for
    images skipped (done in an earlier run) or done in this one stay as they were."""
    folder = tiny_files(tmp_path / "in", 2)
    cfg = config(tmp_path)
    url = cfg["database"]["url"]
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        ia.add_images(folder, "cub")
        ia.wait(60)
    (folder / "img00002.cub").write_bytes(b"x")  # one more
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        assert ia.add_images(folder, "cub") == [str(folder / "img00002.cub")]
        ia.wait(60)
        kill_writer(ia)
        ia.add_image(folder / "img00002.cub")  # a catalogue question: the new writer is up
    rows = queries.job_rows(url)
    assert [(Path(r["path"]).name, r["state"], r["attempts"], r["worker"] is not None) for r in rows] == [
        (f"img0000{i}.cub", "done", 1, True) for i in range(3)]


def test_a_schema_mismatch_after_a_writer_restart_fails_the_run_clearly(tmp_path: Path) -> None:
    """A restarted writer that finds a catalogue of another schema version cannot write, ever: the jobs it
    would write fail with that reason instead of waiting for a database that will not come back."""
    folder = tiny_files(tmp_path / "in", 3)
    cfg = config(tmp_path)
    with ImageAdder(cfg, process=faults.wait_for_release, quiet=True) as ia:
        ia.add_images(folder, "cub")
        con = sqlite3.connect(tmp_path / "catalogue.db")
        con.execute("UPDATE schema_info SET version = 99")  # another version's writer took the catalogue over
        con.commit()
        con.close()
        kill_writer(ia)
        (folder / "release").write_text("")
        ia.wait(30)
        assert ia.failed_jobs == sorted(str(p) for p in folder.glob("*.cub"))
        reasons = {(f["kind"], "schema version 99" in f["message"]) for f in map(ia.failure, ia.failed_jobs)}
        assert reasons == {("db_write_error", True)}
