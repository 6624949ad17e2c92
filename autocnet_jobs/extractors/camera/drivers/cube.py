"""A level-1 ISIS cube as drivers read it: the label parsed once, NaifKeywords, SPICE tables as ISD parts.

What ALE's ``IsisLabel`` + ``IsisSpice`` read from a cube after ``spiceinit attach=yes`` (no kernels): the label's
``Instrument``, ``Kernels``, ``NaifKeywords`` and ``AlphaCube`` groups and the ``InstrumentPointing``,
``InstrumentPosition``, ``BodyRotation`` and ``SunPosition`` tables, laid out as ALE's formatter writes them
(ale/formatters/formatter.py): positions in J2000 km, quaternions [w, x, y, z] rotating J2000 into
``time_dependent_frames[0]``, ``constant_rotation`` from that frame into the sensor (or body) frame.
"""
from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ....errors import CameraDataError
from ...isis_tables import Table, numbers, read_table, table_block
from ...labels import Block


class MissingConstant(Exception):
    """A value the driver needs is in neither the label nor the driver's own constants (no camera, a note)."""


@dataclass
class IsisCube:
    """A level-1 ISIS cube, its label parsed once and its tables read on demand."""

    path: str
    label: Block
    _tables: dict = field(default_factory=dict, repr=False)

    def group(self, name: str) -> Block | None:
        return self.label.find(name)

    def keyword(self, group: str, key: str, default: str | None = None) -> str | None:
        block = self.label.find(group)
        value = block.get(key) if block is not None else None
        return default if value is None else value.strip().strip('"')

    def has_table(self, name: str) -> bool:
        return table_block(self.label, name) is not None

    def table(self, name: str) -> Table:
        if name not in self._tables:
            self._tables[name] = read_table(self.path, self.label, name)
        return self._tables[name]

    @cached_property
    def dimensions(self) -> tuple[int, int, int]:
        """(lines, samples, bands) of the cube."""
        dims = self.label.find("Dimensions")
        try:
            return int(dims.get("Lines")), int(dims.get("Samples")), int(dims.get("Bands") or 1)
        except (AttributeError, TypeError, ValueError):
            raise CameraDataError("the cube label has no readable Core Dimensions group") from None

    @cached_property
    def alpha(self) -> dict | None:
        """The AlphaCube group as numbers (a crop or reduction of the original image), or None."""
        block = self.label.find("AlphaCube")
        if block is None:
            return None
        keys = {"samples": "AlphaSamples", "lines": "AlphaLines", "starting_sample": "AlphaStartingSample",
                "starting_line": "AlphaStartingLine", "ending_sample": "AlphaEndingSample",
                "ending_line": "AlphaEndingLine", "beta_samples": "BetaSamples", "beta_lines": "BetaLines"}
        try:
            return {k: float(block.get(v)) for k, v in keys.items()}
        except (TypeError, ValueError):
            raise CameraDataError("the AlphaCube group is incomplete or not numeric") from None

    def alpha_scales(self) -> tuple[float, float]:
        """(samples, lines) of the original image per cube pixel, ``(ending - starting) / beta`` of the AlphaCube
        (ISIS's AlphaCube class); (1, 1) for a cube that is no crop or reduction."""
        alpha = self.alpha
        if not alpha:
            return 1.0, 1.0
        return ((alpha["ending_sample"] - alpha["starting_sample"]) / alpha["beta_samples"],
                (alpha["ending_line"] - alpha["starting_line"]) / alpha["beta_lines"])


class Naif:
    """The label's NaifKeywords, read as numbers on demand; ``{ik}`` in a key is the instrument's NAIF code."""

    def __init__(self, label: Block, ik: int):
        block = label.find("NaifKeywords")
        self.keywords = dict(block.keywords) if block is not None else {}
        self.ik = ik

    def has(self, key: str) -> bool:
        return key.replace("{ik}", str(self.ik)) in self.keywords

    def values(self, key: str, n: int | None = None) -> list[float]:
        key = key.replace("{ik}", str(self.ik))
        if key not in self.keywords:
            raise MissingConstant(f"{key} (not in the label's NaifKeywords)")
        try:
            out = numbers(self.keywords[key])
        except ValueError:
            raise CameraDataError(f"NaifKeywords {key} = {self.keywords[key]!r} is not numeric") from None
        if n is not None and len(out) < n:
            raise CameraDataError(f"NaifKeywords {key} has {len(out)} values, {n} are needed")
        return out

    def value(self, key: str, default: float | None = None) -> float:
        try:
            return self.values(key, 1)[0]
        except MissingConstant:
            if default is None:
                raise
            return default

    def text(self, key: str) -> str:
        key = key.replace("{ik}", str(self.ik))
        if key not in self.keywords:
            raise MissingConstant(f"{key} (not in the label's NaifKeywords)")
        return self.keywords[key].strip().strip('"')

    def clock_et(self, spacecraft_code: int, count: str) -> float:
        """The ET spiceinit computed for a spacecraft clock count (the hex of a little-endian double)."""
        key = f"CLOCK_ET_{spacecraft_code}_{count.strip().strip(chr(34))}_COMPUTED"
        if key not in self.keywords:
            raise MissingConstant(f"{key} (the spacecraft clock time, which spiceinit stores)")
        try:
            return struct.unpack("<d", bytes.fromhex(self.keywords[key].strip().strip('"')))[0]
        except ValueError:
            raise CameraDataError(f"NaifKeywords {key} = {self.keywords[key]!r} is not a hex double") from None

    def radii(self) -> tuple[float, float, float]:
        """The target's radii (km) from BODYnnn_RADII."""
        for key in self.keywords:
            if re.fullmatch(r"BODY-?\d+_RADII", key):
                r = self.values(key, 3)
                return r[0], r[1], r[2]
        raise MissingConstant("BODYnnn_RADII (the target's radii)")


# --- UTC -> ET without kernels: the leap seconds of NAIF's naif0012.tls (valid from 2017-01-01 on) -----------
_LEAP_SECONDS = [  # (UTC date the offset starts, TAI - UTC)
    ("1972-01-01", 10), ("1972-07-01", 11), ("1973-01-01", 12), ("1974-01-01", 13), ("1975-01-01", 14),
    ("1976-01-01", 15), ("1977-01-01", 16), ("1978-01-01", 17), ("1979-01-01", 18), ("1980-01-01", 19),
    ("1981-07-01", 20), ("1982-07-01", 21), ("1983-07-01", 22), ("1985-07-01", 23), ("1988-01-01", 24),
    ("1990-01-01", 25), ("1991-01-01", 26), ("1992-07-01", 27), ("1993-07-01", 28), ("1994-07-01", 29),
    ("1996-01-01", 30), ("1997-07-01", 31), ("1999-01-01", 32), ("2006-01-01", 33), ("2009-01-01", 34),
    ("2012-07-01", 35), ("2015-07-01", 36), ("2017-01-01", 37)]


def utc_to_et(utc: str) -> float:
    """Seconds past J2000 TDB of an ISO UTC time (``2008-03-01T12:00:00.123``), as SPICE str2et with naif0012.

    TDB - TT is NAIF's periodic term K sin(E) (K = 1.657e-3 s, EB = 1.671e-2, M = 6.239996 + 1.99096871e-7 t).
    """
    import datetime as dt
    text = utc.strip().strip('"').rstrip("Z")
    day, _, clock = text.partition("T")
    h, m, s = (clock.split(":") + ["0", "0", "0"])[:3] if clock else ("0", "0", "0")
    base = dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc)
    j2000 = dt.datetime(2000, 1, 1, 12, tzinfo=dt.timezone.utc)
    seconds = (base - j2000).total_seconds() + int(h) * 3600 + int(m) * 60 + float(s)
    delta_at = next((v for d, v in reversed(_LEAP_SECONDS) if day >= d), 10)
    tt = seconds + delta_at + 32.184
    mean_anomaly = 6.239996 + 1.99096871e-7 * tt
    return tt + 1.657e-3 * math.sin(mean_anomaly + 1.671e-2 * math.sin(mean_anomaly))


# --- SPICE tables -> ISD parts ---------------------------------------------------------------------------------

def _frames(table: Table) -> dict:
    out = {"time_dependent_frames": [int(v) for v in numbers(table.get("TimeDependentFrames"))]}
    constant = [int(v) for v in numbers(table.get("ConstantFrames"))]
    if constant:
        rotation = numbers(table.get("ConstantRotation"))
        if len(rotation) != 9:
            raise CameraDataError(f"table {table.name}: ConstantRotation has {len(rotation)} values, not 9")
        out["constant_frames"] = constant
        out["constant_rotation"] = rotation
    return out


def _times(table: Table) -> list[float]:
    if "ET" not in table.columns:
        raise CameraDataError(f"table {table.name} has no ET field (a polynomial table is not supported; "
                              f"fields: {', '.join(table.columns)})")
    et = table.columns["ET"]
    if np.any(np.diff(et) <= 0):
        raise CameraDataError(f"table {table.name}: ephemeris times are not increasing")
    return et.tolist()


def rotation_part(table: Table) -> dict:
    """ALE's ``instrument_pointing`` / ``body_rotation`` of an ISIS rotation cache table."""
    names = ("J2000Q0", "J2000Q1", "J2000Q2", "J2000Q3")
    if not all(n in table.columns for n in names):
        raise CameraDataError(f"table {table.name} has no J2000Q0..3 quaternion fields (fields: "
                              f"{', '.join(table.columns)}); a polynomial table is not supported")
    times = _times(table)
    q = np.column_stack([table.columns[n] for n in names])                  # SPICE and ISD order: w, x, y, z
    norms = np.linalg.norm(q, axis=1)
    if np.any(np.abs(norms - 1.0) > 1e-3):
        raise CameraDataError(f"table {table.name}: quaternions are not unit length; the table is garbled")
    out = {**_frames(table), "ck_table_start_time": times[0], "ck_table_end_time": times[-1],
           "ck_table_original_size": len(times), "ephemeris_times": times,
           "quaternions": (q / norms[:, None]).tolist(), "reference_frame": 1}
    if all(n in table.columns for n in ("AV1", "AV2", "AV3")):
        out["angular_velocities"] = np.column_stack([table.columns[n] for n in ("AV1", "AV2", "AV3")]).tolist()
    return out


def position_part(table: Table) -> dict:
    """ALE's ``instrument_position`` / ``sun_position`` of an ISIS position cache table (J2000 km)."""
    names = ("J2000X", "J2000Y", "J2000Z")
    if not all(n in table.columns for n in names):
        raise CameraDataError(f"table {table.name} has no J2000X..Z fields (fields: {', '.join(table.columns)}); "
                              f"a polynomial table is not supported")
    times = _times(table)
    out = {"spk_table_start_time": times[0], "spk_table_end_time": times[-1],
           "spk_table_original_size": len(times), "ephemeris_times": times,
           "positions": np.column_stack([table.columns[n] for n in names]).tolist(), "reference_frame": 1}
    if all(n in table.columns for n in ("J2000XV", "J2000YV", "J2000ZV")):
        out["velocities"] = np.column_stack([table.columns[n] for n in ("J2000XV", "J2000YV", "J2000ZV")]).tolist()
    return out
