"""``add`` and ``retry``: the commands that run the engine, with a progress bar and a summary."""
from __future__ import annotations

import argparse
import os
import sys

from .options import UsageError, _config


def _check_directory(directory: str) -> None:
    if not os.path.isdir(directory):
        what = "does not exist" if not os.path.exists(directory) else "is not a directory"
        raise UsageError(f"cannot add images from {directory!r}: it {what}; give the folder holding the images")


def _check_new_catalogue(url: str) -> None:
    """A SQLite catalogue that ``add`` would create needs an existing folder (found now, not by the writer)."""
    from ..catalogue import queries

    path = queries.sqlite_file(url)
    if path is not None and os.path.isdir(path):
        raise UsageError(f"the catalogue {path} is a folder; give a file name: --db sqlite:///FILE")
    if path is not None and not os.path.isdir(os.path.dirname(path)):
        raise UsageError(f"cannot create the catalogue {path}: the folder {os.path.dirname(path)} does not exist "
                         "(--db / database.url)")


def cmd_add(args: argparse.Namespace) -> int:
    from ..adder import ImageAdder

    cfg = _config(args)
    _check_directory(args.directory)
    _check_new_catalogue(cfg["database"]["url"])
    if not _has_images(args.directory, args.ext, args.recursive):  # nothing to do: no cluster for it (as retry)
        where = f"{args.directory} or its subfolders" if args.recursive else args.directory
        print(f"0 images submitted: no file in {where} matches *.{args.ext}")
        return 0
    with ImageAdder(cfg) as ia:
        submitted = ia.add_images(args.directory, args.ext, force=args.force, recursive=args.recursive)
        skipped = list(ia.skipped.values())
        n_failed = skipped.count("failed")
        failed_before = f", {n_failed} failed before, not retried (use retry)" if n_failed else ""
        print(f"{len(submitted)} images submitted, {skipped.count('done')} already in the catalogue{failed_before}")
        return _finish(ia, args)


def _has_images(directory: str, ext: str, recursive: bool) -> bool:
    from ..adder import has_images

    try:
        return has_images(directory, ext, recursive)
    except OSError as exc:  # a folder that cannot be listed (permissions): a user error, found before a cluster
        raise UsageError(f"cannot add images from {directory!r}: it cannot be listed ({exc.strerror})") from None


def cmd_retry(args: argparse.Namespace) -> int:
    from ..adder import ImageAdder
    from ..catalogue import queries

    cfg = _config(args)
    url = cfg["database"]["url"]
    queries.require_catalogue(url)
    if not queries.job_counts(url)["failed"]:  # nothing to resubmit: no cluster for it
        print("0 failed images resubmitted (none in the catalogue)")
        return 0
    with ImageAdder(cfg) as ia:
        submitted = ia.retry_failed()
        print(f"{len(submitted)} failed images resubmitted")
        return _finish(ia, args)


def _finish(ia, args: argparse.Namespace) -> int:
    from ..views.progress import ProgressBar

    bar = None if args.no_progress else ProgressBar(sys.stderr)
    while True:
        counts = ia.progress()
        if bar:
            bar.update(counts)
        try:
            ia.wait(timeout=0.5)
            break
        except TimeoutError:
            continue
    if bar:
        bar.update(ia.progress(), final=True)
    _summary(ia)
    return 1 if args.strict and ia.failed_jobs else 0


def _summary(ia) -> None:
    counts = ia.progress()
    print(f"\n{'state':<10}{'images':>8}")
    for state in ("done", "failed"):
        print(f"{state:<10}{counts[state]:>8}")
    if ia.failed_jobs:
        print("\nfailed images:")
        for path in ia.failed_jobs:
            f = ia.failure(path)
            print(f"  {os.path.basename(path)}: {f['kind']} after {f['failures']} attempt(s): {f['message']}")
