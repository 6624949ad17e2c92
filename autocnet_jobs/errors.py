"""Typed errors.

Per-image errors carry a short ``kind`` string: it is what the tracker stores in the ``jobs`` table and what
``ImageAdder.failure(path)`` and ``autocnet-jobs failed`` report, so a user can filter failures by reason. An
error class with ``permanent = True`` is one no retry can fix (the same bytes and settings give the same answer):
the tracker gives such a job up at its first failure instead of spending ``cluster.maxfailures`` on it.
"""
from __future__ import annotations


class AutocnetJobsError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(AutocnetJobsError, ValueError):
    """A configuration key is unknown, has the wrong type or an invalid value."""


class DatabaseUnavailable(AutocnetJobsError):
    """The database cannot be reached or its schema does not match this version."""


class ImageError(AutocnetJobsError):
    """Something about one image prevents it from being ingested. Never stops the run."""

    kind = "image_error"
    permanent = False


class UnreadableImage(ImageError):
    """The file exists but cannot be read (permissions, truncated, I/O error, a directory)."""

    kind = "unreadable"


class UnsupportedFormat(ImageError):
    """No GDAL driver recognises the file's content (e.g. a text file named ``.cub``)."""

    kind = "unsupported_format"
    permanent = True


class NoData(ImageError):
    """The selected band has no valid pixel (all nodata or ISIS special pixels)."""

    kind = "no_data"
    permanent = True


class NoSuchBand(ImageError):
    """The image has fewer bands than ``reading.band`` asks for."""

    kind = "no_such_band"
    permanent = True


class CameraDataError(ImageError):
    """The SPICE a level-1 cube carries (its tables, NaifKeywords) is truncated, garbled or inconsistent."""

    kind = "camera_data"
    permanent = True


class IsdError(CameraDataError):
    """An image support data (ISD) document - a sidecar JSON - is not valid: names the key at fault."""

    kind = "isd_invalid"


class ExtractionError(ImageError):
    """The feature extractor failed on valid pixels."""

    kind = "extraction_error"


class OutputError(ImageError):
    """The keypoint file could not be written (folder not writable, disk full)."""

    kind = "write_error"


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


# Kinds the tracker does not retry (its one source: the ``permanent`` attribute above).
PERMANENT_KINDS = frozenset(c.kind for c in _subclasses(ImageError) if c.permanent)

# Failure kinds the tracker assigns itself, for jobs that never reported an ImageError.
WORKER_DIED = "worker_died"
TIMEOUT = "timeout"
CALLBACK_ERROR = "callback_error"
UNEXPECTED = "unexpected_error"
DB_WRITE = "db_write_error"


def error_kind(exc: BaseException) -> str:
    """The failure kind for ``exc``: its ``kind`` when it is an ImageError, else ``unexpected_error``."""
    return getattr(exc, "kind", UNEXPECTED) if isinstance(exc, ImageError) else UNEXPECTED
