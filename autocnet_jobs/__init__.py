"""autocnet_jobs: ingest planetary images (features, footprints, cameras) into a spatial catalogue.

``ImageAdder`` (and ``InputDirectoryError``) are imported on first use: importing the package, its per-image
functions (``autocnet_jobs.extractors``) or its read side loads neither Dask's ``distributed`` nor Pyro5.
"""
from .errors import (
    AutocnetJobsError,
    ConfigError,
    DatabaseUnavailable,
    ExtractionError,
    ImageError,
    NoData,
    NoSuchBand,
    OutputError,
    UnreadableImage,
    UnsupportedFormat,
)

__all__ = ["ImageAdder", "InputDirectoryError", "AutocnetJobsError", "ConfigError", "DatabaseUnavailable",
           "ImageError", "UnreadableImage", "UnsupportedFormat", "NoData", "NoSuchBand", "ExtractionError",
           "OutputError"]
__version__ = "0.1.0"

_LAZY = {"ImageAdder": "adder", "InputDirectoryError": "adder"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
