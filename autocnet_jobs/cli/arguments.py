"""Argument parsing of ``autocnet-jobs``: a one-line usage error, and argument types that each reject a bad value
with what is accepted (argparse prefixes the argument)."""
from __future__ import annotations

import argparse
import os
import re
from datetime import datetime, timedelta, timezone
from typing import Callable, NoReturn


def _one_line(exc: BaseException) -> str:
    """The message on one line (driver errors span several; SQLAlchemy adds a 'Background on this error' link)."""
    lines = [line.strip() for line in str(exc).splitlines()]
    return " ".join(line for line in lines if line and not line.startswith("(Background on this error"))


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (argparse prints the whole usage before it), still exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---- argument types: each rejects a bad value with what is accepted (argparse prefixes the argument) ---------
def _int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"expected a whole number {bound}, got {text!r}")
        return value
    parse.__name__ = "whole number"
    return parse


def _finite(text: str, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a number{unit}, got {text!r}")
    return value


def _number(text: str) -> float:
    """A finite number of degrees (--bbox)."""
    return _finite(text, " in degrees")


def _quantity(text: str) -> float:
    """A finite number in the option's own unit (--resolution in metres per pixel, angles in degrees)."""
    return _finite(text, "")


def _extension(text: str) -> str:
    ext = text.strip()
    ext = ext[2:] if ext.startswith("*.") else ext.lstrip(".")
    if not ext or any(c in ext for c in "/\\*?[]"):
        raise argparse.ArgumentTypeError(f"expected a file extension such as cub, img or tif, got {text!r}")
    return ext


_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_AGE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _since(text: str) -> datetime:
    """An ISO 8601 date or date-time (UTC unless it has an offset), or an age before now (90m, 12h, 2d, 1w)."""
    age = _AGE.fullmatch(text.strip().lower())
    if age:
        return datetime.now(timezone.utc) - timedelta(seconds=float(age[1]) * _AGE_SECONDS[age[2]])
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time; give an ISO date or date-time (2026-11-30, 2026-11-30T14:00, UTC unless an "
            "offset such as +01:00 is given) or an age (90m, 12h, 2d, 1w)") from None


_WKT_EXAMPLE = "a lon/lat geometry such as 'POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))'"


def _wkt(text: str):
    """A non-empty, valid lon/lat geometry (longitude -180..180, latitude -90..90, as footprints are stored)."""
    import shapely
    from shapely.errors import ShapelyError

    try:
        geom = shapely.from_wkt(text)
    except (ShapelyError, ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"not valid WKT ({_one_line(exc)}); give {_WKT_EXAMPLE}") from None
    if geom is None or geom.is_empty:
        raise argparse.ArgumentTypeError(f"an empty geometry; give {_WKT_EXAMPLE}")
    if not geom.is_valid:
        raise argparse.ArgumentTypeError(f"an invalid geometry ({shapely.is_valid_reason(geom)}); give {_WKT_EXAMPLE}")
    x0, y0, x1, y1 = geom.bounds
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise argparse.ArgumentTypeError(
            f"coordinates out of lon/lat range (bounds {x0:g} {y0:g} {x1:g} {y1:g}); give {_WKT_EXAMPLE}, longitude "
            "-180..180 (subtract 360 from longitudes above 180), latitude -90..90")
    return geom


def _out_file(text: str) -> str:
    """A file that can be created: its folder exists and is writable, and it is not itself a folder."""
    path = os.path.abspath(text)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name in it")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot write {text}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: the folder {folder} is not writable")
    return text
