"""Shared fixtures: where the real sample images are, and scratch folders of symlinks to them.

The sample images live outside the repository (``../shared/data/images``, or ``$AUTOCNET_TEST_DATA``) and are
never copied or written to: tests that ingest them work on a temp folder of symlinks, so keypoint files land in
the temp folder beside the links.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AUTOCNET_TEST_DATA", REPO.parent / "shared" / "data" / "images")).resolve()


def _data_listing() -> dict[str, tuple[int, int]]:
    """name -> (size, mtime in ns) of every entry in the data folder, hidden ones included."""
    if not DATA_DIR.is_dir():
        return {}
    return {p.name: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in DATA_DIR.iterdir()}


def _unlisted_files() -> list[str]:
    """Files in the data folder that its MANIFEST.tsv (beside it, first column) does not list."""
    manifest = DATA_DIR.parent / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    listed = {line.split("\t", 1)[0] for line in manifest.read_text().splitlines()[1:] if line.strip()}
    return sorted(set(_data_listing()) - listed)


def pytest_sessionstart(session):
    # Files left in the shared data folder (keypoint files of a run pointed at it) would be taken for images
    # and fail a dozen tests obscurely; say what is wrong instead.
    extra = _unlisted_files()
    if extra:
        pytest.exit(f"{DATA_DIR} holds files its MANIFEST.tsv does not list: {', '.join(extra[:5])}"
                    f"{' ...' if len(extra) > 5 else ''}; the sample folder must stay as shipped", returncode=3)
    session.config._autocnet_data_listing = _data_listing()


def pytest_sessionfinish(session, exitstatus):
    # Tests must never write to the shared data folder: fail the run if one did.
    before = getattr(session.config, "_autocnet_data_listing", None)
    after = _data_listing()
    if before is not None and after != before:
        changed = sorted(set(after.items()) ^ set(before.items()))
        print(f"\nERROR: the tests changed {DATA_DIR}: {[name for name, _ in changed][:5]}")
        session.exitstatus = 1


def sample(name: str) -> Path:
    """Path of one sample image by file name (fails the test, not skips, when the data is missing)."""
    path = DATA_DIR / name
    assert path.exists(), f"sample image {path} missing; set $AUTOCNET_TEST_DATA"
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA_DIR.is_dir(), f"sample images not found at {DATA_DIR}; set $AUTOCNET_TEST_DATA"
    return DATA_DIR


def link_images(dest: Path, names: list[str] | None = None) -> Path:
    """Fill ``dest`` with symlinks to the sample images (all, or ``names``) and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(DATA_DIR.iterdir()):
        if names is None or src.name in names:
            (dest / src.name).symlink_to(src)
    return dest


@pytest.fixture
def image_links(tmp_path: Path) -> Path:
    """A temp folder of symlinks to every sample image."""
    return link_images(tmp_path / "images")


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """Ingest every sample image once on SQLite (every extension present); watch who opens the database.

    Session-scoped: several test modules check this one run (and the PostGIS run is compared with it).
    """
    import threading
    import time

    from autocnet_jobs import ImageAdder

    from .helpers import config, pids_with_file_open

    tmp = tmp_path_factory.mktemp("run")
    images = link_images(tmp / "images")
    cfg = config(tmp)
    db = tmp / "catalogue.db"
    exts = sorted({p.suffix.lstrip(".").lower() for p in images.iterdir()})
    openers: set[int] = set()
    stop = threading.Event()

    def watch():  # sample during the run, not only at the end
        while not stop.is_set():
            if db.exists():
                openers.update(pids_with_file_open(db))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    with ImageAdder(cfg, quiet=True) as ia:
        watcher.start()
        submitted = []
        for ext in exts:
            submitted += ia.add_images(images, ext)
        ia.wait(timeout=600)
        stop.set()
        watcher.join()
        result = {"tmp": tmp, "images": images, "cfg": cfg, "db": db, "submitted": submitted, "exts": exts,
                  "status": ia.job_status, "failed": ia.failed_jobs,
                  "failures": {p: ia.failure(p) for p in ia.failed_jobs}, "openers": openers,
                  "writer_pid": ia._tracker.writer.pid}
    return result
