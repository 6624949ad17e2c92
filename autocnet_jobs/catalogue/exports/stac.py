"""STAC export: the catalogue as a self-contained static STAC catalog (STAC 1.1, written with pystac), the form
planetary analysis-ready data is published in.

One Collection per (body, instrument), one Item per image row: its footprint as the geometry (GeoJSON in the
body's lon/lat, ``proj:code`` the body's IAU_2015 code, Earth's EPSG:4326), acquisition times, the Solar System
extension's target, ``gsd``, the view angles, and assets for the image and its keypoint file. Every link and
asset href is relative, so the folder can be moved or served as it is (the assets must keep their place relative
to it). Extensions are named by their schema URLs as STAC requires; nothing here fetches them.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from shapely.geometry import mapping

from ..schema import as_utc

SSYS_SCHEMA = "https://stac-extensions.github.io/ssys/v1.1.1/schema.json"
# Media types of the image asset by GDAL driver (STAC's own for GeoTIFF and JPEG 2000; none registered for PDS
# and ISIS, so those say what they are in the asset's title and carry no type).
_MEDIA_TYPES = {"GTiff": "image/tiff; application=geotiff", "JP2OpenJPEG": "image/jp2"}
HDF5 = "application/x-hdf5"


def collection_id(body: str | None, instrument: str | None) -> str:
    """``<body>-<instrument>`` in lower case, ``unknown`` for either that the catalogue does not know."""
    return f"{_slug(body) or 'unknown-body'}-{_slug(instrument) or 'unknown-instrument'}"


def item_ids(rows: list[dict[str, Any]]) -> list[str]:
    """An id per row: the file name's stem, made unique by 8 hex digits of the path's SHA-1 where two images share
    it (a.cub in two folders, a.cub beside a.img), so a re-export gives each image the same id."""
    stems = [_file_slug(os.path.splitext(r["name"])[0]) or "image" for r in rows]
    shared = {s for s, n in Counter(stems).items() if n > 1}
    return [f"{s}_{hashlib.sha1(r['path'].encode()).hexdigest()[:8]}" if s in shared else s
            for s, r in zip(stems, rows)]


def item_properties(row: dict[str, Any]) -> dict[str, Any]:
    """The Item's properties from a catalogue row (pure): times, target, gsd, angles, instrument and platform.

    STAC needs a ``datetime``: the acquisition start, with ``start_datetime``/``end_datetime`` when the label gives
    both; an image whose label gives no time (a map mosaic) gets the time it was added to the catalogue, and
    ``autocnet:datetime_source`` says which it is."""
    start, stop = row.get("start_time"), row.get("stop_time")
    props: dict[str, Any] = {}
    if start is not None:
        props["datetime"] = _iso(start)
        props["autocnet:datetime_source"] = "acquisition"
        if stop is not None:
            props["start_datetime"], props["end_datetime"] = _iso(start), _iso(stop)
    else:
        props["datetime"] = _iso(row.get("created_at") or datetime.now(timezone.utc))
        props["autocnet:datetime_source"] = "ingest"
    if row.get("body"):
        props["ssys:targets"] = [row["body"]]
    if row.get("resolution") is not None:
        props["gsd"] = float(row["resolution"])
    # The view extension's angles are the satellite's: its incidence_angle is the planetary emission angle; the
    # sun's elevation above the local horizontal is 90° less the solar incidence angle.
    if row.get("emission") is not None:
        props["view:incidence_angle"] = float(row["emission"])
    if row.get("incidence") is not None:
        props["view:sun_elevation"] = 90.0 - float(row["incidence"])
        props["autocnet:incidence_angle"] = float(row["incidence"])
    if row.get("phase") is not None:
        props["autocnet:phase_angle"] = float(row["phase"])
    if row.get("instrument"):
        props["instruments"] = [row["instrument"].lower()]
    if row.get("spacecraft"):
        props["platform"] = row["spacecraft"].lower()
    for key in ("product_id", "serial_number", "footprint_source", "n_keypoints"):
        if row.get(key) is not None:
            props[f"autocnet:{key}"] = row[key]
    if row.get("iau_code"):
        props["proj:code"] = row["iau_code"]
    return props


def write_stac(rows: list[dict[str, Any]], out_dir: str | os.PathLike, *,
               title: str = "autocnet_jobs catalogue") -> dict[str, int]:
    """Write image rows (as from :func:`autocnet_jobs.catalogue.queries.images`) as a static catalog in
    ``out_dir`` (``catalog.json`` at its root); returns {collection id: number of items}.

    The catalog is written to a temporary folder beside ``out_dir`` and then takes its place, so a reader never
    sees half a catalog; ``out_dir`` must not exist or be a catalog this function wrote (a folder holding anything
    else is refused with ValueError, never deleted)."""
    import pystac
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.view import ViewExtension

    out_dir = os.path.abspath(os.fspath(out_dir))
    _check_target(out_dir)
    catalog = pystac.Catalog(id="autocnet-jobs", title=title,
                             description="Images ingested by autocnet_jobs: footprints, acquisition metadata, "
                                         "keypoint files")
    tmp = f"{out_dir}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    # The root's href first and each Collection under it before its Items: pystac finds an object's root and self
    # links by scanning its links, so they must come before a Collection's thousands of item links (else the
    # export is quadratic in the number of images).
    catalog.set_self_href(os.path.join(tmp, "catalog.json"))  # a folder name with a dot would be taken for a file
    groups: dict[str, list[tuple[str, dict]]] = {}
    for item_id, row in zip(item_ids(rows), rows):
        groups.setdefault(collection_id(row.get("body"), row.get("instrument")), []).append((item_id, row))
    counts = {}
    for cid, members in sorted(groups.items()):
        items = [_item(item_id, row, ProjectionExtension, ViewExtension) for item_id, row in members]
        first = members[0][1]
        collection = pystac.Collection(
            id=cid, title=f"{first.get('instrument') or 'Unknown instrument'} images of "
                          f"{first.get('body') or 'an unknown body'}",
            description=f"{len(items)} image(s) of {first.get('body') or 'an unknown body'} by "
                        f"{first.get('instrument') or 'an unknown instrument'}"
                        f"{' on ' + first['spacecraft'] if first.get('spacecraft') else ''}",
            extent=_extent(items), license="other", stac_extensions=[SSYS_SCHEMA])
        if first.get("body"):
            collection.extra_fields["ssys:targets"] = [first["body"]]
        catalog.add_child(collection)
        collection.add_items(items)
        counts[cid] = len(items)
    # (every href is set already, by add_child and add_item under the root's; normalize_hrefs would move each
    # Collection's self link behind its Items' and make saving quadratic for the same reason)
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, stac_io=_item_compact_io())
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return counts


def _item_compact_io():
    """pystac's file I/O writing Items as compact JSON (a footprint's thousand vertices indented cost a third of
    the export's time; Python's C encoder runs only without indentation); the Catalog and Collections stay
    indented for people to read."""
    import json

    from pystac.stac_io import DefaultStacIO

    class ItemCompactIO(DefaultStacIO):
        def json_dumps(self, json_dict: dict[str, Any], *args: Any, **kwargs: Any) -> str:
            if json_dict.get("type") == "Feature":
                return json.dumps(json_dict, separators=(",", ":"))
            return super().json_dumps(json_dict, *args, **kwargs)

    return ItemCompactIO()


def _item(item_id: str, row: dict[str, Any], proj_ext, view_ext):
    import pystac

    fp = row.get("footprint")
    geom = mapping(fp) if fp is not None and not fp.is_empty else None
    props = item_properties(row)
    when = datetime.fromisoformat(props.pop("datetime").replace("Z", "+00:00"))
    extensions = [SSYS_SCHEMA] if "ssys:targets" in props else []
    item = pystac.Item(id=item_id, geometry=geom, bbox=list(fp.bounds) if geom else None, datetime=when,
                       properties={k: v for k, v in props.items() if not k.startswith(("proj:", "view:"))},
                       stac_extensions=extensions)
    if props.get("proj:code"):
        proj_ext.ext(item, add_if_missing=True).code = props["proj:code"]
    if any(k.startswith("view:") for k in props):
        view = view_ext.ext(item, add_if_missing=True)
        view.incidence_angle = props.get("view:incidence_angle")
        view.sun_elevation = props.get("view:sun_elevation")
    item.add_asset("image", pystac.Asset(
        href=row["path"], title=f"the image ({row.get('driver') or 'format unknown'})",
        media_type=_MEDIA_TYPES.get(row.get("driver") or ""), roles=["data"]))
    if row.get("keypoints_path"):
        item.add_asset("keypoints", pystac.Asset(
            href=row["keypoints_path"], title="interest points and descriptors (autocnet_jobs keypoint file, "
                                              "AutoCNet layout)", media_type=HDF5, roles=["metadata"]))
    return item


def _extent(items):
    import pystac

    boxes = [i.bbox for i in items if i.bbox]
    spatial = [[min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                max(b[3] for b in boxes)]] if boxes else [[-180.0, -90.0, 180.0, 90.0]]
    starts = [i.common_metadata.start_datetime or i.datetime for i in items]
    ends = [i.common_metadata.end_datetime or i.datetime for i in items]
    return pystac.Extent(pystac.SpatialExtent(spatial), pystac.TemporalExtent([[min(starts), max(ends)]]))


def _check_target(out_dir: str) -> None:
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"{out_dir} is a file; give a folder for the STAC catalog")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not _is_our_catalog(out_dir):
        raise ValueError(f"{out_dir} holds files and no catalog.json written by autocnet_jobs; give a new or "
                         "empty folder (an earlier STAC export there is replaced)")
    if not os.path.isdir(os.path.dirname(out_dir)):
        raise ValueError(f"cannot write {out_dir}: the folder {os.path.dirname(out_dir)} does not exist")


def _is_our_catalog(out_dir: str) -> bool:
    import json

    try:
        with open(os.path.join(out_dir, "catalog.json")) as f:
            return json.load(f).get("id") == "autocnet-jobs"
    except (OSError, ValueError):
        return False


def _iso(t: datetime | str) -> str:
    if isinstance(t, str):
        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
    return as_utc(t).isoformat().replace("+00:00", "Z")


def _slug(text: str | None) -> str:
    """Lower case, runs of anything but letters and digits as one ``-`` (collection ids)."""
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")


def _file_slug(text: str) -> str:
    """A file stem as an id and folder name: case, digits, ``.``, ``_`` and ``-`` kept, anything else ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("-_")
