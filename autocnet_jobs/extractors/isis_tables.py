"""ISIS3 binary tables (``Object = Table`` in a cube label): the SPICE a cube carries after ``spiceinit``.

A table is ``Records`` fixed-size records at ``StartByte`` (1-based), each the label's ``Field`` groups in
order; a field holds ``Size`` values of ``Integer`` (int32), ``Real`` (float32), ``Double`` (float64) or
``Text`` (``Size`` bytes), in the table's ``ByteOrder`` (``Lsb`` or ``Msb``). This is the layout ISIS's
``Table``/``TableField`` classes write (isis/src/base/objs/Table*).

:func:`read_table` returns the fields as numpy arrays keyed by name plus the table's own keywords. Anything
wrong with a table (missing, truncated, a field type it cannot have, a size that does not add up) raises
:class:`~autocnet_jobs.errors.CameraDataError` naming the table, so one garbled cube fails alone and says why.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import CameraDataError
from .labels import Block

_TYPES = {"integer": "i4", "real": "f4", "double": "f8"}


@dataclass
class Table:
    name: str
    keywords: dict[str, str]                       # the table object's own keywords, as text
    columns: dict[str, np.ndarray] = field(default_factory=dict)   # name -> (records,) or (records, size)

    def get(self, key: str, default: str | None = None) -> str | None:
        low = key.lower()
        for k, v in self.keywords.items():
            if k.lower() == low:
                return v
        return default

    @property
    def records(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def table_block(label: Block, name: str) -> Block | None:
    """The label's ``Object = Table`` named ``name`` (case-insensitive), or None."""
    for block in label.findall("Table"):
        if block.kind == "Object" and (block.get("Name") or "").strip().lower() == name.lower():
            return block
    return None


def _dtype(block: Block, name: str) -> np.dtype:
    order = (block.get("ByteOrder") or "Lsb").strip().lower()
    if order not in ("lsb", "msb"):
        raise CameraDataError(f"table {name}: ByteOrder {order!r} is neither Lsb nor Msb")
    endian = "<" if order == "lsb" else ">"
    fields = []
    for group in block.children:
        if group.kind != "Group" or group.name.lower() != "field":
            continue
        fname = (group.get("Name") or "").strip()
        ftype = (group.get("Type") or "").strip().lower()
        try:
            size = int(group.get("Size") or "1")
        except ValueError:
            raise CameraDataError(f"table {name}: field {fname!r} has Size {group.get('Size')!r}") from None
        if not fname or size < 1:
            raise CameraDataError(f"table {name}: a field has no name or a size below 1")
        if ftype == "text":
            fields.append((fname, f"S{size}"))
        elif ftype in _TYPES:
            fields.append((fname, endian + _TYPES[ftype], (size,)) if size > 1 else (fname, endian + _TYPES[ftype]))
        else:
            raise CameraDataError(f"table {name}: field {fname!r} has type {ftype!r} "
                                  f"(ISIS tables hold Integer, Real, Double or Text)")
    if not fields:
        raise CameraDataError(f"table {name} has no Field groups in the label")
    return np.dtype(fields)


def read_table(path: str | os.PathLike, label: Block, name: str) -> Table:
    """The table ``name`` of the cube at ``path`` whose parsed label is ``label``.

    Raises CameraDataError when the label has no such table or the table cannot be what its label says.
    """
    block = table_block(label, name)
    if block is None:
        raise CameraDataError(f"the cube has no {name} table (run ISIS spiceinit with attach=yes)")
    dtype = _dtype(block, name)
    try:
        start, records, nbytes = int(block.get("StartByte")), int(block.get("Records")), int(block.get("Bytes"))
    except (TypeError, ValueError):
        raise CameraDataError(f"table {name}: StartByte, Records or Bytes is missing or not a number") from None
    if records < 1 or start < 1:
        raise CameraDataError(f"table {name} has {records} records at byte {start}")
    if records * dtype.itemsize != nbytes:
        raise CameraDataError(f"table {name}: {records} records of {dtype.itemsize} bytes do not make the "
                              f"{nbytes} bytes the label gives; the label's fields do not match the data")
    with open(path, "rb") as f:
        f.seek(start - 1)
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise CameraDataError(f"table {name} is truncated: {len(data)} of {nbytes} bytes at byte {start} "
                              f"(the file is shorter than its label says)")
    array = np.frombuffer(data, dtype=dtype)
    columns = {}
    for fname in dtype.names:
        column = array[fname]
        if column.dtype.kind == "S":
            columns[fname] = np.array([v.rstrip(b"\0 ").decode("latin-1") for v in column])
        else:
            column = column.astype(np.float64 if column.dtype.kind == "f" else np.int64)
            if column.dtype.kind == "f" and not np.all(np.isfinite(column)):
                raise CameraDataError(f"table {name}: field {fname} holds NaN or infinite values")
            columns[fname] = column
    return Table(name, dict(block.keywords), columns)


def numbers(text: str | None) -> list[float]:
    """A PVL value such as ``(1.0, -2.5e-3, 3)`` or ``4.2 <mm>`` as floats ([] for None)."""
    if text is None:
        return []
    body = text.strip()
    if body.startswith("("):
        body = body.strip("()")
    out = []
    for part in body.replace("\n", " ").split(","):
        part = part.strip().split("<")[0].strip().strip('"')
        if part:
            out.append(float(part))
    return out
