"""ImageAdder end to end on the real sample images, on the embedded SQLite default."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import h5py
import Pyro5.api
import Pyro5.errors
import psutil
import pytest

from autocnet_jobs import ImageAdder, InputDirectoryError, queries
from autocnet_jobs.errors import ConfigError, ImageError

from . import faults
from .conftest import DATA_DIR
from .helpers import children, config, listening_ports, pids_with_file_open, tiny_files

MAP_PROJECTED = ["no_change_before.cub", "ESP_014038_1415_RED0.30421_33069.boulder_shift.before.cub",
                 "ldem_4_reduced.cub", "WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub",
                 "dawnEqui1.cub"]
KNOWN_KINDS = {c.kind for c in ImageError.__subclasses__()} | {"timeout", "worker_died", "unexpected_error"}


def test_every_sample_ends_terminal_with_typed_reason(sample_run):
    files = sorted(str(sample_run["images"] / p.name) for p in DATA_DIR.iterdir())
    assert sorted(sample_run["submitted"]) == files
    status = sample_run["status"]
    assert set(status) == set(files)
    for path, state in status.items():
        if state is not True:
            assert path in sample_run["failed"], path
            f = sample_run["failures"][path]
            assert f["kind"] in KNOWN_KINDS and f["message"], f
    # The detached PDS .img cannot be opened alone: a typed error, not a crash.
    raw = str(sample_run["images"] / "MI_MAP_03_N51E124N50E125SC_cropped.img")
    assert sample_run["failures"][raw]["kind"] == "unsupported_format"
    assert sample_run["failures"][raw]["attempts"] == 1  # permanent: not retried


def test_map_projected_cubes_have_footprints(sample_run):
    rows = {r["name"]: r for r in queries.images(sample_run["cfg"]["database"]["url"])}
    for name in MAP_PROJECTED:
        assert sample_run["status"][str(sample_run["images"] / name)] is True
        fp = rows[name]["footprint"]
        assert fp is not None and not fp.is_empty and fp.is_valid and fp.geom_type == "MultiPolygon"
        assert -180 <= fp.bounds[0] and fp.bounds[2] <= 180


def test_keypoint_files_match_rows(sample_run):
    rows = queries.images(sample_run["cfg"]["database"]["url"], with_footprint=False)
    done = [p for p, s in sample_run["status"].items() if s is True]
    assert sorted(r["path"] for r in rows) == sorted(done)
    for r in rows:
        kp = Path(r["keypoints_path"])
        assert kp.parent == sample_run["images"]  # beside the image (the folder is writable)
        with h5py.File(kp) as f:
            assert f["keypoints"].shape[0] == r["n_keypoints"]
            assert f["descriptors"].shape[0] == r["n_keypoints"]
    assert not list(sample_run["images"].glob("*.tmp*"))


def test_only_the_writer_opened_the_database(sample_run):
    assert sample_run["openers"] == {sample_run["writer_pid"]}
    assert not psutil.pid_exists(sample_run["writer_pid"])


def test_jobs_table_is_current(sample_run):
    counts = queries.job_counts(sample_run["cfg"]["database"]["url"])
    status = sample_run["status"]
    assert counts["done"] == sum(s is True for s in status.values())
    assert counts["failed"] == len(sample_run["failed"])
    assert counts["queued"] == counts["running"] == 0


def test_adding_again_submits_nothing_and_force_redoes_one(sample_run):
    cfg, images = sample_run["cfg"], sample_run["images"]
    url = cfg["database"]["url"]
    target = images / "dawnEqui1.cub"
    before = {r["path"]: r for r in queries.images(url, with_footprint=False)}
    with ImageAdder(cfg, quiet=True) as ia:
        for ext in ("cub", "img", "lbl", "tif", "jp2"):
            assert ia.add_images(images, ext) == []
        assert ia.job_status[str(target)] is True
        assert ia.add_image(target, force=True) is True
        ia.wait(timeout=120)
        assert ia.job_status[str(target)] is True
    after = {r["path"]: r for r in queries.images(url, with_footprint=False)}
    assert len(after) == len(before)
    con = sqlite3.connect(sample_run["db"])
    assert con.execute("SELECT count(*) FROM images WHERE path = ?", (str(target),)).fetchone()[0] == 1
    con.close()
    assert after[str(target)]["id"] == before[str(target)]["id"]  # updated in place
    assert after[str(target)]["updated_at"] >= before[str(target)]["updated_at"]


def test_always_raising_extractor_fails_after_exactly_maxfailures(tmp_path):
    folder = tiny_files(tmp_path / "in", 3)
    with ImageAdder(config(tmp_path, cluster={"maxfailures": 2}), process=faults.always_raise, quiet=True) as ia:
        ia.add_images(folder, "CUB")  # extension matched case-insensitively
        ia.wait(timeout=120)
        assert sorted(ia.failed_jobs) == sorted(str(p) for p in folder.iterdir())
        for path in ia.failed_jobs:
            f = ia.failure(path)
            assert f["attempts"] == 2 and len(f["history"]) == 2
            assert f["type"] == "RuntimeError" and "injected failure" in f["message"]
            assert "always_raise" in f["traceback"]
            assert ia.job_status[path] == 2
    rows = queries.job_rows(config(tmp_path)["database"]["url"], state="failed")
    assert [r["attempts"] for r in rows] == [2, 2, 2]


def test_real_extractor_parameter_opencv_rejects_is_refused_before_anything_starts(tmp_path):
    """A parameter the real OpenCV extractor rejects once failed every image, maxfailures attempts each, as a
    retried extraction_error: it is the config's error, so the adder refuses it before a writer, a callback
    daemon or a cluster exists (no process started, no catalogue created)."""
    cfg = config(tmp_path, cluster={"maxfailures": 3}, extractor={"parameters": {"no_such_parameter": 1}})
    before = children()
    with pytest.raises(ConfigError, match=r"extractor\.parameters.*'no_such_parameter'.*sift takes nfeatures"):
        ImageAdder(cfg, quiet=True)
    assert children() == before and not (tmp_path / "catalogue.db").exists()


def test_callback_without_token_is_refused(tmp_path):
    with ImageAdder(config(tmp_path), quiet=True) as ia:
        with pytest.raises(Pyro5.errors.CommunicationError):
            with Pyro5.api.Proxy(ia.callback_uri) as p:
                p.ping()
        with pytest.raises(Pyro5.errors.CommunicationError):
            with Pyro5.api.Proxy(ia.callback_uri) as p:
                p._pyroHandshake = "not-the-token"
                p.ping()
        with Pyro5.api.Proxy(ia.callback_uri) as p:  # the run's own token is accepted
            p._pyroHandshake = ia._token
            assert p.ping() == "pong"
        assert ia.callback_uri.split("@")[1].startswith("127.0.0.1:")


def test_two_adders_side_by_side_and_close_leaves_nothing(tmp_path):
    before_children = children()
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_in, b_in = tiny_files(a_dir / "in", 20), tiny_files(b_dir / "in", 20)
    ia = ImageAdder(config(a_dir), process=faults.tiny_record, quiet=True)
    ib = ImageAdder(config(b_dir), process=faults.tiny_record, quiet=True)
    try:
        assert ia.callback_uri != ib.callback_uri
        ports = {int(u.rsplit(":", 1)[1]) for u in (ia.callback_uri, ib.callback_uri)}
        ports |= {int(x.split(":")[2].split("/")[0]) for x in (ia.dashboard_link, ib.dashboard_link)}
        ports |= {int(c.scheduler.address.rsplit(":", 1)[1]) for c in (ia.client, ib.client)}
        assert ports <= listening_ports(os.getpid())
        ia.add_images(a_in, "cub")
        ib.add_images(b_in, "cub")
        ia.wait(60)
        ib.wait(60)
        assert all(v is True for v in ia.job_status.values()) and len(ia.job_status) == 20
        assert all(v is True for v in ib.job_status.values()) and len(ib.job_status) == 20
        workers = children() - before_children
        assert len(workers) >= 6  # 2 workers + 2 nannies... and a writer, per adder
    finally:
        ia.close()
        ib.close()
    deadline = time.time() + 30
    while time.time() < deadline and any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                                         for p in workers):
        time.sleep(0.2)
    alive = [p for p in workers if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == []
    assert not (ports & listening_ports())
    assert not [t for t in threading.enumerate() if t.name in ("autocnet-pyro", "autocnet-tracker")]


def test_missing_directory_is_a_clear_error(tmp_path):
    with ImageAdder(config(tmp_path), quiet=True) as ia:
        with pytest.raises(InputDirectoryError, match="does not exist"):
            ia.add_images(tmp_path / "nope", "cub")
        (tmp_path / "file.cub").write_text("x")
        with pytest.raises(InputDirectoryError, match="not a directory"):
            ia.add_images(tmp_path / "file.cub", "cub")


def test_same_stem_images_in_one_run_each_keep_their_keypoints(tmp_path):
    # x.cub and x.CUB both match --ext cub and run at the same time on the two workers; both want "x_kps.h5".
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "x.cub").symlink_to(DATA_DIR / "e0902065.cal.sub.cub")
    (folder / "x.CUB").symlink_to(DATA_DIR / "AS15-M-0297_crop.cub")
    with ImageAdder(config(tmp_path), quiet=True) as ia:
        ia.add_images(folder, "cub")
        ia.wait(300)
        assert set(ia.job_status.values()) == {True}
    rows = queries.images(config(tmp_path)["database"]["url"])
    kps = {r["path"]: r["keypoints_path"] for r in rows}
    assert len(kps) == 2 and len(set(kps.values())) == 2
    for row in rows:
        with h5py.File(row["keypoints_path"], "r") as h5:
            assert h5.attrs["source_path"] == row["path"] and len(h5["keypoints"]) == row["n_keypoints"] > 0


def test_recursive_add_takes_subfolders_and_their_same_named_images(tmp_path):
    # An archive tree: the same file name in two volumes, one upper-case extension deeper down, a file of
    # another type, and a symlink loop the walk must not follow.
    import subprocess
    import sys

    root = tmp_path / "archive"
    for sub in ("vol1/data", "vol2/data/deep"):
        (root / sub).mkdir(parents=True)
    (root / "vol1/data/img.cub").symlink_to(DATA_DIR / "e0902065.cal.sub.cub")
    (root / "vol2/data/img.cub").symlink_to(DATA_DIR / "AS15-M-0297_crop.cub")
    (root / "vol2/data/deep/other.CUB").symlink_to(DATA_DIR / "F704b51.lev1_slo_crop.cub")
    (root / "vol2/data/RGB.byte.tif").symlink_to(DATA_DIR / "RGB.byte.tif")
    (root / "vol2/data/deep/loop").symlink_to(root / "vol2")
    expected = sorted(str(root / p) for p in ("vol1/data/img.cub", "vol2/data/img.cub", "vol2/data/deep/other.CUB"))
    cfg = config(tmp_path)
    with ImageAdder(cfg, quiet=True) as ia:
        assert ia.add_images(root, "cub") == []  # not recursive: nothing directly in the root
    out = subprocess.run([str(Path(sys.executable).with_name("autocnet-jobs")), "add", str(root), "--ext", "cub",
                          "-r", "--output-dir", str(tmp_path / "kps"), "--db", cfg["database"]["url"],
                          "--no-progress", "--strict"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = queries.images(cfg["database"]["url"])
    assert sorted(r["path"] for r in rows) == expected
    kps = {r["path"]: r["keypoints_path"] for r in rows}
    assert len(set(kps.values())) == 3 and all(p.startswith(str(tmp_path / "kps")) for p in kps.values())
    for row in rows:
        with h5py.File(row["keypoints_path"], "r") as h5:
            assert h5.attrs["source_path"] == row["path"]
