"""The command line's user errors (issue 14, items 9 and 10): exit code 2 and one line saying what is wrong and
what is accepted, found before a cluster starts; commands that only read never create a catalogue.

Most cases call ``cli.main`` in this process (argparse's own exit included) against a real catalogue that
``autocnet-jobs add`` built from two sample images; the ones about what a whole run would start or leave behind
run the installed ``autocnet-jobs`` in a subprocess.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autocnet_jobs import cli

from .conftest import link_images, sample

CLI = str(Path(sys.executable).with_name("autocnet-jobs"))
APOLLO = ["AS15-M-0297_crop.cub", "AS15-M-0298_crop.cub"]   # the Moon near 145°E, 20°S, overlapping


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``cli.main(argv)``, argparse's SystemExit included."""
    try:
        rc = cli.main(list(argv))
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def run_cli(*argv: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "autocnet_config"}
    return subprocess.run([CLI, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def assert_user_error(rc: int, err: str, *expected: str) -> None:
    """Exit 2 and exactly one line on stderr, naming what is wrong (``expected`` fragments), no traceback."""
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("autocnet-jobs"), err
    for text in expected:
        assert text in err, err


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> dict:
    """Two sample cubes ingested by the CLI itself into a SQLite catalogue."""
    tmp = tmp_path_factory.mktemp("cli")
    images = link_images(tmp / "images", APOLLO)
    url = f"sqlite:///{tmp / 'catalogue.db'}"
    res = run_cli("add", str(images), "--ext", "cub", "--db", url, "--output-dir", str(tmp / "kps"),
                  "--no-progress", cwd=tmp)
    assert res.returncode == 0, res.stderr
    return {"url": url, "images": images, "tmp": tmp}


# ---- item 9: inputs checked first; a catalogue that does not exist --------------------------------------------
def test_add_of_a_missing_folder_starts_nothing_and_creates_nothing(tmp_path):
    res = run_cli("add", str(tmp_path / "no-such-dir"), "--ext", "cub", "--no-progress", cwd=tmp_path)
    assert_user_error(res.returncode, res.stderr, "no-such-dir", "does not exist")
    # No cluster, no callback daemon, no writer (which would have created ./autocnet.db, the default catalogue).
    assert "Dask dashboard" not in res.stdout + res.stderr and "Callback URI" not in res.stdout + res.stderr
    assert listing(tmp_path) == []


def test_add_into_a_folder_that_does_not_exist_is_refused_before_starting(tmp_path):
    images = link_images(tmp_path / "images", APOLLO[:1])
    res = run_cli("add", str(images), "--ext", "cub", "--db", f"sqlite:///{tmp_path}/no/such/c.db",
                  "--no-progress", cwd=tmp_path)
    assert_user_error(res.returncode, res.stderr, str(tmp_path / "no" / "such"), "does not exist")
    assert "Dask dashboard" not in res.stdout and listing(tmp_path) == ["images", "images/AS15-M-0297_crop.cub"]


def test_add_with_no_file_matching_says_so_and_starts_nothing(tmp_path):
    """Nothing to do is no error (as ``retry`` with nothing failed): exit 0 and one line, but no cluster started
    and no catalogue created for it. The match rule is add_images' own: a .cub in a subfolder needs -r."""
    from autocnet_jobs.adder import has_images

    images = link_images(tmp_path / "images" / "sub", APOLLO[:1]).parent
    (images / "notes.txt").write_text("not an image\n")
    before = listing(tmp_path)
    res = run_cli("add", str(images), "--ext", "cub", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"0 images submitted: no file in {images} matches *.cub", res.stdout
    assert "Dask dashboard" not in res.stdout + res.stderr and "Callback URI" not in res.stdout + res.stderr
    assert listing(tmp_path) == before  # no ./autocnet.db, the default catalogue
    assert not has_images(images, "CUB") and has_images(images, "CUB", recursive=True)
    assert has_images(images / "sub", "cub") and has_images(images, ".TXT")


def test_add_with_an_extractor_parameter_opencv_rejects_is_a_user_error(tmp_path):
    """It would fail every image (retried maxfailures times each); found in the config, before any cluster."""
    images = link_images(tmp_path / "images", APOLLO[:1])
    site = tmp_path / "site.yml"
    site.write_text("extractor:\n  parameters:\n    nOctaveLayerz: 3\n")
    before = listing(tmp_path)
    res = run_cli("add", str(images), "--ext", "cub", "--config", str(site), "--no-progress", cwd=tmp_path)
    assert_user_error(res.returncode, res.stderr, "extractor.parameters", "'nOctaveLayerz'", "sift takes nfeatures",
                      str(site))
    assert "Dask dashboard" not in res.stdout + res.stderr and "Callback URI" not in res.stdout + res.stderr
    assert listing(tmp_path) == before


READ_ONLY = [["status"], ["status", "--detail", "--json"], ["failed"], ["query", "--bbox", "140", "-25", "150", "-15"],
             ["export"], ["plot", "--out", "map.png"], ["report", "--out", "r.html"], ["retry"]]


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: " ".join(a))
def test_read_only_commands_on_a_missing_sqlite_catalogue_say_so_and_create_nothing(tmp_path, argv):
    res = run_cli(*argv, "--db", "sqlite:///typo.db", cwd=tmp_path)
    assert_user_error(res.returncode, res.stderr, str(tmp_path / "typo.db"), "does not exist")
    assert listing(tmp_path) == []


def test_read_only_commands_on_files_and_urls_that_are_no_catalogue(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("not a database\n")
    (tmp_path / "folder.db").mkdir()
    before = listing(tmp_path)
    cases = {f"sqlite:///{tmp_path}/notes.txt": "file is not a database",
             f"sqlite:///{tmp_path}/folder.db": "is a folder",
             "sqlite://": "in-memory",
             "notaurl": "sqlite:///FILE, a path to a .db/.sqlite/.sqlite3/.gpkg file or postgresql+psycopg://",
             "mysql://u@h/db": "sqlite:///FILE, a path to a .db/.sqlite/.sqlite3/.gpkg file or postgresql+psycopg://"}
    for url, expected in cases.items():
        assert_user_error(*run_main(capsys, "status", "--db", url)[::2], expected)
    assert "u@h" not in run_main(capsys, "status", "--db", "mysql://u@h/db")[2]  # may hold a password
    assert listing(tmp_path) == before


def test_db_takes_a_plain_sqlite_path(tmp_path, capsys, monkeypatch):
    """Issue 25 item 5: ``--db cat.db`` is the SQLite file cat.db, new or existing, relative to the folder."""
    from autocnet_jobs import config
    monkeypatch.chdir(tmp_path)
    assert config.database_url("cat.db") == f"sqlite:///{tmp_path}/cat.db"
    assert config.database_url("~/x.gpkg").startswith("sqlite:////")
    assert config.database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert config.database_url("notaurl") == "notaurl"                  # still refused by the check
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.tif").symlink_to(sample("RGB.byte.tif"))
    res = run_cli("add", str(images), "--ext", "tif", "--db", "cat.db", "--output-dir", "kps", "--no-progress",
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cat.db").is_file()
    rc, out, err = run_main(capsys, "status", "--db", "cat.db")           # an existing file, by its path
    assert rc == 0 and "done" in out, err


def test_read_only_commands_on_postgis_without_a_catalogue(capsys, postgis_url, fresh_pg_db):
    from .services import with_database

    assert_user_error(*run_main(capsys, "status", "--db", fresh_pg_db)[::2], "has no images table")
    assert_user_error(*run_main(capsys, "failed", "--db", fresh_pg_db)[::2], "has no images table")
    missing = with_database(postgis_url, "autocnet_no_such_database")
    assert_user_error(*run_main(capsys, "status", "--db", missing)[::2], "autocnet_no_such_database")


def test_retry_with_nothing_failed_starts_no_cluster(catalogue, tmp_path):
    res = run_cli("retry", "--db", catalogue["url"], "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "0 failed images resubmitted" in res.stdout and "Dask dashboard" not in res.stdout + res.stderr


# ---- item 10: every argument's bad values ---------------------------------------------------------------------
BAD = [
    (["query", "--wkt", "POLYGON((bad"], ["--wkt", "not valid WKT", "POLYGON((0 0, 10 0"]),
    (["query", "--wkt", "POLYGON EMPTY"], ["--wkt", "empty geometry"]),
    (["query", "--wkt", "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"], ["--wkt", "invalid geometry", "Self-intersection"]),
    (["query", "--wkt", "POINT(3000000 200000)"], ["--wkt", "out of lon/lat range", "-180..180"]),
    (["query", "--since", "yesterday"], ["--since", "'yesterday' is not a time", "2026-11-30", "2d"]),
    (["query", "--since", "2026-13-01"], ["--since", "ISO date"]),
    (["query", "--bbox", "a", "0", "1", "1"], ["--bbox", "expected a number", "'a'"]),
    (["query", "--bbox", "nan", "0", "1", "1"], ["--bbox", "expected a number"]),
    (["query", "--bbox", "0", "0", "1"], ["--bbox", "expected 4 arguments"]),
    (["query", "--bbox", "0", "10", "1", "-10"], ["--bbox", "-90 <= minlat <= maxlat <= 90"]),
    (["query", "--bbox", "0", "-95", "1", "0"], ["--bbox", "-90 <= minlat"]),
    (["query", "--bbox", "200", "0", "220", "10"], ["--bbox", "-180..180", "subtract 360"]),
    (["query", "--overlapping", "/no/such/image.cub"], ["/no/such/image.cub is not in the catalogue"]),
    (["query", "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
    (["query", "--body", "Marz"], ["--body Marz", "no image of that body", "Moon"]),
    (["query", "--from", "2021-01-01", "--to", "2020-06-01"], ["--from/--to", "ends", "before", "starts"]),
    (["query", "--from", "yesterday"], ["--from", "'yesterday' is not a time"]),
    (["query", "--incidence", "70", "40"], ["incidence range 70..40", "low end is above the high end"]),
    (["query", "--resolution", "fine", "6"], ["--resolution", "expected a number", "'fine'"]),
    (["query", "--emission", "10"], ["--emission", "expected 2 arguments"]),
    (["export", "--format", "stac"], ["--format stac needs --out DIR"]),
    (["export", "--format", "autocnet", "--schema", "acn"], ["autocnet", "PostGIS schema", "postgresql+psycopg"]),
    (["export", "--format", "geojson", "--schema", "acn"], ["--schema is for --format autocnet"]),
    (["export", "--incidence", "50", "40"], ["incidence range 50..40", "low end"]),
    (["export", "--body", "Marz"], ["--body Marz", "Moon"]),
    (["plot", "--out", "m.png", "--body", "Marz"], ["--body Marz", "Moon"]),
    (["report", "--out", "r.html", "--body", "Mars"], ["--body Mars", "Moon"]),
    (["export", "--format", "shp"], ["--format", "invalid choice", "geojson", "gpkg", "stac", "autocnet"]),
    (["export", "--format", "gpkg"], ["--format gpkg needs --out"]),
    (["export", "--out", "/no/such/dir/x.json"], ["--out", "/no/such/dir", "does not exist"]),
    (["export", "--out", "/tmp"], ["--out", "is a folder"]),
    (["plot"], ["required", "--out"]),
    (["plot", "--out", "/no/such/dir/m.png"], ["--out", "does not exist"]),
    (["plot", "--out", "m.png", "--dpi", "0"], ["--dpi", "from 10 to 1200", "'0'"]),
    (["plot", "--out", "m.png", "--dpi", "many"], ["--dpi", "whole number"]),
    (["report", "--out", "/no/such/dir/r.html"], ["--out", "does not exist"]),
    (["status", "--config", "/no/such/site.yml"], ["/no/such/site.yml does not exist"]),
    (["status", "--config", "/tmp"], ["/tmp cannot be read"]),
    (["add", "DIR", "--ext", "cub", "--workers", "0"], ["--workers", ">= 1", "'0'"]),
    (["add", "DIR", "--ext", "cub", "--workers", "two"], ["--workers", "whole number"]),
    (["add", "DIR", "--ext", ""], ["--ext", "cub, img or tif"]),
    (["add", "DIR", "--ext", "*"], ["--ext", "cub, img or tif"]),
    (["add", "DIR"], ["required", "--ext"]),
    (["add", "DIR", "--ext", "cub", "--config", "/no/such/site.yml"], ["/no/such/site.yml does not exist"]),
    (["add", "/no/such/dir", "--ext", "cub"], ["/no/such/dir", "does not exist"]),
    (["retry", "--workers", "-1"], ["--workers", ">= 1"]),
    ([], ["required: command"]),
    (["frobnicate"], ["invalid choice", "status"]),
]


@pytest.mark.parametrize("argv, expected", [pytest.param(a, e, id=" ".join(a) or "-") for a, e in BAD])
def test_every_user_error_exits_2_with_one_line(capsys, catalogue, monkeypatch, argv, expected):
    monkeypatch.chdir(catalogue["tmp"])
    argv = [str(catalogue["images"]) if a == "DIR" else a for a in argv]
    if argv and argv[0] in ("status", "failed", "query", "export", "plot", "report", "retry", "add"):
        argv += ["--db", catalogue["url"]]
    before = listing(catalogue["tmp"])
    rc, out, err = run_main(capsys, *argv)
    assert_user_error(rc, err, *expected)
    assert listing(catalogue["tmp"]) == before


def test_query_since_takes_iso_times_offsets_and_ages(capsys, catalogue):
    url = catalogue["url"]

    def count(*argv: str) -> int:
        rc, out, err = run_main(capsys, "query", *argv, "--db", url)
        assert rc == 0, err
        return int(out.strip().splitlines()[-1].split()[0])

    assert count() == 2 and count("--body", "moon") == 2
    assert count("--since", "2d") == 2 and count("--since", "2000-01-01") == 2
    assert count("--since", "2999-01-01T00:00+01:00") == 0
    # An offset is honoured (its wall-clock time alone would give the opposite answers): an hour from now written
    # in UTC-10, an hour ago written in UTC+14.
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    assert count("--since", (now + timedelta(hours=1)).isoformat()) == 0
    assert count("--since", (now + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-10))).isoformat()) == 0
    assert count("--since", (now - timedelta(hours=1)).astimezone(timezone(timedelta(hours=14))).isoformat()) == 2
    target = str(catalogue["images"] / APOLLO[0])
    assert count("--overlapping", target) == 1
    assert count("--wkt", "POLYGON((140 -25, 150 -25, 150 -15, 140 -15, 140 -25))") == 2


def test_query_help_says_since_is_ingest_time_and_from_to_acquisition(capsys):
    rc, out, _ = run_main(capsys, "query", "--help")
    assert rc == 0
    text = " ".join(out.split())
    assert "added to the catalogue since (ingest time, not acquisition time" in text
    assert "--from T acquired at or after T" in text and "--to T acquired before T" in text
