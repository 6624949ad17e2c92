"""Job accounting across runs: what a run reports about images it skipped because the catalogue knew them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autocnet_jobs import ImageAdder, queries

from . import faults
from .conftest import sample
from .helpers import config, tiny_files

CLI = str(Path(sys.executable).with_name("autocnet-jobs"))


def test_earlier_failures_are_reported_by_a_later_run(tmp_path: Path) -> None:
    """An image that failed for good in an earlier run is skipped, but must not vanish from the accounting:
    a mapper reading job_status / failed_jobs / the CLI summary of the second run has to see it is missing."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.cub").symlink_to(sample("dawnEqui1.cub"))
    (d / "bad.cub").write_text("this is not an image\n")
    bad = str(d / "bad.cub")
    cfg = config(tmp_path)
    with ImageAdder(cfg, quiet=True) as ia:
        ia.add_images(d, "cub")
        ia.wait(120)
        assert ia.failed_jobs == [bad]
        first = ia.failure(bad)
    with ImageAdder(cfg, quiet=True) as ia:
        assert ia.add_images(d, "cub") == []
        ia.wait(10)
        assert ia.job_status == {str(d / "good.cub"): True, bad: 1}
        assert ia.failed_jobs == [bad]
        again = ia.failure(bad)
        assert again is not None
        assert (again["kind"], again["type"], again["message"], again["attempts"]) == \
            ("unsupported_format", first["type"], first["message"], 1)
        assert (again["traceback"], again["log"]) == (first["traceback"], first["log"])
        assert ia.job_info(bad)["log"] is None  # no worker of this run ran it: this run's log says nothing of it
    # The jobs table still holds the reason: skipping it did not overwrite the row.
    row = queries.job_rows(cfg["database"]["url"], state="failed")
    assert [(r["path"], r["error_kind"], r["attempts"]) for r in row] == [(bad, "unsupported_format", 1)]
    cfg_file = tmp_path / "c.yml"
    cfg_file.write_text(f"database:\n  url: {cfg['database']['url']}\noutput:\n  dir: {tmp_path / 'kps'}\n")
    out = subprocess.run([CLI, "add", str(d), "--ext", "cub", "--config", str(cfg_file), "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert ("0 images submitted, 1 already in the catalogue, 1 failed before, not retried (use retry)"
            in out.stdout), out.stdout
    assert "bad.cub: unsupported_format" in out.stdout


def test_a_failed_forced_rerun_of_a_committed_image_is_retried(tmp_path: Path) -> None:
    """The jobs row of the latest attempt says failed; the older images row must not make ``retry`` skip what
    ``failed`` lists."""
    folder = tiny_files(tmp_path / "in", 1)
    path = str(folder / "img00000.cub")
    cfg = config(tmp_path, cluster={"maxfailures": 1})
    url = cfg["database"]["url"]
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        ia.add_images(folder, "cub")
        ia.wait(60)
    with ImageAdder(cfg, process=faults.always_raise, quiet=True) as ia:
        assert ia.add_image(path, force=True)
        ia.wait(60)
        assert ia.failed_jobs == [path]
    assert [r["path"] for r in queries.job_rows(url, state="failed")] == [path]
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        assert ia.retry_failed() == [path]  # what `autocnet-jobs retry` does
        ia.wait(60)
        assert ia.job_status == {path: True}
    assert queries.job_rows(url, state="failed") == []
