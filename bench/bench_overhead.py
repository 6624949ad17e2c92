"""Per-image orchestration overhead: 20,000 files through ImageAdder with a no-op per-image function.

Ours: ``ImageAdder(cfg, process=noop_record)``; ``add_images`` then ``wait()`` on 2 local workers; the time per
image covers submit, the task, two Pyro5 callbacks, tracking, the writer's batched commit to SQLite, and the
acknowledgement. Baselines, on the same Dask cluster in the same run: plain Dask (``client.map`` of the same
function, ``gather``: Dask's own per-task cost, no tracking, no callbacks, no database) and the bare function in
a loop (what the work itself costs).

Where the time goes: CPU seconds per thread of the adder process (the Dask scheduler runs on its event-loop
thread there), of the writer and of the workers, and the time ``add_images`` takes to return. ``--profile``
adds a cProfile of the tracker thread and of the scheduler's event loop (a second run; cProfile slows both).

Targets (issue 16): ours at most 0.5 ms per image and at least 6x faster than plain Dask with one task per
image. Where the config has ``cluster.security`` (TLS, issue 17), ours runs once more with ``security: none``
beside the default, so the table shows TLS's cost per image.

    .venv/bin/python bench/bench_overhead.py [--images 20000] [--profile] [--json out.json]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import threading
import time
from pathlib import Path

import benchlib
import cloudpickle
import noop
import psutil

cloudpickle.register_pickle_by_value(noop)

TARGET_MS = 0.5
TARGET_VS_DASK = 6.0  # ours at least this many times faster than plain Dask, one image per task
BATCH = 10


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of each thread of this process, by thread name (unnamed native threads summed)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for t in psutil.Process().threads():
        name = names.get(t.id, "other (native)")
        for prefix in ("Dask-Offload", "ThreadPoolExecutor", "Dask-Default-Threads", "Dask-Callback"):
            if name.startswith(prefix):
                name = prefix + "*"
        out[name] = out.get(name, 0.0) + t.user_time + t.system_time
    return out


def proc_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            c = psutil.Process(pid).cpu_times()
            total += c.user + c.system
        except psutil.NoSuchProcess:
            pass
    return total


def worker_pids(client) -> list[int]:
    return list(client.run(os.getpid).values())


def start_profile():
    prof = cProfile.Profile()
    prof.enable()
    import builtins

    builtins._bench_profile = prof


def stop_profile() -> str:
    import builtins

    prof = builtins._bench_profile
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
    return out.getvalue()


def run_ours(cfg: dict, folder: Path, n: int, profile: bool = False, baselines: bool = True) -> dict:
    from autocnet_jobs import ImageAdder
    from autocnet_jobs.engine.tracker import JobTracker

    tracker_prof = cProfile.Profile() if profile else None
    original = JobTracker._run

    def profiled_run(self):
        tracker_prof.enable()
        try:
            original(self)
        finally:
            tracker_prof.disable()

    if profile:
        JobTracker._run = profiled_run
    try:
        t0 = time.perf_counter()
        ia = ImageAdder(cfg, process=noop.noop_record, quiet=True)
        startup = time.perf_counter() - t0
    finally:
        JobTracker._run = original
    with ia:
        client = ia.client
        workers = worker_pids(client)
        writer = ia._tracker.writer.process.pid  # the bench looks inside on purpose: CPU of the writer process
        # Warm up both paths (imports, connections, the writer's first commit) outside the measurement.
        warm = benchlib.dummy_files(folder.parent / "warm", 50)
        ia.add_images(warm, "cub")
        ia.wait(timeout=300)
        futs = client.map(noop.noop_record, [str(p) for p in sorted(warm.iterdir())], settings={}, pure=False)
        client.gather(futs)
        del futs
        result = {"startup_s": startup}
        paths = sorted(str(p) for p in folder.iterdir())

        # Baseline: plain Dask on the same cluster, one task per image (the floor of a one-task-per-image design
        # under our scheduler settings), then 10 images per task (what batching would leave of it).
        if baselines:
            baseline_runs(client, paths, workers, result)

        # Ours.
        if profile:
            client.run_on_scheduler(start_profile)
        cpu0, w0, wr0 = thread_cpu(), proc_cpu(workers), proc_cpu([writer])
        t0 = time.perf_counter()
        submitted = ia.add_images(folder, "cub")
        result["submit_s"] = time.perf_counter() - t0
        ia.wait(timeout=3600)
        result["ours_s"] = time.perf_counter() - t0
        cpu1, w1, wr1 = thread_cpu(), proc_cpu(workers), proc_cpu([writer])
        result["peak_in_flight"] = ia._tracker.peak_in_flight  # the bench looks inside on purpose
        result["in_flight_limit"] = ia._tracker.in_flight_limit()
        result["seconds_per_image"] = ia._tracker.seconds_per_image
        if profile:
            result["scheduler_profile"] = client.run_on_scheduler(stop_profile)
            out = io.StringIO()
            pstats.Stats(tracker_prof, stream=out).sort_stats("tottime").print_stats(18)
            result["tracker_profile"] = out.getvalue()
        status = ia.job_status
        assert len(submitted) == n and all(status[p] is True for p in submitted), ia.progress()
        result["threads_cpu_s"] = {k: round(cpu1.get(k, 0) - cpu0.get(k, 0), 2) for k in cpu1
                                   if cpu1.get(k, 0) - cpu0.get(k, 0) >= 0.01}
        result["workers_cpu_s"] = w1 - w0
        result["writer_cpu_s"] = wr1 - wr0
    return result


def baseline_runs(client, paths: list[str], workers: list[int], result: dict) -> None:
    """Plain Dask on our cluster: one image per task, then :data:`BATCH` per task."""
    settings = {}
    cpu0, w0 = thread_cpu(), proc_cpu(workers)
    t0 = time.perf_counter()
    futs = client.map(noop.noop_record, paths, settings=settings, pure=False)
    client.gather(futs)
    result["dask_s"] = time.perf_counter() - t0
    cpu1, w1 = thread_cpu(), proc_cpu(workers)
    result["dask_loop_cpu_s"] = cpu1.get("IO loop", 0) - cpu0.get("IO loop", 0)
    result["dask_workers_cpu_s"] = w1 - w0
    del futs
    time.sleep(1.0)  # let the scheduler forget the released tasks
    chunks = [paths[i:i + BATCH] for i in range(0, len(paths), BATCH)]
    t0 = time.perf_counter()
    futs = client.map(noop.noop_many, chunks, settings=settings, pure=False)
    client.gather(futs)
    result["dask_batched_s"] = time.perf_counter() - t0
    del futs
    time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="also run once under cProfile and print the top functions")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from autocnet_jobs import config as config_mod

    info = benchlib.machine()
    tmp = benchlib.scratch_dir("bench-overhead-")
    folder = benchlib.dummy_files(tmp / "images", args.images)
    cfg = {"database": {"url": f"sqlite:///{tmp / 'catalogue.db'}"}, "cluster": {"n_workers": args.workers},
           "output": {"dir": str(tmp / "kps")}}

    paths = sorted(str(p) for p in folder.iterdir())
    t0 = time.perf_counter()
    for p in paths:
        noop.noop_record(p, {})
    loop_s = time.perf_counter() - t0

    r = run_ours(cfg, folder, args.images)
    n = args.images
    ours_label = f"ours: add_images + wait ({args.workers} workers, SQLite)"
    tls = "security" in config_mod.defaults()["cluster"]
    if tls:
        ours_label += f", cluster.security: {config_mod.defaults()['cluster']['security']} (default)"
    rows = [
        {"method": "bare function in a loop (1 process)", "seconds": loop_s},
        {"method": "plain Dask: client.map + gather, 1 image/task", "seconds": r["dask_s"]},
        {"method": f"plain Dask: client.map + gather, {BATCH} images/task", "seconds": r["dask_batched_s"]},
        {"method": ours_label, "seconds": r["ours_s"]},
    ]
    plain = None
    if tls:  # TLS off beside it: what TLS costs per image
        folder2 = benchlib.dummy_files(tmp / "images-plain", n)
        cfg2 = dict(cfg, database={"url": f"sqlite:///{tmp / 'catalogue-plain.db'}"},
                    cluster=dict(cfg["cluster"], security="none"))
        plain = run_ours(cfg2, folder2, n, baselines=False)
        rows.append({"method": "ours, cluster.security: none", "seconds": plain["ours_s"]})
    for row in rows:
        row["ms_per_image"] = row["seconds"] / n * 1000
        row["images_per_s"] = n / row["seconds"]
        row["vs_dask"] = row["seconds"] / r["dask_s"]
    print(f"Overhead benchmark: {n} images, no-op per-image function; {benchlib.machine_line(info)}")
    print(benchlib.table(rows, [("method", "method", ""), ("seconds", "time s", ".2f"),
                                ("ms_per_image", "ms/image", ".3f"), ("images_per_s", "images/s", ",.0f"),
                                ("vs_dask", "time vs plain Dask", ".2f")]))
    ours_ms = rows[3]["ms_per_image"]
    speedup = r["dask_s"] / r["ours_s"]
    met = ours_ms <= TARGET_MS and speedup >= TARGET_VS_DASK
    print(f"ours: {ours_ms:.3f} ms per image (target <= {TARGET_MS} ms), {speedup:.1f}x faster than plain Dask "
          f"1 image/task (target >= {TARGET_VS_DASK:.0f}x): {benchlib.verdict(met)}")
    if plain is not None:
        cost = (r["ours_s"] - plain["ours_s"]) / n * 1000
        print(f"TLS costs {cost:+.3f} ms per image, {cost / (plain['ours_s'] / n * 1000):+.0%} of the per-image "
              "overhead without it")
    spi = r["seconds_per_image"]
    print(f"tasks in Dask at most {r['peak_in_flight']} (limit {r['in_flight_limit']}); mean time per image on the "
          f"workers {spi * 1e3 if spi else float('nan'):.3f} ms, so images_per_task auto gives "
          f"{min(128, int(1.0 / spi)) if spi else 1} per task")
    wall = r["ours_s"]
    print(f"\nWhere the time goes (ours, {wall:.1f} s wall, {os.cpu_count()} cores = {wall * os.cpu_count():.1f} "
          f"core-seconds):")
    print(f"  ImageAdder start (cluster, writer, Pyro): {r['startup_s']:.1f} s, not counted above")
    print(f"  add_images returned after {r['submit_s']:.2f} s ({r['submit_s'] / n * 1000:.3f} ms per image: "
          f"stat, catalogue lookup, queueing)")
    cpu_rows = [{"where": f"adder thread: {k}", "cpu": v} for k, v in
                sorted(r["threads_cpu_s"].items(), key=lambda kv: -kv[1])]
    cpu_rows += [{"where": "writer process", "cpu": r["writer_cpu_s"]},
                 {"where": f"{args.workers} worker processes", "cpu": r["workers_cpu_s"]}]
    cpu_rows += [{"where": "plain Dask 1 image/task: adder IO loop", "cpu": r["dask_loop_cpu_s"]},
                 {"where": "plain Dask 1 image/task: worker processes", "cpu": r["dask_workers_cpu_s"]}]
    for row in cpu_rows:
        row["ms"] = row["cpu"] / n * 1000
        row["share"] = row["cpu"] / (r["dask_s"] if row["where"].startswith("plain") else wall)
    print(benchlib.table(cpu_rows, [("where", "CPU by", ""), ("cpu", "CPU s", ".2f"), ("ms", "ms/image", ".3f"),
                                    ("share", "cores busy", ".2f")]))
    profile = None
    if args.profile:
        folder3 = benchlib.dummy_files(tmp / "images3", n)
        cfg3 = dict(cfg, database={"url": f"sqlite:///{tmp / 'catalogue3.db'}"})
        profile = run_ours(cfg3, folder3, n, profile=True, baselines=False)
        print(f"\ncProfile run (slower under the profiler: {profile['ours_s']:.1f} s)")
        print("--- scheduler event loop thread (top by own time)")
        print(profile["scheduler_profile"])
        print("--- tracker thread (top by own time)")
        print(profile["tracker_profile"])
    benchlib.write_json(args.json, {"benchmark": "overhead", "machine": info, "images": n, "rows": rows,
                                    "breakdown": {k: v for k, v in r.items()}, "cpu": cpu_rows,
                                    "target_ms": TARGET_MS, "target_vs_dask": TARGET_VS_DASK, "target_met": met,
                                    "plain": plain, "profile": profile})
    return 0


if __name__ == "__main__":
    sys.exit(main())
