"""The overlap pairs' viewing geometry, added by the writer to the pairs it writes (issue 26 item 5).

For each new pair whose two images both have a camera (a row in the ``cameras`` table), the stereo convergence
and the incidence difference at the overlap's centre (:mod:`..pair_angles`), stored in the pair's row
(schema.PAIR_ANGLE_COLUMNS). Cost: one primary-key lookup of which images of the batch's pairs have a camera;
only then are the ISDs of those images read and their models built, once per image while it stays among the
:data:`MODEL_CACHE` latest used (kept with the connection, keyed by the image's row version), and each image's
view of all its pairs' centres is one vectorised ground -> image. Pairs without two cameras get NULL and cost
nothing more.
"""
from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any, Mapping

import shapely
from sqlalchemy import bindparam, text

from .. import pair_angles as pa

log = logging.getLogger(__name__)

# Camera models kept between batches, the latest used (a batch keeps all its own): at most this many, of at most
# this much ISD JSON in all (a model takes 2-6 times its ISD's JSON in memory: 0.3 MB for usgscsm's ctxLineScan).
MODEL_CACHE = 256
MODEL_CACHE_ISD_BYTES = 32_000_000


def add_pair_angles(conn, rows: list[dict[str, Any]], planetocentric: Mapping[int, bool]) -> None:
    """Set ``convergence_deg`` and ``incidence_diff_deg`` of each pair row (keys a, b, srid, geom as WKB), in
    place: values where both images have a camera that sees the overlap's centre, else None. ``planetocentric``:
    per SRID, whether its latitudes are planetocentric (Earth's are geodetic)."""
    for row in rows:
        row["convergence_deg"] = row["incidence_diff_deg"] = None
    if not rows:
        return
    ids = sorted({i for row in rows for i in (row["a"], row["b"])})
    size = "length(c.isd::text)" if conn.dialect.name == "postgresql" else "length(c.isd)"
    with_camera = {i: (i, seq, n) for i, seq, n in _select(
        conn, f"SELECT c.image_id, coalesce(i.job_seq, 0), {size} FROM cameras c JOIN images i ON i.id = c.image_id "
        "WHERE c.image_id IN :ids", ids, columns=3)}
    todo = [row for row in rows if row["a"] in with_camera and row["b"] in with_camera]
    if not todo:
        return
    models = _models(conn, [with_camera[i] for i in sorted({i for row in todo for i in (row["a"], row["b"])})])
    try:
        lon, lat = pa.centres(shapely.from_wkb([row["geom"] for row in todo]))
        pairs = [(row["a"], row["b"], x, y, planetocentric[row["srid"]])
                 for row, x, y in zip(todo, lon.tolist(), lat.tolist())]
        found = pa.pairs_angles(models, pairs)
    except Exception:              # noqa: BLE001 - the angles are extra: never the reason a batch is not committed
        log.warning("no viewing angles for %d overlap pairs", len(todo), exc_info=True)
        return
    for row, angles in zip(todo, found):
        row["convergence_deg"] = angles.convergence_deg
        row["incidence_diff_deg"] = angles.incidence_diff_deg


def _models(conn, keys: list[tuple[int, int, int]]) -> dict[int, pa.GroundModel | None]:
    """The camera models of images (keys: id, its row's job sequence, its ISD's length), from the connection's
    cache, else built from the cameras table and cached. An image re-written has a new job sequence, so a new
    key: its old model is never used again and ages out of the cache."""
    cache: OrderedDict = conn.info.setdefault("pair_views_models", OrderedDict())
    missing = [key for key in keys if key not in cache]
    if missing:
        key_of = {key[0]: key for key in missing}
        for image_id, isd in _select(conn, "SELECT image_id, isd FROM cameras WHERE image_id IN :ids",
                                     sorted(key_of), columns=2):
            cache[key_of[image_id]] = pa.model_or_none(json.loads(isd) if isinstance(isd, (str, bytes)) else isd)
    out = {}
    for key in keys:
        out[key[0]] = cache.get(key)
        if key in cache:
            cache.move_to_end(key)
    total = sum(key[2] or 0 for key in cache)
    while len(cache) > len(keys) and (len(cache) > MODEL_CACHE or total > MODEL_CACHE_ISD_BYTES):
        total -= cache.popitem(last=False)[0][2] or 0
    return out


def _select(conn, sql: str, ids: list[int], columns: int = 1, page: int = 1000) -> list:
    """Rows of ``sql`` (one expanding ``:ids``) over ``ids`` in pages; the single column's values when one."""
    out: list = []
    stmt = text(sql).bindparams(bindparam("ids", expanding=True))
    for start in range(0, len(ids), page):
        result = conn.execute(stmt, {"ids": ids[start:start + page]})
        out.extend(r[0] for r in result) if columns == 1 else out.extend(tuple(r) for r in result)
    return out
