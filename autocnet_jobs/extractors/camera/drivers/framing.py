"""What the framing drivers of ISIS cameras share (:class:`IsisFramingDriver`).

It does three things every ISIS framing cube needs:

* detector origins: ISIS's are 1-based pixel centres, CSM's have the first pixel's corner at 0, so an ISIS
  origin ``o`` is CSM ``o - 0.5`` (an ISIS SetImage(s, l) is CSM (l - 0.5, s - 0.5));
* one epoch: usgscsm's frame model takes exactly one instrument pointing, position and body rotation record
  at one shared time. ISIS caches a framing image once, at its centre time, so each table holds one record;
  their ET fields can differ by microseconds (Viking), so every block is set to the pointing table's ET, which
  also becomes ``center_ephemeris_time`` (the time ISIS computed the geometry at);
* whole summing: ALE's ``getSampleSumming`` reads the summing as an int, so a reduction by a non-integer
  factor (a 2592-sample image reduced to 259) is folded into ``focal2pixel`` and the detector centre and
  start instead (``pixel = (itrans(x) + centre - start) / summing``, all divided by the summing).
"""
from __future__ import annotations

from ....errors import CameraDataError
from .base import Driver, MissingConstant


def one_epoch(isd: dict) -> dict:
    """Every SPICE block of a frame ISD at the one time ISIS cached the image at (see the module doc)."""
    blocks = [k for k in ("instrument_pointing", "instrument_position", "body_rotation", "sun_position")
              if k in isd]
    sizes = {k: len(isd[k]["ephemeris_times"]) for k in blocks}
    if any(n != 1 for n in sizes.values()):
        raise MissingConstant(f"one SPICE record per table for a framing image (ISIS caches one; these have "
                              f"{sizes}); interpolating a framing cube's tables is not supported")
    t = float(isd["instrument_pointing"]["ephemeris_times"][0])
    for k in blocks:
        block = isd[k]
        if abs(block["ephemeris_times"][0] - t) > 1e-3:
            raise CameraDataError(f"the {k} table is at ET {block['ephemeris_times'][0]}, the pointing at {t}")
        block["ephemeris_times"] = [t]
        prefix = "ck" if "quaternions" in block else "spk"
        block[f"{prefix}_table_start_time"] = block[f"{prefix}_table_end_time"] = t
    isd["center_ephemeris_time"] = t
    return isd


def whole_summing(isd: dict) -> dict:
    """Fold a non-integer summing (a reduction) into focal2pixel and the detector centre and start."""
    for axis, key in (("sample", "samples"), ("line", "lines")):
        summing = float(isd[f"detector_{axis}_summing"])
        if summing == round(summing):
            continue
        isd[f"focal2pixel_{key}"] = [v / summing for v in isd[f"focal2pixel_{key}"]]
        isd["detector_center"][axis] /= summing
        isd[f"starting_detector_{axis}"] /= summing
        isd[f"detector_{axis}_summing"] = 1
    return isd


class IsisFramingDriver(Driver):
    """An ISIS framing camera: CSM detector origins, one epoch, whole summing (see the module doc)."""

    model = "frame"

    @property
    def center_ephemeris_time(self) -> float:
        """The time ISIS cached the frame at (its centre of exposure): the InstrumentPointing record's ET."""
        table = self.cube.table("InstrumentPointing")
        if "ET" not in table.columns or not len(table.columns["ET"]):
            raise CameraDataError("the InstrumentPointing table has no ET record")
        return float(table.columns["ET"][0])

    @property
    def detector_center_sample(self) -> float:
        return self.naif.value("INS{ik}_BORESIGHT_SAMPLE") - 0.5

    @property
    def detector_center_line(self) -> float:
        return self.naif.value("INS{ik}_BORESIGHT_LINE") - 0.5

    def isd(self) -> dict:
        return whole_summing(one_epoch(super().isd()))
