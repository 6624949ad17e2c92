"""Scale: queue 10,000 and 100,000 no-op images; time to submit, memory of the adder process (which holds the
Dask scheduler on the local backend), task counts on the scheduler, and how each grows from 10k to 100k.

Each case runs in a fresh subprocess (so memory of one case does not leak into the next), over zero-byte files
in a temp folder, with a no-op per-image function, 2 local workers, SQLite:

* ours: ``ImageAdder(process=noop_record)``; ``add_images`` (returns once every job is submitted), then a
  measured window; the 10k case runs to the end, the 100k case is stopped after the window (at ~5 ms per image
  it would take ~10 minutes) and ``close()`` cancels the rest;
* baseline: plain Dask on the same kind of cluster: ``client.map(noop_record, paths)``, same window.

Memory is the RSS of the process: before submitting, once the scheduler holds every task (all queued: the memory
a queued image costs), and the peak until the end of the window or run (sampled every 0.2 s); the writer
process (which receives a "queued" row per job) is reported separately. ``close s``: closing the ImageAdder
(ours cancels every unfinished future; plain Dask just closes the cluster).

    .venv/bin/python bench/bench_scale.py [--sizes 10000,100000] [--window 10] [--json out.json]
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

import cloudpickle
import psutil

import benchlib
import noop

cloudpickle.register_pickle_by_value(noop)


class Sampler:
    """Peak RSS of this process (and of one other pid) while running."""

    def __init__(self, other: int | None = None):
        self.peak = self.other_peak = 0.0
        self.other = other
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, benchlib.rss_mb())
            if self.other:
                try:
                    self.other_peak = max(self.other_peak, benchlib.rss_mb(self.other))
                except psutil.NoSuchProcess:
                    pass
            self._stop.wait(0.2)

    def stop(self):
        self._stop.set()
        self._t.join()


def scheduler_tasks(client) -> dict:
    def count(dask_scheduler):
        states: dict[str, int] = {}
        for ts in dask_scheduler.tasks.values():
            states[ts.state] = states.get(ts.state, 0) + 1
        return {"tasks": len(dask_scheduler.tasks), "states": states}

    return client.run_on_scheduler(count)


def child(mode: str, folder: str, n: int, window: float, finish: bool, tmp: str) -> dict:
    from autocnet_jobs import ImageAdder

    cfg = {"database": {"url": f"sqlite:///{tmp}/catalogue-{mode}-{n}.db"}, "cluster": {"n_workers": 2},
           "output": {"dir": f"{tmp}/kps"}}
    out: dict = {"mode": mode, "images": n}
    rss_start = benchlib.rss_mb()
    with ImageAdder(cfg, process=noop.noop_record, quiet=True) as ia:
        client = ia.client
        writer = ia._tracker.writer.process.pid  # the bench looks inside on purpose: RSS of the writer process
        time.sleep(1.0)
        out["rss_before_mb"] = benchlib.rss_mb()
        out["writer_before_mb"] = benchlib.rss_mb(writer)
        out["rss_empty_adder_mb"] = out["rss_before_mb"] - rss_start
        sampler = Sampler(writer)
        t0 = time.perf_counter()
        if mode == "ours":
            submitted = ia.add_images(folder, "cub")
            assert len(submitted) == n
        else:
            paths = sorted(str(p) for p in Path(folder).iterdir())
            futures = client.map(noop.noop_record, paths, settings={}, pure=False)
        out["submit_s"] = time.perf_counter() - t0
        out["rss_submitted_mb"] = benchlib.rss_mb()
        sched = scheduler_tasks(client)
        out["scheduler_tasks_at_return"] = sched["tasks"]
        # The client sends the graph in the background: when does the scheduler hold every task?
        while sched["tasks"] + sched["states"].get("forgotten", 0) < n * 0.999 and time.perf_counter() - t0 < 600:
            time.sleep(0.2)
            sched = scheduler_tasks(client)
            if sum(v for k, v in sched["states"].items() if k in ("memory", "released")) > 0:
                break
        out["scheduler_has_all_s"] = time.perf_counter() - t0
        out["scheduler_states"] = sched["states"]
        out["rss_queued_mb"] = benchlib.rss_mb()

        def done_count() -> int:
            if mode == "ours":
                return ia.progress()["done"]
            return sum(f.status == "finished" for f in futures)

        t1, d1 = time.perf_counter(), done_count()
        time.sleep(window)
        t2, d2 = time.perf_counter(), done_count()
        out["window_rate"] = (d2 - d1) / (t2 - t1)
        out["window_s"] = t2 - t1
        if finish:
            if mode == "ours":
                ia.wait(timeout=3600)
            else:
                client.gather(futures)
            out["all_done_s"] = time.perf_counter() - t0
        out["done"] = done_count()
        sampler.stop()
        out["rss_peak_mb"] = sampler.peak
        out["writer_peak_mb"] = sampler.other_peak
        t3 = time.perf_counter()
        if mode != "ours":
            del futures  # the cluster closes with the ImageAdder; ours cancels its own futures in close()
    out["close_s"] = time.perf_counter() - t3
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--window", type=float, default=10.0, help="seconds of processing measured after submit")
    ap.add_argument("--finish-up-to", type=int, default=10_000, help="run cases up to this size to the end")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", nargs=5, metavar=("MODE", "FOLDER", "N", "WINDOW", "TMP"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.child:
        mode, folder, n, window, tmp = args.child
        res = child(mode, folder, int(n), float(window), int(n) <= args.finish_up_to, tmp)
        print("RESULT " + json.dumps(res))
        return 0
    info = benchlib.machine()
    tmp = benchlib.scratch_dir("bench-scale-")
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for n in sizes:
        t0 = time.perf_counter()
        folder = benchlib.dummy_files(tmp / f"images{n}", n)
        made = time.perf_counter() - t0
        for mode in ("dask", "ours"):
            cmd = [sys.executable, __file__, "--child", mode, str(folder), str(n), str(args.window), str(tmp),
                   "--finish-up-to", str(args.finish_up_to)]
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(__file__))
            line = [l for l in res.stdout.splitlines() if l.startswith("RESULT ")]
            if res.returncode or not line:
                print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"case {mode} {n} failed")
            r = json.loads(line[0][len("RESULT "):])
            r["files_made_s"] = made
            r["rss_growth_mb"] = r["rss_queued_mb"] - r["rss_before_mb"]
            r["kb_per_image"] = r["rss_growth_mb"] * 1024 / n
            r["peak_growth_mb"] = r["rss_peak_mb"] - r["rss_before_mb"]
            r["writer_growth_mb"] = r["writer_peak_mb"] - r["writer_before_mb"]
            r["submit_ms_per_image"] = r["submit_s"] / n * 1000
            results.append(r)
            print(f"  {mode} {n}: submit {r['submit_s']:.1f} s, RSS +{r['rss_growth_mb']:.0f} MB", flush=True)
    for r in results:
        r["label"] = "ours: add_images" if r["mode"] == "ours" else "plain Dask: client.map"
        base = next(b for b in results if b["mode"] == "dask" and b["images"] == r["images"])
        r["submit_vs_dask"] = r["submit_s"] / base["submit_s"]
        r["mem_vs_dask"] = r["rss_growth_mb"] / base["rss_growth_mb"] if base["rss_growth_mb"] > 0 else None
    print(f"Scale benchmark: no-op images, 2 local workers, SQLite; {benchlib.machine_line(info)}")
    print(benchlib.table(results, [
        ("label", "case", ""), ("images", "images", ",d"), ("submit_s", "submit s", ".2f"),
        ("submit_ms_per_image", "ms/image", ".3f"), ("scheduler_has_all_s", "sched has all s", ".1f"),
        ("rss_before_mb", "RSS before MB", ".0f"), ("rss_growth_mb", "RSS +MB queued", ".0f"),
        ("kb_per_image", "KB/image", ".1f"), ("peak_growth_mb", "RSS +MB peak", ".0f"),
        ("writer_growth_mb", "writer +MB", ".0f"), ("window_rate", "images/s in window", ".0f"),
        ("all_done_s", "all done s", ".1f"), ("close_s", "close s", ".1f"),
        ("submit_vs_dask", "submit vs Dask", ".2f"), ("mem_vs_dask", "memory vs Dask", ".2f")]))
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        print(f"Growth {lo:,} -> {hi:,} images ({hi / lo:.0f}x):")
        for mode in ("dask", "ours"):
            a = next(r for r in results if r["mode"] == mode and r["images"] == lo)
            b = next(r for r in results if r["mode"] == mode and r["images"] == hi)
            print(f"  {a['label']}: submit time x{b['submit_s'] / a['submit_s']:.1f}, until the scheduler holds all "
                  f"x{b['scheduler_has_all_s'] / a['scheduler_has_all_s']:.1f}, RSS when queued "
                  f"x{b['rss_growth_mb'] / max(a['rss_growth_mb'], 1e-9):.1f}, images/s in the window "
                  f"{a['window_rate']:.0f} -> {b['window_rate']:.0f}")
    benchlib.write_json(args.json, {"benchmark": "scale", "machine": info, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
