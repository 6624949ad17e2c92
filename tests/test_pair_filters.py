"""Choosing pairs (issue 26 item 5): by overlap fraction, instrument, time gap, convergence, incidence difference.

A small lunar catalogue of real samples, written through the real pipeline (process_image) and store in two
batches: the two overlapping Apollo 15 Metric frames AS15-M-0297/0298 (cameras; labels' StartTime 01:25:02.243
and 01:25:27.457, so 25.214 s apart), LRO WAC's image and its backplane cube (one camera, one time: convergence
and gap 0), and a global lunar map (ldem_4, georeferenced: no camera, no instrument, no time) that overlaps
every one of them. The samples hold no two instruments that overlap, so one record is a stand-in: the 0298
record under another path as Apollo 15's Panoramic camera, an hour later. Expected angles: catalogue.pair_angles
on the cameras (whose values tests/test_pair_angles.py checks against spiceypy and ISIS).
"""
from __future__ import annotations

import json
import warnings

import pytest

from autocnet_jobs import config
from autocnet_jobs.catalogue import overlap_queries, pair_angles
from autocnet_jobs.catalogue.store import open_store
from autocnet_jobs.extractors.pipeline import process_image

from .camera_data import CAMERA_DIR
from .conftest import DATA_DIR
from .test_cli import run_main

M297, M298 = (str(DATA_DIR / f"AS15-M-{n}_crop.cub") for n in ("0297", "0298"))
WAC, BACK = (str(CAMERA_DIR / n) for n in ("M1181493219CE.vis.odd.reduced.cub", "back.reduced.cub"))
LDEM = str(DATA_DIR / "ldem_4_reduced.cub")
PAN = "/data/stand-in/AS15-P-0298.cub"          # the 0298 record as another instrument (module docstring)
GAP_297_298 = 25.214                             # s, the labels' StartTime difference


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, dict]:
    settings = config.job_settings(config.load())
    settings["output"] = {"dir": str(tmp_path_factory.mktemp("kps")), "always": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {p: process_image(p, settings) for p in (M297, M298, WAC, BACK, LDEM)}
    out[PAN] = dict(out[M298], path=PAN, name="AS15-P-0298.cub", instrument="PANORAMIC",
                    start_time="1971-07-31T02:25:27.457Z")
    assert out[M297]["instrument"] == out[M298]["instrument"] == "METRIC" and out[LDEM]["instrument"] is None
    return out


def _write(url: str, records: dict[str, dict], keep_open: bool = False):
    """The catalogue written in two batches; the store returned still connected when ``keep_open``."""
    store = open_store(url)
    store.connect()
    store.write([records[p] for p in (M297, WAC, LDEM)], [])
    store.write([records[p] for p in (M298, BACK, PAN)], [])       # pairs with the first batch, incrementally
    if keep_open:
        return store
    store.close()


def _expected(records: dict[str, dict], url: str, a: str, b: str) -> pair_angles.PairAngles:
    (row,) = [r for r in overlap_queries.overlaps(url, image=a, with_geometry=True) if b in (r["path_a"], r["path_b"])]
    (lon,), (lat,) = pair_angles.centres([row["geometry"]])     # the writer's centre of the stored overlap
    return pair_angles.pair_angles_isd(records[a]["camera"]["isd"], records[b]["camera"]["isd"], lon, lat)


def _paths(rows) -> set[str]:
    return {r["path"] for r in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_pairs_carry_their_angles_and_time_gap_and_the_filters_choose_by_them(backend, records, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'cat.db'}" if backend == "sqlite" else request.getfixturevalue("fresh_pg_db")
    writer = _write(url, records, keep_open=True)
    partners = {r["path"]: r for r in overlap_queries.partners(url, M297)}
    assert set(partners) == {M298, PAN, LDEM}
    stereo = _expected(records, url, M297, M298)
    assert 10 < stereo.convergence_deg < 30                    # Apollo Metric's forward overlap: a stereo pair
    for path in (M298, PAN):                                    # the stand-in has 0298's camera and footprint
        assert partners[path]["convergence_deg"] == pytest.approx(stereo.convergence_deg, abs=1e-9)
        assert partners[path]["incidence_diff_deg"] == pytest.approx(stereo.incidence_diff_deg, abs=1e-9)
    assert partners[M298]["time_gap_s"] == pytest.approx(GAP_297_298, abs=1e-3)
    assert partners[PAN]["time_gap_s"] == pytest.approx(3600 + GAP_297_298, abs=1e-3)
    no_camera = partners[LDEM]
    assert no_camera["convergence_deg"] is None and no_camera["incidence_diff_deg"] is None
    assert no_camera["time_gap_s"] is None
    (wac,) = [r for r in overlap_queries.partners(url, WAC) if r["path"] == BACK]
    assert wac["convergence_deg"] == pytest.approx(0, abs=1e-9) and wac["time_gap_s"] == pytest.approx(0, abs=1e-3)

    def chosen(image=M297, **filters) -> set[str]:
        return _paths(overlap_queries.partners(url, image, **filters))
    assert chosen(same_instrument=True) == {M298}
    assert chosen(same_instrument=False) == {PAN}              # the map's instrument is unknown: in neither
    assert chosen(WAC, same_instrument=True) == {BACK}
    assert chosen(max_time_gap_s=30) == {M298}
    assert chosen(max_time_gap_s=20) == set()
    assert chosen(max_time_gap_s=3700) == {M298, PAN}
    assert chosen(min_convergence=10) == {M298, PAN}
    assert chosen(min_convergence=stereo.convergence_deg + 0.01) == set()
    assert chosen(max_convergence=10) == set()
    assert chosen(WAC, max_convergence=1) == {BACK}
    assert chosen(WAC, min_convergence=1) == set()
    assert chosen(max_incidence_diff=0.1) == {M298, PAN}
    assert chosen(max_incidence_diff=stereo.incidence_diff_deg / 2) == set()
    assert chosen(same_instrument=True, min_convergence=10, max_time_gap_s=30, max_incidence_diff=1) == {M298}
    fractions = {p: r["fraction"] for p, r in partners.items()}
    assert fractions[LDEM] == pytest.approx(1.0) and 0.5 < fractions[M298] < 0.95
    assert chosen(min_fraction=0.99) == {LDEM}                  # 0297 lies wholly inside the global map
    # the pairs as a whole take the same filters
    assert {frozenset((r["path_a"], r["path_b"])) for r in overlap_queries.overlaps(url, min_convergence=10)} == {
        frozenset((M297, M298)), frozenset((M297, PAN))}
    # so does the graph (and AutoCNet's adjacency from it): stereo pairs only, each edge with its angles
    graph = overlap_queries.overlap_graph(url, min_convergence=10)
    assert {frozenset(e) for e in graph.edges} == {frozenset((M297, M298)), frozenset((M297, PAN))}
    assert graph.edges[M297, M298]["convergence_deg"] == pytest.approx(stereo.convergence_deg, abs=1e-9)
    assert overlap_queries.adjacency(url, same_instrument=True)[M297] == [M298]
    # re-extracting an image recomputes its pairs' angles: 0298 re-written with 0297's camera sees the centre
    # from 0297's position (a forced re-run after a wrong ISD, say), so that pair converges at 0; by the same
    # writer, whose cached model of 0298 is of the old row
    writer.write([dict(records[M298], camera=records[M297]["camera"])], [])
    (again,) = [r for r in overlap_queries.partners(url, M297) if r["path"] == M298]
    assert again["convergence_deg"] == pytest.approx(0, abs=1e-9)
    writer.write([records[M298]], [])                           # and back
    (again,) = [r for r in overlap_queries.partners(url, M297) if r["path"] == M298]
    assert again["convergence_deg"] == pytest.approx(stereo.convergence_deg, abs=1e-9)
    writer.close()


def test_query_overlaps_flags(records, capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    _write(url, records)

    def query(*flags: str, image: str = M297) -> set[str]:
        rc, out, err = run_main(capsys, "query", "--overlaps", image, "--json", "--db", url, *flags)
        assert rc == 0, err
        return _paths(json.loads(out))
    assert query() == {M298, PAN, LDEM}
    assert query("--same-instrument") == {M298}
    assert query("--different-instrument") == {PAN}
    assert query("--max-time-gap", "30") == {M298}
    assert query("--min-convergence", "10") == {M298, PAN}
    assert query("--max-convergence", "10") == set()
    assert query("--max-convergence", "1", image=WAC) == {BACK}
    assert query("--max-incidence-diff", "0.1") == {M298, PAN}
    assert query("--min-fraction", "0.99") == {LDEM}
    assert query("--same-instrument", "--min-convergence", "10", "--max-time-gap", "30") == {M298}
    rc, out, err = run_main(capsys, "query", "--overlaps", M297, "--db", url)      # the table shows the angles
    assert rc == 0 and "3 overlapping images" in out
    (line,) = [ln for ln in out.splitlines() if ln.endswith(M298)]
    assert f"{_expected(records, url, M297, M298).convergence_deg:6.2f}°" in line

    for flags, message in ((["--min-convergence", "200"], "--min-convergence 200: give degrees from 0 to 180"),
                           (["--max-time-gap", "-1"], "--max-time-gap -1: give seconds"),
                           (["--min-convergence", "20", "--max-convergence", "10"], "is above --max-convergence"),
                           (["--same-instrument", "--different-instrument"], "not allowed with argument")):
        rc, out, err = run_main(capsys, "query", "--overlaps", M297, "--db", url, *flags)
        assert rc == 2 and message in err, (flags, err)
