"""GeoJSON export: image rows (as from :func:`autocnet_jobs.catalogue.queries.images`) as a FeatureCollection."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shapely.geometry import mapping


def to_geojson(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection of image rows (footprint as geometry, the other columns as properties)."""
    feats = []
    for r in rows:
        props = {k: _jsonable(v) for k, v in r.items() if k != "footprint"}
        geom = mapping(r["footprint"]) if r.get("footprint") is not None else None
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    return v
