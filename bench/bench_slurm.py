"""Against the replaced design on the real local Slurm: one sbatch per image vs our SLURMCluster run.

Replaced design: one Slurm job per image (``sbatch --wrap "python bench/slurm_job.py IMAGE URL DIR"``); each job
starts Python, extracts its image with the same ``process_image``, opens its own PostGIS connection, inserts its
row, commits and exits. Timed from the first ``sbatch`` until ``squeue`` lists none of them.
Ours: ``ImageAdder`` with ``cluster.backend: slurm`` (dask-jobqueue), 2 worker jobs of 1 core and 1 GB, one
writer connection; timed from creating the ImageAdder (its worker jobs start inside the timing) to ``wait()``.
Both on the same images (sample images linked ``--copies`` times), the same PostGIS server, 1 core and 1 GB per job.

    .venv/bin/python bench/bench_slurm.py [--copies 2] [--json out.json]

Slurm: $SLURM_CONF, else a private single-node Slurm started (and stopped) by this script; PostGIS likewise
($AUTOCNET_TEST_PG_URL).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import benchlib

UNREADABLE = {"MI_MAP_03_N51E124N50E125SC_cropped.img", "MI_MAP_03_N51E124N50E125SC_cropped.lbl"}


def create_schema(url: str) -> None:
    from autocnet_jobs.catalogue.store import open_store

    store = open_store(url)
    store.connect()
    store.close()


def count_rows(url: str) -> int:
    import psycopg

    with psycopg.connect(benchlib.libpq(url)) as con:
        return con.execute("SELECT count(*) FROM images").fetchone()[0]


def replaced(paths: list[Path], url: str, workdir: Path) -> dict:
    name = f"bench-replaced-{uuid.uuid4().hex[:6]}"
    logs = workdir / "replaced-logs"
    logs.mkdir()
    job = Path(__file__).with_name("slurm_job.py")
    ids = []
    t0 = time.perf_counter()
    for p in paths:
        cmd = f"{sys.executable} {job} {p} '{url}' {workdir / 'replaced-kps'}"
        res = subprocess.run(["sbatch", "--parsable", "--job-name", name, "--cpus-per-task=1", "--mem=1G",
                              "--chdir", str(workdir), "--output", str(logs / "%j.out"), "--wrap", cmd],
                             capture_output=True, text=True, check=True)
        ids.append(res.stdout.strip().split(";")[0])
    submit_s = time.perf_counter() - t0
    while True:
        res = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], capture_output=True, text=True, check=True)
        if not res.stdout.split():
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    errors = [f.name for f in logs.iterdir() if "Traceback" in f.read_text(errors="replace")]
    return {"seconds": seconds, "submit_s": submit_s, "jobs": len(ids), "failed_jobs": len(errors)}


def ours(paths: list[Path], url: str, workdir: Path, workers: int) -> dict:
    from autocnet_jobs import ImageAdder

    cfg = {"database": {"url": url}, "output": {"dir": str(workdir / "ours-kps")},
           "cluster": {"backend": "slurm", "n_workers": workers,
                       "slurm": {"cores": 1, "memory": "1GB", "processes": 1, "interface": "lo",
                                 "log_directory": str(workdir / "ours-logs")}}}
    folder = paths[0].parent
    exts = sorted({p.suffix.lstrip(".").lower() for p in paths})
    t0 = time.perf_counter()
    with ImageAdder(cfg, quiet=True) as ia:
        started = time.perf_counter() - t0
        submitted = []
        for ext in exts:
            submitted += ia.add_images(folder, ext)
        ia.wait(timeout=3600)
        seconds = time.perf_counter() - t0
        done = sum(ia.job_status[p] is True for p in submitted)
        jobs = len(ia._backend.job_ids())  # the Slurm worker jobs of this run
    return {"seconds": seconds, "startup_s": started, "done": done, "submitted": len(submitted), "jobs": jobs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=2, help="links per sample image (24 samples)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    info = benchlib.machine()
    benchlib.slurm_conf()
    pg = benchlib.postgis_url()
    # Slurm jobs run as root in their own working directory: a folder they can all reach.
    tmp = benchlib.scratch_dir("bench-slurm-")
    os.chmod(tmp, 0o755)
    names = sorted(p.name for p in benchlib.DATA_DIR.iterdir() if p.name not in UNREADABLE)
    dbs = [benchlib.ScratchDatabase(pg, "replaced"), benchlib.ScratchDatabase(pg, "ours")]
    try:
        for db in dbs:
            create_schema(db.url)
        rep_paths = benchlib.link_samples(tmp / "replaced", args.copies, names)
        our_paths = benchlib.link_samples(tmp / "ours", args.copies, names)
        n = len(rep_paths)
        r = replaced(rep_paths, dbs[0].url, tmp)
        r["rows"] = count_rows(dbs[0].url)
        o = ours(our_paths, dbs[1].url, tmp, args.workers)
        o["rows"] = count_rows(dbs[1].url)
    finally:
        for db in dbs:
            db.drop()
    rows = [
        {"design": "replaced: 1 sbatch + 1 DB connection per image", "images": n, "slurm_jobs": r["jobs"],
         "connections": r["jobs"], "rows": r["rows"], "seconds": r["seconds"], "rate": n / r["seconds"],
         "ratio": 1.0},
        {"design": f"ours: SLURMCluster, {args.workers} worker jobs, 1 writer", "images": n,
         "slurm_jobs": o["jobs"], "connections": 1, "rows": o["rows"], "seconds": o["seconds"],
         "rate": n / o["seconds"], "ratio": r["seconds"] / o["seconds"]},
    ]
    print(f"Slurm benchmark: {n} images (24 samples x {args.copies}), 1 core + 1 GB per job, PostGIS; "
          f"{benchlib.machine_line(info)}")
    print(benchlib.table(rows, [("design", "design", ""), ("images", "images", "d"),
                                ("slurm_jobs", "Slurm jobs", "d"), ("connections", "DB connections", "d"),
                                ("rows", "rows", "d"), ("seconds", "time s", ".1f"), ("rate", "images/s", ".2f"),
                                ("ratio", "speed vs replaced", ".1f")]))
    print(f"replaced: {r['submit_s']:.1f} s to submit {r['jobs']} jobs; {r['failed_jobs']} job logs with a traceback")
    print(f"ours: ImageAdder up (worker jobs submitted, writer connected) after {o['startup_s']:.1f} s, "
          f"{o['done']}/{o['submitted']} done")
    benchlib.write_json(args.json, {"benchmark": "slurm", "machine": info, "images": n, "rows": rows,
                                    "replaced": r, "ours": o})
    return 0


if __name__ == "__main__":
    sys.exit(main())
