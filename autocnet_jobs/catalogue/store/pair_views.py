"""The overlap pairs' viewing geometry, added by the writer to the pairs it writes (issue 26 item 5).

For each new pair whose two images both have a camera (a row in the ``cameras`` table), the stereo convergence
and the incidence difference at the overlap's centre (:mod:`..pair_angles`), stored in the pair's row
(schema.PAIR_ANGLE_COLUMNS). Cost: one primary-key lookup of which images of the batch's pairs have a camera;
only then are the ISDs of those images read and their models built, once per write batch (a model per image, all
its pairs' centres in one vectorised ground -> image). Pairs without two cameras get NULL and cost nothing more.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import shapely
from sqlalchemy import bindparam, text

from .. import overlap_geometry as og
from .. import pair_angles as pa

log = logging.getLogger(__name__)

EARTH_SRID = 4326            # Earth's footprints are geodetic (DESIGN.md); every other body's planetocentric


def add_pair_angles(conn, rows: list[dict[str, Any]]) -> None:
    """Set ``convergence_deg`` and ``incidence_diff_deg`` of each pair row (keys a, b, srid, geom as WKB), in
    place: values where both images have a camera that sees the overlap's centre, else None."""
    for row in rows:
        row["convergence_deg"] = row["incidence_diff_deg"] = None
    if not rows:
        return
    ids = sorted({i for row in rows for i in (row["a"], row["b"])})
    with_camera = set(_select(conn, "SELECT image_id FROM cameras WHERE image_id IN :ids", ids))
    todo = [row for row in rows if row["a"] in with_camera and row["b"] in with_camera]
    if not todo:
        return
    wanted = sorted({i for row in todo for i in (row["a"], row["b"])})
    models = {image_id: pa.model_or_none(json.loads(isd) if isinstance(isd, (str, bytes)) else isd)
              for image_id, isd in _select(conn, "SELECT image_id, isd FROM cameras WHERE image_id IN :ids",
                                           wanted, columns=2)}
    try:
        pairs = []
        for row in todo:
            lon, lat = og.centre_lonlat(shapely.from_wkb(row["geom"]))
            pairs.append((row["a"], row["b"], lon, lat, row["srid"] != EARTH_SRID))
        found = pa.pairs_angles(models, pairs)
    except Exception:              # noqa: BLE001 - the angles are extra: never the reason a batch is not committed
        log.warning("no viewing angles for %d overlap pairs", len(todo), exc_info=True)
        return
    for row, angles in zip(todo, found):
        row["convergence_deg"] = angles.convergence_deg
        row["incidence_diff_deg"] = angles.incidence_diff_deg


def _select(conn, sql: str, ids: list[int], columns: int = 1, page: int = 1000) -> list:
    """Rows of ``sql`` (one expanding ``:ids``) over ``ids`` in pages; the single column's values when one."""
    out: list = []
    stmt = text(sql).bindparams(bindparam("ids", expanding=True))
    for start in range(0, len(ids), page):
        result = conn.execute(stmt, {"ids": ids[start:start + page]})
        out.extend(r[0] for r in result) if columns == 1 else out.extend(tuple(r) for r in result)
    return out
