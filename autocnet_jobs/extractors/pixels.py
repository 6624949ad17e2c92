"""Which pixels hold data: nodata, GDAL masks and ISIS special pixels.

ISIS stores NULL, LRS, LIS, HIS and HRS as reserved values at the bottom (and, for unsigned types, the top) of
each pixel type's range. GDAL reports only NULL as nodata, so the other four would otherwise enter feature
extraction and footprints as real (and extreme) values.
"""
from __future__ import annotations

import numpy as np

# Valid ranges per ISIS pixel type (isis/src/base/objs/SpecialPixel/SpecialPixel.h).
_ISIS_VALID = {
    "uint8": (1, 254),
    "int16": (-32752, 32767),
    "uint16": (3, 65522),
    "float32": (np.float32(-3.4028226e38), np.float32(3.4028235e38)),
}
# float32 special pixels are the five values just below VALID_MIN4 (0xFF7FFFFA) and HIS/HRS above.
_FLOAT_VALID_MIN = np.frombuffer(np.uint32(0xFF7FFFFA).tobytes(), dtype=np.float32)[0]

ISIS_DRIVERS = frozenset({"ISIS3", "ISIS2"})


def valid_mask(data: np.ndarray, dtype: str, nodata: float | None, driver: str) -> np.ndarray:
    """Boolean array, True where ``data`` is a real measurement.

    ``data`` is one band as read (any shape); ``dtype`` is the band's on-disk type; ``driver`` is the GDAL
    driver short name (ISIS special-pixel rules apply only to ISIS2/ISIS3).
    """
    mask = np.ones(data.shape, dtype=bool)
    if np.issubdtype(data.dtype, np.floating):
        mask &= np.isfinite(data)
    value = nodata_in(data.dtype, nodata)
    if value is not None:
        mask &= data != value
    if driver in ISIS_DRIVERS:
        if dtype == "float32":
            mask &= data > _FLOAT_VALID_MIN
            mask &= data < np.float32(3.4028233e38)
        elif dtype in _ISIS_VALID:
            lo, hi = _ISIS_VALID[dtype]
            mask &= (data >= lo) & (data <= hi)
    return mask


def nodata_in(dtype: np.dtype, nodata: float | None) -> np.generic | None:
    """``nodata`` as a value of ``dtype``, or None when no pixel of that type can hold it.

    As GDAL's nodata masks do: -1 or 0.5 on a uint8 band match no pixel (a plain cast would make them 255 and
    0); on a float band the value is rounded to the type (a float32 band's nodata is often written in decimal).
    NaN is None: NaN pixels are invalid anyway, and NaN equals nothing.
    """
    if nodata is None or np.isnan(nodata):
        return None
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        if float(nodata) != int(nodata) or not info.min <= int(nodata) <= info.max:
            return None
        return dtype.type(int(nodata))
    return dtype.type(nodata)
