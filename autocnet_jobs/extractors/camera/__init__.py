"""Cameras: image support data (ISD) documents and the four generic sensor models that evaluate them.

The community's split (ALE + usgscsm): an instrument *driver* (``drivers/``, one module per mission, one
registry) turns a label and its SPICE into an ISD; four generic models compute image <-> ground from any ISD
with usgscsm's conventions:

=====================================  ====================  =================================
``name_model``                         module                class
=====================================  ====================  =================================
USGS_ASTRO_FRAME_SENSOR_MODEL          ``frame``             ``FrameSensorModel``
USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL   ``linescan``          ``LineScanSensorModel``
USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL     ``pushframe``         ``PushFrameSensorModel``
USGS_ASTRO_SAR_SENSOR_MODEL            ``sar``               ``SarSensorModel``
=====================================  ====================  =================================

Every model is built from the ISD dict alone (``Model(isd)``) and offers, vectorised over numpy arrays:

* ``image_to_ground(line, sample, height=0.0) -> (N, 3)`` body-fixed metres on the ellipsoid raised by
  ``height`` metres; NaN rows where the look misses it.
* ``ground_to_image(xyz (N, 3), precision=0.001) -> (line, sample)``; NaN where the point is not imaged.
* ``image_to_remote_imaging_locus(line, sample) -> (origin (N, 3), direction (N, 3) unit)``.
* ``image_time(line, sample) -> (N,)`` ephemeris time; ``sensor_position(line, sample) -> (N, 3)`` metres;
  ``sun_position(line, sample) -> (N, 3)`` metres (body-fixed).
* ``lines``, ``samples`` (image size), ``semi_major``, ``semi_minor`` (metres).

Image coordinates are CSM's: (line, sample), (0, 0) the upper-left *corner* of the first pixel, so the centre of
the first pixel is (0.5, 0.5). ISIS's 1-based pixel centres are CSM + 0.5; the package's keypoint convention
(0-based centres) is CSM - 0.5.
"""
from __future__ import annotations

import importlib

MODELS = {
    "USGS_ASTRO_FRAME_SENSOR_MODEL": ("frame", "FrameSensorModel"),
    "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL": ("linescan", "LineScanSensorModel"),
    "USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL": ("pushframe", "PushFrameSensorModel"),
    "USGS_ASTRO_SAR_SENSOR_MODEL": ("sar", "SarSensorModel"),
}


def sensor_model(isd: dict):
    """The generic model an ISD names in ``name_model`` (validated by :func:`.isd.check_isd` first)."""
    from .isd import check_isd
    check_isd(isd)
    module, cls = MODELS[isd["name_model"]]
    return getattr(importlib.import_module(f".{module}", __name__), cls)(isd)
