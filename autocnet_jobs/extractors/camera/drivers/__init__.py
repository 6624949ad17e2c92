"""Instrument drivers: an ISIS cube's label + attached SPICE -> an ISD, one small module per mission.

Adding an instrument is a new module with a :class:`~.base.Driver` subclass and one line in
:data:`DRIVER_MODULES`. What drivers share lives beside them: ``cube`` (the cube, its NaifKeywords and SPICE
tables as ISD parts), ``base`` (the Driver class: ALE's IsisLabel + IsisSpice defaults, the AlphaCube fold),
``framing`` (ISIS framing cameras: CSM origins, one epoch, whole summing), ``level1`` (line scanners whose cube
was map-projected) and ``fitting`` (usgscsm distortions fitted to ISIS lens maps usgscsm lacks).
:func:`driver_for` picks the driver whose ``spacecraft`` and ``instruments`` match the
label's ``Instrument`` group (upper case, spaces and underscores alike).
"""
from __future__ import annotations

import importlib

from .base import Driver, IsisCube, MissingConstant

# One line per mission module; each module's Driver subclasses are registered by their match keys.
DRIVER_MODULES = (
    "mro",          # MRO CTX, HiRISE, MARCI
    "mgs",          # MGS MOC wide and narrow angle
    "odyssey",      # Mars Odyssey THEMIS IR and VIS
    "lro",          # LRO NAC, WAC
    "minirf",       # LRO Mini-RF
    "messenger",    # MESSENGER MDIS NAC/WAC
    "osirisrex",    # OSIRIS-REx OCAMS (MapCam, PolyCam, SamCam) and TAGCAMS (NavCam, NFTCam, StowCam)
    "near",         # NEAR MSI
    "viking",       # Viking Orbiter VIS A/B
    "apollo",       # Apollo Metric
    "tgo",          # TGO CaSSIS
)


def cube_isd(path: str, band: int = 1) -> dict:
    """The ISD of a level-1 ISIS cube with attached SPICE, through its instrument's driver.

    Raises MissingConstant (no driver, or a constant the driver needs) with the reason in its message.
    """
    from ...labels import isis3_label
    label = isis3_label(path)
    if label is None or label.find("Kernels") is None:
        raise MissingConstant("an ISIS cube with attached SPICE (a Kernels group and spiceinit attach=yes)")
    cube = IsisCube(str(path), label)
    cls = driver_for(cube)
    if cls is None:
        raise MissingConstant(f"a driver for {cube.keyword('Instrument', 'SpacecraftName') or '?'} "
                              f"{cube.keyword('Instrument', 'InstrumentId') or '?'} (supported: "
                              f"{', '.join(supported())})")
    return driver_isd(cls(cube, band))


def driver_isd(driver: Driver) -> dict:
    """A driver's ISD of its cube. A push-frame cube cropped inside a framelet has the ISD of the whole
    framelets around it (usgscsm counts framelets from line 0) and ``image_crop``: cube line l is ISD line
    l + line_offset (usgscsm ignores the key; camera.ground.GroundModel applies it)."""
    isd, offset = driver.isd_with_offset()
    if offset:
        isd["image_crop"] = {"line_offset": float(offset), "lines": driver.cube.dimensions[0]}
    return isd


def _norm(text: str | None) -> str:
    return " ".join((text or "").replace("_", " ").upper().split())


def drivers() -> list[type[Driver]]:
    """Every registered driver class, in registry order."""
    out = []
    for name in DRIVER_MODULES:
        module = importlib.import_module(f".{name}", __name__)
        out += [obj for obj in vars(module).values()
                if isinstance(obj, type) and issubclass(obj, Driver) and obj.instruments]
    return out


def driver_for(cube: IsisCube) -> type[Driver] | None:
    """The driver class for a cube's spacecraft and instrument, or None."""
    spacecraft = _norm(cube.keyword("Instrument", "SpacecraftName"))
    instrument = _norm(cube.keyword("Instrument", "InstrumentId"))
    for cls in drivers():
        if instrument in {_norm(i) for i in cls.instruments} and (
                not cls.spacecraft or spacecraft in {_norm(s) for s in cls.spacecraft}):
            return cls
    return None


def supported() -> list[str]:
    """'SPACECRAFT INSTRUMENT' of every driver, for messages and the README."""
    return [f"{(c.spacecraft or ('*',))[0]} {c.instruments[0]}" for c in drivers()]


__all__ = ["Driver", "IsisCube", "MissingConstant", "cube_isd", "driver_for", "driver_isd", "drivers", "supported"]
