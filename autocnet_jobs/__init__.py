"""autocnet_jobs: ingest planetary images (features, footprints, cameras) into a spatial catalogue."""
from .adder import ImageAdder, InputDirectoryError
from .errors import (AutocnetJobsError, ConfigError, DatabaseUnavailable, ExtractionError, ImageError, NoData,
                     NoSuchBand, OutputError, UnreadableImage, UnsupportedFormat)

__all__ = ["ImageAdder", "InputDirectoryError", "AutocnetJobsError", "ConfigError", "DatabaseUnavailable",
           "ImageError", "UnreadableImage", "UnsupportedFormat", "NoData", "NoSuchBand", "ExtractionError",
           "OutputError"]
__version__ = "0.1.0"
