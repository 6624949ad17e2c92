"""AutoCNet's ``overlay`` table in ``export --format autocnet`` (issue 26): the faces of catalogue.overlay.overlay,
their ``intersections`` the exported images' ids.

On a PostGIS catalogue with pairs known by construction (tests/test_overlap_views.py: a chain a-b-c, a pair e-f
across +-180, d overlapping nothing, g on the Moon, h without a footprint), the exported rows are compared with
overlay() and with the construction: one face per overlapping pair, none naming d. Then a re-export after a new
image keeps the rows (ids) of faces that did not change and a face an AutoCNet point references.
"""
from __future__ import annotations

import psycopg
import pytest
import shapely
from shapely.geometry import box

from autocnet_jobs import cli
from autocnet_jobs.catalogue.overlay import overlay

from .helpers import write_batches
from .services import libpq_url
from .test_overlap_views import _record, path, write_catalogue


def sql(url: str, query: str, *args) -> list[tuple]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        cur = conn.execute(query, args)
        return cur.fetchall() if cur.description is not None else []


def export(capsys, url: str, schema: str) -> str:
    rc = cli.main(["export", "--format", "autocnet", "--schema", schema, "--body", "Mars", "--db", url])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def rows(url: str, schema: str) -> dict[int, tuple[tuple[int, ...], shapely.Geometry]]:
    """id -> (intersections, geom) of the exported overlay."""
    return {i: (tuple(ids), shapely.from_wkb(bytes(g)))
            for i, ids, g in sql(url, f"SELECT id, intersections, ST_AsBinary(geom) FROM {schema}.overlay")}


def as_faces(table: dict) -> list[tuple[tuple[int, ...], bytes]]:
    return sorted((ids, shapely.normalize(g).wkb) for ids, g in table.values())


def expected(url: str) -> list[tuple[tuple[int, ...], bytes]]:
    return sorted((tuple(f["intersections"]), shapely.normalize(f["geom"]).wkb) for f in overlay(url, body="Mars"))


@pytest.fixture
def pg(fresh_pg_db):
    return write_catalogue(fresh_pg_db)


def test_overlay_rows_are_the_faces_of_the_overlapping_images(pg, capsys):
    out = export(capsys, pg, "acn")
    ids = {p: i for i, p in sql(pg, "SELECT id, path FROM acn.images")}
    name = {i: p.rsplit("/", 1)[-1][0] for p, i in ids.items()}
    table = rows(pg, "acn")
    assert f"overlay: {len(table)} rows" in out
    # The faces overlay() computes, with the exported images' ids (the catalogue's, kept by the export).
    assert as_faces(table) == expected(pg)
    assert sql(pg, "SELECT id, path FROM acn.images ORDER BY id") == \
        sql(pg, "SELECT id, path FROM images WHERE body = 'Mars' ORDER BY id")    # the catalogue's ids, kept
    # By construction: one face per pair (e's part west of +-180 meets f), none for d, the image with no partner.
    assert sorted("".join(sorted(name[i] for i in ids_)) for ids_, _ in table.values()) == ["ab", "bc", "ef"]
    assert all(ids["/data/views/d.cub"] not in ids_ for ids_, _ in table.values())
    geoms = {"".join(sorted(name[i] for i in ids_)): g for ids_, g in table.values()}
    assert geoms["ab"].equals(box(15, 10, 20, 20)) and geoms["bc"].equals(box(30, 25, 35, 30))
    assert geoms["ef"].equals(box(-178, -55, -175, -45))
    # Typed as AutoCNet's model types it: POLYGON in the project's SRID (the images' geom SRID).
    srid = sql(pg, "SELECT DISTINCT ST_SRID(geom) FROM acn.images WHERE geom IS NOT NULL")
    assert sql(pg, "SELECT type, srid FROM geometry_columns WHERE f_table_schema = 'acn' AND "
                   "f_table_name = 'overlay'") == [("POLYGON", srid[0][0])]
    assert sql(pg, "SELECT position('gist (geom)' in indexdef) > 0 FROM pg_indexes WHERE schemaname = 'acn' "
                   "AND tablename = 'overlay' AND indexname = 'idx_overlay_geom'") == [(True,)]


def test_a_re_export_keeps_unchanged_faces_and_those_autocnet_points_reference(pg, capsys):
    export(capsys, pg, "acn")
    export(capsys, pg, "acn_plain")
    first = rows(pg, "acn")
    assert rows(pg, "acn") == first and as_faces(rows(pg, "acn_plain")) == as_faces(first)
    export(capsys, pg, "acn")
    assert rows(pg, "acn") == first                       # nothing changed: the same rows, the same ids
    ids = {p.rsplit("/", 1)[-1][0]: i for i, p in sql(pg, "SELECT id, path FROM acn.images")}
    face = {"".join(sorted(k for k, v in ids.items() if v in f_ids)): i for i, (f_ids, _) in first.items()}
    # AutoCNet's points (as its model has them: overlapid references overlay.id) on the a-b and b-c faces.
    sql(pg, "CREATE TABLE acn.points (id SERIAL PRIMARY KEY, overlapid INTEGER REFERENCES acn.overlay (id))")
    sql(pg, "INSERT INTO acn.points (overlapid) VALUES (%s), (%s)", face["ab"], face["bc"])
    # A new image k inside the a-b face: that face changes (a hole, and a face of a, b and k inside it).
    write_batches(pg, [_record("k", "Mars", box(16, 12, 18, 14))])
    export(capsys, pg, "acn")
    export(capsys, pg, "acn_plain")
    after = rows(pg, "acn")
    for pair in ("bc", "ef"):                             # unchanged faces: same rows, same ids
        assert after[face[pair]] == first[face[pair]]
    assert after[face["ab"]] == first[face["ab"]]          # changed, but a point references it: kept
    new = {i: v for i, v in after.items() if i not in first}
    assert as_faces(new) == [f for f in expected(pg) if f not in as_faces(first)]
    k = sql(pg, "SELECT id FROM acn.images WHERE path = %s", path("k"))[0][0]
    assert sorted(len(ids_) for ids_, _ in new.values()) == [2, 3] and any(k in ids_ for ids_, _ in new.values())
    # Where no point references it, the changed face is replaced: the table is overlay() exactly.
    assert as_faces(rows(pg, "acn_plain")) == expected(pg)
