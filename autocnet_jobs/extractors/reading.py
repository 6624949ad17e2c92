"""Opening images and reading bands as 8-bit, with errors that say what to do.

Every failure a user can fix (missing file, permissions, a text file named ``.cub``, a raw ``.img`` whose PDS label
is a separate file, a truncated copy) becomes a typed :class:`~autocnet_jobs.errors.ImageError`, so the tracker can
report *why* an image was not ingested instead of a GDAL traceback. The driver is always detected from content by
GDAL, never chosen from the extension (``.img`` is HFA in GDAL's extension table but PDS3 on planetary data).
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
import warnings
from typing import Iterator

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from ..errors import NoData, UnreadableImage, UnsupportedFormat
from .pixels import valid_mask

# Robust 8-bit stretch: these percentiles of the valid pixels map to 0 and 255.
STRETCH_PERCENTILES = (0.5, 99.5)
# Label files that may describe a raw data file beside them (PDS3 detached labels, PDS4 XML labels).
_LABEL_EXTS = (".lbl", ".lab", ".xml")
_CHUNK = 1 << 20
_STRIP_PIXELS = 1 << 22  # pixels per read when a band is read in strips


def open_image(path: str) -> rasterio.DatasetReader:
    """Open ``path`` read-only with the GDAL driver its content calls for.

    Checks the file with plain ``os`` calls first, because GDAL reports a missing file, a directory, a permission
    problem and an unknown format all as "not recognized", which tells a user nothing. After opening, the last
    pixel of the last band is read so a truncated file fails here and not halfway through extraction.
    """
    _check_file(path)
    with warnings.catch_warnings():
        # Level-1 images are not georeferenced on purpose; the footprint code reports that itself.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            ds = rasterio.open(path)
        except RasterioError as exc:
            raise _open_error(path, exc) from None
        try:
            ds.read(ds.count, window=Window(ds.width - 1, ds.height - 1, 1, 1))
        except RasterioError as exc:
            ds.close()
            raise UnreadableImage(
                f"{path}: {ds.driver} file cannot be read to its end ({_gdal_message(exc)}); it is probably truncated "
                "(an interrupted copy or download): copy it again") from None
    return ds


def _check_file(path: str) -> None:
    """Raise the ImageError that explains why ``path`` is not a readable, non-empty regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise UnreadableImage(f"{path} is a broken symlink (it points to {os.readlink(path)!r}, which does "
                                  "not exist): fix or remove the link") from None
        raise UnreadableImage(f"{path} does not exist: check the path (was the file moved or deleted?)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableImage(f"{path} is a symlink loop (the link points back to itself): fix the link") from None
        raise UnreadableImage(f"{path} cannot be accessed: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableImage(f"{path} is a directory, not an image file: pass the image files inside it "
                              "(ImageAdder.add_images takes a folder and an extension)")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableImage(f"{path} is not a regular file (a device, socket or pipe): pass an image file")
    try:
        with open(path, "rb") as f:
            head = f.read(1)
    except PermissionError:
        raise UnreadableImage(f"{path}: permission denied for uid {os.getuid()}: make the file readable by the "
                              "user the workers run as (chmod a+r, or run the workers as its owner)") from None
    except OSError as exc:
        raise UnreadableImage(f"{path} cannot be read: {exc.strerror} (errno {exc.errno})") from None
    if not head:
        raise UnsupportedFormat(f"{path} is empty (0 bytes): an interrupted copy? copy the image again")


def _open_error(path: str, exc: RasterioError) -> Exception:
    message = _gdal_message(exc)
    if "not recognized as" not in message and "not a supported file format" not in message:
        return UnreadableImage(f"{path}: GDAL could not open it: {message}")
    label = _detached_label_for(path)
    if label:
        return UnsupportedFormat(f"{path} is raw image data without a label of its own; its detached PDS label is "
                                 f"{label}: ingest the label file instead")
    return UnsupportedFormat(f"{path}: no GDAL driver recognises this file's content (is it an image? a raw .img "
                             "with a detached .lbl label must be opened through the label)")


def _gdal_message(exc: BaseException) -> str:
    """GDAL's own error text; rasterio often wraps it as 'see previous exception'."""
    inner = exc.__cause__ or exc.__context__
    text = str(exc)
    if inner is not None and ("previous exception" in text or not text):
        text = str(inner)
    return text.strip() or type(exc).__name__


def _detached_label_for(path: str) -> str | None:
    """A label file beside ``path`` that names it as its data file (PDS ``^IMAGE = "x.img"``), if any."""
    folder, name = os.path.split(os.path.abspath(path))
    stem = os.path.splitext(name)[0]
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return None
    candidates = [e for e in entries if os.path.splitext(e)[1].lower() in _LABEL_EXTS]
    # Same stem first (x.img / x.lbl), then any label in the folder (a label may describe a differently named file).
    candidates.sort(key=lambda e: os.path.splitext(e)[0] != stem)
    needle = name.lower().encode()
    for entry in candidates[:200]:
        try:
            with open(os.path.join(folder, entry), "rb") as f:
                text = f.read(65536).lower()
        except OSError:
            continue
        if needle in text:
            return os.path.join(folder, entry)
    return None


def _read(ds: rasterio.DatasetReader, band: int, window: Window | None, out_shape: tuple[int, int] | None,
          masks: bool = False) -> np.ndarray:
    """ds.read / ds.read_masks (nearest neighbour) with GDAL I/O errors turned into UnreadableImage.

    A reduced read (``out_shape``) of a band with overviews goes around them: GDAL would answer from an overview,
    whose values are averages or, in a JPEG 2000, a lower wavelet level (a frame of zeros reads back as 0, 1, 2),
    and nodata and special pixels can only be told from real pixel values.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            if out_shape is not None and ds.overviews(band):
                return _reduced_from_full(ds, band, window, out_shape, masks)
            if masks:
                return ds.read_masks(band, window=window, out_shape=out_shape)
            return ds.read(band, window=window, out_shape=out_shape)
    except RasterioError as exc:
        raise UnreadableImage(f"{ds.name}: reading band {band} failed ({_gdal_message(exc)}); the file is "
                              "probably truncated or damaged: copy it again") from None


def _reduced_from_full(ds: rasterio.DatasetReader, band: int, window: Window | None, out_shape: tuple[int, int],
                       masks: bool) -> np.ndarray:
    """A nearest-neighbour reduced read taken from full-resolution pixels, read in block-aligned row bands.

    Whole bands of blocks, not thin strips: a JPEG 2000 decodes every block a request touches, each time.
    """
    win = window if window is not None else Window(0, 0, ds.width, ds.height)
    col_off, row_off, width, height = (int(v) for v in (win.col_off, win.row_off, win.width, win.height))
    rows = row_off + ((np.arange(out_shape[0]) + 0.5) * height / out_shape[0]).astype(np.int64)
    cols = ((np.arange(out_shape[1]) + 0.5) * width / out_shape[1]).astype(np.int64)
    block_h = ds.block_shapes[band - 1][0]
    band_h = block_h * max(1, _STRIP_PIXELS // max(1, width * block_h))
    out = None
    start = row_off - row_off % block_h
    while start < row_off + height:
        top, stop = max(start, row_off), min(start + band_h, row_off + height)
        wanted = (rows >= top) & (rows < stop)
        if wanted.any():
            part = Window(col_off, top, width, stop - top)
            strip = ds.read_masks(band, window=part) if masks else ds.read(band, window=part)
            if out is None:
                out = np.empty(out_shape, strip.dtype)
            out[wanted] = strip[rows[wanted] - top][:, cols]
        start += band_h
    return out


def band_nodata(ds: rasterio.DatasetReader, band: int, nodata: float | None = None) -> float | None:
    """The band's nodata value: ``nodata`` (``reading.nodata``) when given, else the one the file declares."""
    return ds.nodatavals[band - 1] if nodata is None else nodata


def read_valid(ds: rasterio.DatasetReader, band: int, window: Window | None = None,
               out_shape: tuple[int, int] | None = None, *,
               nodata: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(raw pixels, bool valid mask) of one band: nodata, ISIS special pixels and GDAL dataset/alpha masks.

    ``nodata`` (``reading.nodata``) replaces the nodata value the file declares (:func:`band_nodata`); the other
    exclusions apply either way. Reads resample by nearest neighbour, so a mask read small keeps real values.
    """
    data = _read(ds, band, window, out_shape)
    valid = valid_mask(data, ds.dtypes[band - 1], band_nodata(ds, band, nodata), ds.driver)
    flags = ds.mask_flag_enums[band - 1]
    if MaskFlags.per_dataset in flags or MaskFlags.alpha in flags:
        valid &= _read(ds, band, window, out_shape, masks=True) > 0
    return data, valid


def percentile_stretch(values: np.ndarray) -> tuple[float, float]:
    """(low, high) that map to 0 and 255: robust percentiles of ``values`` (valid pixels only)."""
    lo, hi = np.percentile(values, STRETCH_PERCENTILES)
    lo, hi = float(lo), float(hi)
    if not hi > lo:  # constant image (or one dominant value): any non-degenerate range will do
        hi = lo + 1.0
    return lo, hi


def to_8bit(data: np.ndarray, valid: np.ndarray, stretch: tuple[float, float]) -> np.ndarray:
    """Linear stretch of ``data`` to uint8 between ``stretch``; invalid pixels become 0."""
    lo, hi = stretch
    work = np.where(valid, data, lo).astype(np.float32, copy=False)
    work -= np.float32(lo)
    work *= np.float32(255.0 / (hi - lo))
    np.clip(work, 0, 255, out=work)
    out = (work + 0.5).astype(np.uint8)
    out[~valid] = 0
    return out


def read_band_8bit(ds: rasterio.DatasetReader, band: int, window: Window | None = None,
                   out_shape: tuple[int, int] | None = None, *,
                   stretch: tuple[float, float] | None = None,
                   nodata: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image, bool valid mask) of ``band`` (1-based), optionally a window and/or resampled to ``out_shape``.

    Detectors need 8 bit; planetary data are float32/int16 with extreme special values, so the stretch uses robust
    percentiles of the valid pixels only. Pass ``stretch`` (from :func:`estimate_stretch`) to use one stretch for
    every tile of an image; ``nodata`` as in :func:`read_valid`. Raises NoData when no pixel of the read is valid.
    """
    data, valid = read_valid(ds, band, window, out_shape, nodata=nodata)
    if not valid.any():
        where = f" in window {window}" if window is not None else ""
        raise NoData(f"{ds.name}: band {band} has no valid pixel{where} (all nodata or ISIS special pixels)")
    if stretch is None:
        stretch = percentile_stretch(data[valid])
    return to_8bit(data, valid, stretch), valid


def _sample_windows(width: int, height: int, n: int = 8, size: int = 128) -> Iterator[Window]:
    """An n x n grid of small windows spread over the image (touches few blocks of a huge file)."""
    w, h = min(size, width), min(size, height)
    for i in range(n):
        for j in range(n):
            col = round(j * (width - w) / max(n - 1, 1))
            row = round(i * (height - h) / max(n - 1, 1))
            yield Window(col, row, w, h)


def estimate_stretch(ds: rasterio.DatasetReader, band: int, max_side: int = 1024, *,
                     nodata: float | None = None) -> tuple[float, float]:
    """One 8-bit stretch for a whole band, without reading all of it.

    Small images are read decimated to at most ``max_side``; large ones are sampled with a grid of small windows
    (a decimated read would decode every block of a 20k x 20k file), falling back to the decimated read when the
    windows hold too few valid pixels (sparse data). Raises NoData when the band has no valid pixel at all.
    """
    values: list[np.ndarray] = []
    if ds.width * ds.height > 16 * max_side * max_side:
        for window in _sample_windows(ds.width, ds.height):
            data, valid = read_valid(ds, band, window, nodata=nodata)
            values.append(data[valid])
        if sum(v.size for v in values) >= 4096:
            return percentile_stretch(np.concatenate(values))
    factor = max(1, -(-max(ds.width, ds.height) // max_side))
    shape = (max(1, -(-ds.height // factor)), max(1, -(-ds.width // factor)))
    data, valid = read_valid(ds, band, out_shape=shape if factor > 1 else None, nodata=nodata)
    if valid.any():
        return percentile_stretch(data[valid])
    if factor > 1:  # decimation can miss a few valid pixels: scan every pixel, strip by strip
        found = _scan_valid(ds, band, nodata=nodata)
        if found.size:
            return percentile_stretch(found)
    raise NoData(f"{ds.name}: band {band} has no valid pixel (all nodata or ISIS special pixels)")


def _scan_valid(ds: rasterio.DatasetReader, band: int, per_strip: int = 65536, *,
                nodata: float | None = None) -> np.ndarray:
    """Valid values of the whole band read in strips of about 4 Mpx (memory stays bounded), thinned per strip."""
    rows = max(1, (1 << 22) // ds.width)
    values = []
    for row in range(0, ds.height, rows):
        data, valid = read_valid(ds, band, Window(0, row, ds.width, min(rows, ds.height - row)), nodata=nodata)
        found = data[valid]
        values.append(found[:: max(1, found.size // per_strip)])
    return np.concatenate(values)


def file_checksum(path: str) -> str:
    """sha256 hex digest of the file, read in 1 MiB chunks (images can be many GB)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise UnreadableImage(f"{path} cannot be read for its checksum: {exc.strerror}") from None
    return digest.hexdigest()
