"""Scale: queue 10,000, 100,000 and 1,000,000 no-op images; memory of the adder per queued image, tasks on the
Dask scheduler, throughput in a fixed window, and the time to close with the rest still queued.

Each case runs in a fresh subprocess (so memory of one case does not leak into the next), over zero-byte files in a
temp folder, with a no-op per-image function, 2 local workers, SQLite, after a warm-up of the same 5,000 other
images run to the end (so every case measures a cluster past its first seconds):

* ours: ``ImageAdder(process=noop_record)``, default settings (``max_in_flight`` and ``images_per_task`` auto);
  ``add_images`` returns once every image is queued in the tracker; the window starts once every queued job row is
  in the catalogue (the writer writes them in chunks at the start: 1M rows take it a while, and the window measures
  the steady state, the same for every size: from 2 s after the submit or 20% of the images done, whichever comes
  first, until the window ends or 80% of the images are done); the run is then closed with the rest still queued
  (a fixed window, not run to the end: 1M would take ~10 minutes). Throughput is compared between the sizes whose
  window ran its full length (a 10k no-op run is 80% done within about a second: shown, not compared);
* baseline (up to ``--dask-up-to`` images): plain Dask on the same kind of cluster, ``client.map(noop_record,
  paths)``, the same window, then the cluster closed.

Memory is the RSS of the process (which holds the Dask scheduler and client on the local backend): before
submitting, once every image is queued (ours: every queued row written; Dask: the scheduler holds every task), and
the peak until the end of the window (sampled every 0.2 s, as is the scheduler's task count). ``close s``: leaving
the ``with ImageAdder`` block with the rest queued.

    .venv/bin/python bench/bench_scale.py [--sizes 10000,100000,1000000] [--window 10] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import benchlib
import cloudpickle
import noop

cloudpickle.register_pickle_by_value(noop)

WARMUP = 5000  # no-op images each case runs to the end before it starts measuring

TARGET_KB = 1.0  # adder RSS growth per queued image
TARGET_CLOSE_S = 5.0
TARGET_RATE_SPREAD = 0.10  # images/s the same at every size within this


def _count_tasks(dask_scheduler) -> int:
    return len(dask_scheduler.tasks)


class Sampler:
    """Peak RSS of this process and most tasks on the scheduler while running."""

    def __init__(self, client):
        self.peak = 0.0
        self.max_tasks = 0
        self.client = client
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, benchlib.rss_mb())
            try:
                self.max_tasks = max(self.max_tasks, self.client.run_on_scheduler(_count_tasks))
            except Exception:  # noqa: BLE001 - closing
                pass
            self._stop.wait(0.2)

    def stop(self):
        self._stop.set()
        self._t.join()


def child(mode: str, folder: str, n: int, window: float, tmp: str) -> dict:
    from autocnet_jobs import ImageAdder

    cfg = {"database": {"url": f"sqlite:///{tmp}/catalogue-{mode}-{n}.db"}, "cluster": {"n_workers": 2},
           "output": {"dir": f"{tmp}/kps"}}
    out: dict = {"mode": mode, "images": n}
    with ImageAdder(cfg, process=noop.noop_record, quiet=True) as ia:
        client = ia.client
        tracker = ia._tracker  # the bench looks inside on purpose: the limit, and when the queued rows are written
        # Warm up first, the same for every size: the first seconds of a run (workers' first tasks, connections,
        # images_per_task learning its size) would otherwise be all of the 10k case's window and none of 1M's.
        warm = sorted(str(p) for p in (Path(tmp) / "warmup").iterdir())
        if mode == "ours":
            ia.add_images(str(Path(tmp) / "warmup"), "cub")
            ia.wait(300)
        else:
            client.gather(client.map(noop.noop_record, warm, settings={}, pure=False))
        time.sleep(1.0)
        out["rss_before_mb"] = benchlib.rss_mb()
        sampler = Sampler(client)
        t0 = time.perf_counter()
        if mode == "ours":
            submitted = ia.add_images(folder, "cub")
            assert len(submitted) == n
            out["submit_s"] = time.perf_counter() - t0
            del submitted
            while tracker._fresh or tracker._syncs_out:  # every queued row sent and written
                time.sleep(0.05)
            out["rows_written_s"] = time.perf_counter() - t0
            out["in_flight_limit"] = tracker.in_flight_limit()
        else:
            paths = sorted(str(p) for p in Path(folder).iterdir())
            futures = client.map(noop.noop_record, paths, settings={}, pure=False)
            del paths
            out["submit_s"] = time.perf_counter() - t0
            while client.run_on_scheduler(_count_tasks) < n * 0.99:
                time.sleep(0.2)
            out["rows_written_s"] = time.perf_counter() - t0  # here: the scheduler holds every task
        out["rss_queued_mb"] = benchlib.rss_mb()

        def done_count() -> int:
            if mode == "ours":
                return ia.progress()["done"]
            return sum(f.status == "finished" for f in futures)

        # The steady state: from 2 s after the submit (auto has sized its tasks by then) or 20% done, whichever
        # comes first (10k no-op images are 80% done within 2 s), until the window ends or 80% are done (the last
        # images go out in smaller tasks), whichever comes first.
        while time.perf_counter() < t0 + 2.0 and done_count() < 0.2 * n:
            time.sleep(0.01)
        t1, d1 = time.perf_counter(), done_count()
        end = t1 + window
        while time.perf_counter() < end and done_count() < 0.8 * n:
            time.sleep(0.01)
        t2, d2 = time.perf_counter(), done_count()
        out["window_rate"] = (d2 - d1) / (t2 - t1)
        out["window_s"] = t2 - t1
        out["done"] = d2
        out["queued_at_close"] = ia.progress()["queued"] if mode == "ours" else n - d2
        sampler.stop()
        out["rss_peak_mb"] = sampler.peak
        out["max_scheduler_tasks"] = sampler.max_tasks
        if mode == "ours":
            out["peak_in_flight"] = tracker.peak_in_flight
        t3 = time.perf_counter()
        if mode != "ours":
            del futures  # the cluster closes with the ImageAdder
    out["close_s"] = time.perf_counter() - t3
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--window", type=float, default=10.0, help="seconds of processing measured")
    ap.add_argument("--dask-up-to", type=int, default=100_000, help="run the plain Dask baseline up to this size")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", nargs=5, metavar=("MODE", "FOLDER", "N", "WINDOW", "TMP"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.child:
        mode, folder, n, window, tmp = args.child
        res = child(mode, folder, int(n), float(window), tmp)
        print("RESULT " + json.dumps(res))
        return 0
    info = benchlib.machine()
    tmp = benchlib.scratch_dir("bench-scale-")
    sizes = [int(s) for s in args.sizes.split(",")]
    benchlib.dummy_files(tmp / "warmup", WARMUP)
    results = []
    for n in sizes:
        t0 = time.perf_counter()
        folder = benchlib.dummy_files(tmp / f"images{n}", n)
        made = time.perf_counter() - t0
        for mode in (("dask", "ours") if n <= args.dask_up_to else ("ours",)):
            cmd = [sys.executable, __file__, "--child", mode, str(folder), str(n), str(args.window), str(tmp)]
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(__file__))
            line = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")]
            if res.returncode or not line:
                print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"case {mode} {n} failed")
            r = json.loads(line[0][len("RESULT "):])
            r["files_made_s"] = made
            r["rss_growth_mb"] = r["rss_queued_mb"] - r["rss_before_mb"]
            r["kb_per_image"] = r["rss_growth_mb"] * 1024 / n
            r["peak_growth_mb"] = r["rss_peak_mb"] - r["rss_before_mb"]
            r["label"] = "ours: add_images" if mode == "ours" else "plain Dask: client.map"
            results.append(r)
            print(f"  {mode} {n:,}: submit {r['submit_s']:.1f} s, RSS +{r['rss_growth_mb']:.0f} MB, "
                  f"{r['window_rate']:.0f} images/s in {r['window_s']:.1f} s, close {r['close_s']:.1f} s", flush=True)
        for p in folder.iterdir():  # a million files: free the inodes before the next size
            p.unlink()
    print(f"Scale benchmark: no-op images, 2 local workers, SQLite, a {args.window:.0f} s window per case; "
          f"{benchlib.machine_line(info)}")
    print(benchlib.table(results, [
        ("label", "case", ""), ("images", "images", ",d"), ("submit_s", "submit s", ".2f"),
        ("rows_written_s", "all queued s", ".1f"), ("rss_before_mb", "RSS before MB", ".0f"),
        ("rss_growth_mb", "RSS +MB queued", ".0f"), ("kb_per_image", "KB/image", ".2f"),
        ("peak_growth_mb", "RSS +MB peak", ".0f"), ("max_scheduler_tasks", "max sched tasks", ",d"),
        ("in_flight_limit", "max_in_flight", ""), ("window_s", "window s", ".1f"),
        ("window_rate", "images/s in window", ".0f"),
        ("queued_at_close", "queued at close", ",d"), ("close_s", "close s", ".1f")]))
    ours = [r for r in results if r["mode"] == "ours"]
    # Throughput is compared between the cases whose window ran its full length: a 10k no-op run is 80% done
    # within a second, a window too short to hold the writer's steady state (shown, not compared).
    full = [r for r in ours if r["window_s"] >= 0.9 * args.window]
    rates = [r["window_rate"] for r in full]
    compared = ", ".join(f"{r['images']:,}" for r in full)
    spread = (max(rates) - min(rates)) / max(rates) if rates else 0.0
    checks = {
        # At the largest size: below it the adder's fixed costs (pools, Dask's state, first chunks) weigh in.
        f"KB per queued image <= {TARGET_KB:.0f} at {ours[-1]['images']:,}": ours[-1]["kb_per_image"] <= TARGET_KB,
        "scheduler tasks never above max_in_flight": all(r["max_scheduler_tasks"] <= r["in_flight_limit"]
                                                         for r in ours),
        f"images/s within {TARGET_RATE_SPREAD:.0%} across the full-window sizes {compared} (spread {spread:.1%})":
            len(full) >= 2 and spread <= TARGET_RATE_SPREAD,
        f"close <= {TARGET_CLOSE_S:.0f} s": all(r["close_s"] <= TARGET_CLOSE_S for r in ours),
    }
    for name, ok in checks.items():
        print(f"  {name}: {benchlib.verdict(ok)}")
    benchlib.write_json(args.json, {"benchmark": "scale", "machine": info, "results": results, "checks": checks})
    return 0


if __name__ == "__main__":
    sys.exit(main())
