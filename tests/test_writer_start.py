"""How the writer (and the local Dask workers) start: independent of the caller's ``__main__``."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autocnet_jobs import DatabaseUnavailable
from autocnet_jobs.catalogue.writer import WriterProcess

from .conftest import sample
from .helpers import config


def test_a_script_from_standard_input_runs(tmp_path: Path) -> None:
    """``python - <<EOF`` has a ``__main__`` whose file ('<stdin>') does not exist: neither the writer nor the
    spawned local workers may need to re-run it (it hung 60 s, then 'the writer did not start')."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.cub").symlink_to(sample("dawnEqui1.cub"))
    script = textwrap.dedent(f"""
        from autocnet_jobs import ImageAdder
        with ImageAdder({config(tmp_path)!r}, quiet=True) as ia:
            ia.add_images({str(tmp_path / "in")!r}, "cub")
            ia.wait(120)
            print("status", list(ia.job_status.values()))
        """)
    out = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=180,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "status [True]" in out.stdout


def test_a_writer_that_fails_before_connecting_says_why_at_once(tmp_path: Path) -> None:
    """A writer that stops before it connects (here: a database URL it has no backend for) reports its reason
    at once instead of being waited for until the start timeout."""
    writer = WriterProcess({"url": "mysql://user@localhost/db", "batch_size": 10, "flush_interval": 0.25})
    start = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="unsupported database URL"):
        writer.start(timeout=60)
    writer.release()
    assert time.monotonic() - start < 15
