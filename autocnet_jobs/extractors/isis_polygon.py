"""The footprint polygon an ISIS3 cube carries after ``footprintinit``.

The label has ``Object = Polygon`` with ``Name = Footprint``, ``StartByte`` (1-based) and ``Bytes``; the blob
at that place is WKT ``MULTIPOLYGON`` in planetocentric, east-positive lon/lat with longitude in 0..360, split by
ISIS at the 0/360 seam and closed along the pole when the image contains one. :func:`isis_footprint` returns it
normalised to [-180, 180] (see :mod:`.antimeridian`).

A polygon is only as current as the cube's geometry when ``footprintinit`` ran. The cube's History blob lists
the programs applied in order; when one that changes the image's extent or pointing (``crop``, ``reduce``,
``spiceinit``, ``jigsaw``, ...) ran after the last ``footprintinit``, or the cube is a crop (``AlphaCube``) with
no ``footprintinit`` in its History at all, the polygon is *stale*: it still describes the earlier image.
:func:`isis_footprint` says so, and :mod:`.footprints` replaces a stale polygon by the camera's footprint (or
stores none). The 5x5 sample crops F704b51 and I52634011RDR are such cubes: their polygons are the footprints
of the uncropped Viking and THEMIS images, 50,000 times larger than the crops.
"""
from __future__ import annotations

import re

import shapely
from shapely.errors import GEOSException

from .antimeridian import clean, normalise
from .labels import UNREAD, Block, label_of, read_blob

# ISIS programs after which a footprint polygon no longer describes the cube.
GEOMETRY_CHANGING = frozenset({
    "crop", "reduce", "enlarge", "pad", "rotate", "flip", "mirror", "cam2cam", "cam2map", "map2map",
    "noproj", "spiceinit", "jigsaw", "deltack", "csminit", "hijitreg",
})
_HISTORY_ENTRY = re.compile(r"^Object\s*=\s*(\w+)", re.M)


def polygon_block(label: Block | None, name: str = "Footprint") -> Block | None:
    """The label's ``Object = Polygon`` whose ``Name`` is ``name``."""
    if label is None:
        return None
    for block in label.findall("Polygon"):
        if (block.get("Name") or "").strip().lower() == name.lower():
            return block
    return None


def history_programs(path: str, label: Block) -> list[str]:
    """Names of the ISIS programs in the cube's History blob, oldest first ([] when there is none)."""
    for block in label.findall("History"):
        try:
            text = read_blob(path, int(block.get("StartByte")), int(block.get("Bytes"))).decode("latin-1")
        except (OSError, TypeError, ValueError):
            return []
        return _HISTORY_ENTRY.findall(text)
    return []


def staleness(path: str, label: Block) -> str | None:
    """Why the footprint polygon does not describe the cube as it is now, or None when it does."""
    programs = history_programs(path, label)
    alpha = label.find("AlphaCube")
    crop = (f" (this cube is {alpha.get('BetaSamples')}x{alpha.get('BetaLines')} px of a "
            f"{alpha.get('AlphaSamples')}x{alpha.get('AlphaLines')} px original)"
            if alpha is not None and alpha.get("AlphaSamples") else "")
    if "footprintinit" not in programs:
        if crop:
            return f"the ISIS footprint polygon may predate the crop: footprintinit is not in the History{crop}"
        return None
    last = len(programs) - 1 - programs[::-1].index("footprintinit")
    later = [p for p in programs[last + 1:] if p.lower() in GEOMETRY_CHANGING]
    if not later:
        return None
    return (f"the ISIS footprint polygon is stale: it predates {', '.join(dict.fromkeys(later))} in the cube's "
            f"History, so it describes the image before that step{crop}")


def raw_footprint(path: str, label=UNREAD) -> shapely.Geometry | None:
    """The polygon exactly as stored (0..360 longitudes), or None when the cube has none.

    Raises ValueError when the label names a polygon that cannot be read.
    """
    block = polygon_block(label_of(path, label))
    if block is None:
        return None
    try:
        blob = read_blob(path, int(block.get("StartByte")), int(block.get("Bytes")))
        return shapely.from_wkt(blob.decode("ascii", "replace").strip("\x00 \r\n\t"))
    except (OSError, TypeError, ValueError, GEOSException) as exc:
        raise ValueError(f"the ISIS footprint polygon cannot be read: {exc}") from None


def isis_footprint(path: str, label=UNREAD) -> tuple[shapely.MultiPolygon | None, str | None, str | None]:
    """(footprint in [-180, 180], note, why it is stale) from the cube's ISIS polygon.

    (None, None, None) when the cube has none; with geometry None the note says why the polygon was unusable.
    """
    try:
        label = label_of(path, label)
        raw = raw_footprint(path, label)
    except ValueError as exc:
        return None, str(exc), None
    if raw is None:
        return None, None, None
    geom = clean(normalise(shapely.make_valid(raw)))
    if geom is None:
        return None, "the ISIS footprint polygon is empty", None
    return geom, None, staleness(path, label)
