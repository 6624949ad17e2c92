"""The PostGIS writer's binary COPY rows, encoded without a database (store/postgis.py writes them).

:func:`encode_batch` turns records into binary COPY bytes, all but the three fields only the batch's transaction
knows (the image id, the job sequence number and the CRS id), which :func:`image_data` puts in front of each row;
so the writer can encode the next batch in one thread while another commits this one (writer.py). Footprints go
over the wire as binary EWKB made from the record's WKB by splicing the SRID into its header (:func:`ewkb`: no
geometry is decoded in Python).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from psycopg._copy_base import format_row_binary  # psycopg's own (C) encoder of one binary COPY row
from psycopg.adapt import Transformer
from psycopg.pq import Format

from .. import schema
from .base import IMAGE_FIELDS, _last_per_path, stored_camera

# The images COPY columns: first the three only the batch's transaction knows (put in front of each row by
# write_encoded), then the rest, encoded beforehand (encode).
_HEAD_COLS = ("id", "job_seq", "crs_id")
REST_COLS = (*IMAGE_FIELDS, "srid", "attempts", "worker", "footprint")
IMAGE_COLS = (*_HEAD_COLS, *REST_COLS)
CAMERA_COLS = ("image_id", "model", "isd")
HEAD_TYPES = {("images", "id"): "integer", ("images", "job_seq"): "bigint", ("images", "crs_id"): "integer",
               ("cameras", "image_id"): "integer"}
_IMAGE_HEAD = struct.Struct("!hiiiq")  # field count; id (length 4, int4); job_seq (length 8, int8)
_CAMERA_HEAD = struct.Struct("!hii")   # field count; image_id (length 4, int4)
INT4_FIELD = struct.Struct("!ii")     # crs_id (length 4, int4)
_NULL = b"\xff\xff\xff\xff"
_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + bytes(8)  # binary COPY header: signature, flags, no extension
_TRAILER = b"\xff\xff"
_CAMERA_AT = IMAGE_FIELDS.index("camera")
_PARAMS_AT = IMAGE_FIELDS.index("extractor_params")
_TIMES_AT = tuple(IMAGE_FIELDS.index(k) for k in schema.TIME_COLUMNS)
_CRS_AND_ISD = (*schema.CAMERA_CRS_KEYS, "isd")
TEXT = 25  # json columns are sent as their text


@dataclass
class EncodedBatch:
    """A batch as :meth:`PostgisStore.encode` leaves it for :meth:`PostgisStore.write_encoded`."""

    records: list[dict]
    job_rows: list[dict]
    paths: list[str] = field(default_factory=list)
    rest: list[bytearray] = field(default_factory=list)  # each image row's REST_COLS, binary COPY fields
    crs_slot: list[int] = field(default_factory=list)  # per row: its CRS in ``crs``, -1 for none
    crs: list[tuple] = field(default_factory=list)  # distinct (wkt, iau_code, body)
    srids: dict = field(default_factory=dict)  # footprint srid -> (iau_code, body)
    cameras: list[tuple[int, bytearray]] = field(default_factory=list)  # (row, its model and ISD fields)
    no_camera: list[str] = field(default_factory=list)  # paths without a sensor camera: any old ISD goes


def encode_batch(records: list[dict], jobs: list[dict], rest_types: list[int],
                 camera_types: list[int]) -> EncodedBatch:
    """The batch's rows as binary COPY bytes (``rest_types``/``camera_types``: the binary COPY types of
    REST_COLS and the cameras' model and ISD, as the catalogue has them). A record whose values cannot be
    encoded raises."""
    records = _last_per_path(records)
    done = {r["path"] for r in records}
    out = EncodedBatch(records, _last_per_path(j for j in jobs if j["path"] not in done))
    tx = Transformer()
    tx.set_dumper_types(rest_types, Format.BINARY)
    cam_tx = Transformer()
    cam_tx.set_dumper_types(camera_types, Format.BINARY)
    dumps, srid_for, utc = schema.json_text, schema.srid_for, schema.utc_datetime
    slots: dict[str, int] = {}
    params, params_json = None, None  # a run's records mostly share their extractor settings: one JSON
    for row, rec in enumerate(records):
        values = list(map(rec.get, IMAGE_FIELDS))
        camera = values[_CAMERA_AT]
        isd = None
        if camera is not None:
            small, isd, model = _split(camera)
            values[_CAMERA_AT] = dumps(small)
        value = values[_PARAMS_AT]
        if value is not None:
            if value != params:
                params, params_json = value, dumps(value)
            values[_PARAMS_AT] = params_json
        for i in _TIMES_AT:
            values[i] = utc(values[i])
        iau_code = rec.get("iau_code")
        srid = srid_for(iau_code)
        if srid is not None and srid not in out.srids:
            out.srids[srid] = (iau_code, rec.get("body"))
        wkt = rec.get("crs_wkt")
        if wkt:
            slot = slots.get(wkt)
            if slot is None:
                slot = slots[wkt] = len(out.crs)
                out.crs.append((wkt, iau_code, rec.get("body")))
        else:
            slot = -1
        values += (srid, rec.get("_attempts", 0), rec.get("_worker"), ewkb(rec.get("footprint_wkb"), srid or 0))
        out.paths.append(rec["path"])
        out.rest.append(_fields(values, tx))
        out.crs_slot.append(slot)
        if isd is not None:
            out.cameras.append((row, _fields((model, dumps(isd)), cam_tx)))   # an ISD as text: as is
        else:
            out.no_camera.append(rec["path"])
    return out


def _split(camera) -> tuple:
    """(the camera as its images row keeps it, its ISD or None, its model): ``base.stored_camera`` and
    ``schema.split_camera`` in one step for the usual cameras (a sensor camera with its ISD, or one without)."""
    if isinstance(camera, dict) and camera.get("type") not in schema._LEGACY_SENSOR_TYPES:
        isd = camera.get("isd")
        drop = _CRS_AND_ISD if isd is not None else schema.CAMERA_CRS_KEYS
        if any(k in camera for k in drop):
            camera = {k: v for k, v in camera.items() if k not in drop}
        return camera, isd, camera.get("model") if isd is not None else None
    _, isd, model = schema.split_camera(camera)
    return stored_camera(camera), isd, model


def _fields(values, tx: Transformer) -> bytearray:
    """The binary COPY form of ``values``'s fields, without the row's field count (the row head has it)."""
    out = bytearray()
    format_row_binary(values, tx, out)
    del out[:2]
    return out


def image_data(batch: EncodedBatch, ids: list[int], first_seq: int, crs: list[bytes]) -> bytes:
    """The binary COPY data of the batch's images rows (IMAGE_COLS): each encoded row behind its head."""
    parts = [_SIGNATURE]
    head, count = _IMAGE_HEAD.pack, len(IMAGE_COLS)
    for i, (rest, slot) in enumerate(zip(batch.rest, batch.crs_slot)):
        parts += (head(count, 4, ids[i], 8, first_seq + i), crs[slot] if slot >= 0 else _NULL, rest)
    parts.append(_TRAILER)
    return b"".join(parts)


def camera_data(batch: EncodedBatch, ids: list[int]) -> bytes:
    """The binary COPY data of the batch's cameras rows (CAMERA_COLS), ``ids`` the images ids by row."""
    parts = [_SIGNATURE]
    head, count = _CAMERA_HEAD.pack, len(CAMERA_COLS)
    for row, rest in batch.cameras:
        parts += (head(count, 4, ids[row]), rest)
    parts.append(_TRAILER)
    return b"".join(parts)


def copy_bytes(cur, table: str, cols: tuple[str, ...], data: bytes) -> None:
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(data)






BYTEA = 17  # a geometry's binary COPY format is its EWKB, which psycopg sends as it sends bytea
_SRID_FLAG = 0x20000000


def ewkb(wkb_hex: str | None, srid: int) -> bytes | None:
    """EWKB bytes of a hex WKB geometry with ``srid`` spliced into its header (replaced if it has one)."""
    if not wkb_hex:
        return None
    wkb = bytes.fromhex(wkb_hex)
    order = "little" if wkb[0] == 1 else "big"
    kind = int.from_bytes(wkb[1:5], order)
    body = wkb[9:] if kind & _SRID_FLAG else wkb[5:]
    return wkb[:1] + (kind | _SRID_FLAG).to_bytes(4, order) + srid.to_bytes(4, order) + body
