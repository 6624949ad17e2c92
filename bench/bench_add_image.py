"""``add_image`` in a loop: the total time must grow linearly with the number of files (issue 16), not with its
square, as it did when every call read the whole catalogue.

For 5,000, 10,000 and 20,000 zero-byte files, a fresh ImageAdder (no-op per-image function, 2 local workers,
SQLite) whose catalogue already holds the first half of the files (committed by an earlier adder, so the calls
also look them up), then ``for p in paths: ia.add_image(p)``; timed is the loop only (the processing runs
behind it). Linear means the time per call stays the same at every size.

    .venv/bin/python bench/bench_add_image.py [--sizes 5000,10000,20000] [--json out.json]
"""
from __future__ import annotations

import argparse
import sys
import time

import benchlib
import cloudpickle
import noop

cloudpickle.register_pickle_by_value(noop)

TARGET_GROWTH = 1.25  # time per call at the largest size over the smallest: linear within this


def run(n: int, tmp) -> dict:
    from autocnet_jobs import ImageAdder

    folder = benchlib.dummy_files(tmp / f"images{n}", n)
    paths = sorted(str(p) for p in folder.iterdir())
    cfg = {"database": {"url": f"sqlite:///{tmp / f'catalogue{n}.db'}"}, "cluster": {"n_workers": 2},
           "output": {"dir": str(tmp / "kps")}}
    with ImageAdder(cfg, process=noop.noop_record, quiet=True) as ia:  # the catalogue holds the first half
        for p in paths[: n // 2]:
            ia.add_image(p)
        ia.wait(600)
    with ImageAdder(cfg, process=noop.noop_record, quiet=True) as ia:
        t0 = time.perf_counter()
        started = sum(ia.add_image(p) for p in paths)
        loop_s = time.perf_counter() - t0
        ia.wait(600)
        assert started == n - n // 2 and len(ia.skipped) == n // 2, (started, len(ia.skipped))
    return {"images": n, "loop_s": loop_s, "us_per_call": loop_s / n * 1e6, "started": started}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5000,10000,20000")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    info = benchlib.machine()
    tmp = benchlib.scratch_dir("bench-add-image-")
    rows = [run(int(n), tmp) for n in args.sizes.split(",")]
    for row in rows:
        row["vs_smallest"] = row["us_per_call"] / rows[0]["us_per_call"]
    print(f"add_image in a loop (half the files already in the catalogue); {benchlib.machine_line(info)}")
    print(benchlib.table(rows, [("images", "files", ",d"), ("loop_s", "loop s", ".2f"),
                                ("us_per_call", "µs per call", ".0f"), ("vs_smallest", "per call vs smallest", ".2f")]))
    growth = rows[-1]["us_per_call"] / rows[0]["us_per_call"]
    print(f"time per call x{growth:.2f} from {rows[0]['images']:,} to {rows[-1]['images']:,} files "
          f"(linear: <= {TARGET_GROWTH}): {benchlib.verdict(growth <= TARGET_GROWTH)}")
    benchlib.write_json(args.json, {"benchmark": "add_image", "machine": info, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
