"""What importing the package costs, and the old import paths (issue 15): the per-image functions and the
read-only commands must not load Dask's ``distributed`` or Pyro5 (checked in a fresh interpreter)."""
from __future__ import annotations

import json
import subprocess
import sys

_HEAVY = "sorted(m for m in sys.modules if m.split('.')[0] in ('distributed', 'Pyro5'))"


def _run(code: str) -> dict:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_extractors_load_neither_distributed_nor_pyro5():
    out = _run(f"import json, sys; import autocnet_jobs.extractors.pipeline; print(json.dumps({_HEAVY}))")
    assert out == []


def test_status_loads_neither_distributed_nor_pyro5(tmp_path):
    from autocnet_jobs.catalogue.store import open_store

    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(url)
    store.connect()  # an empty catalogue: status reads it
    store.close()
    code = ("import contextlib, io, json, sys\n"
            "from autocnet_jobs.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            f"    rc = main(['status', '--detail', '--db', {url!r}])\n"
            f"print(json.dumps({{'rc': rc, 'out': out.getvalue(), 'heavy': {_HEAVY}}}))")
    out = _run(code)
    assert out["rc"] == 0 and "queued: 0" in out["out"]
    assert out["heavy"] == []


def test_old_import_paths_still_work():
    out = _run("import json, autocnet_jobs, autocnet_jobs.queries as q, autocnet_jobs.catalogue.queries as cq\n"
               "from autocnet_jobs import ImageAdder, InputDirectoryError, queries\n"
               "from autocnet_jobs.adder import ImageAdder as A\n"
               "print(json.dumps([q is cq, queries is cq, ImageAdder is A, callable(q.images),"
               " 'ImageAdder' in dir(autocnet_jobs)]))")
    assert out == [True, True, True, True, True]
