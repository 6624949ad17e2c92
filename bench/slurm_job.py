"""The replaced design's per-image Slurm job, for ``bench_slurm.py``: one image, one process, one connection.

    python bench/slurm_job.py IMAGE DATABASE_URL KEYPOINT_DIR

Extracts the image with the same ``process_image`` as ours, then opens its own connection to PostGIS, inserts
its row with one INSERT, commits and exits: what each job of the system we replace did.
"""
from __future__ import annotations

import json
import sys


def main(image: str, url: str, kps_dir: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from autocnet_jobs import config
    from autocnet_jobs.extractors.pipeline import process_image
    from autocnet_jobs.catalogue.schema import srid_for

    settings = config.job_settings(config.load({"output": {"dir": kps_dir}}))
    rec = process_image(image, settings)
    srid = srid_for(rec["iau_code"])
    cols = ("name", "path", "checksum", "size", "mtime", "driver", "width", "height", "bands", "body", "iau_code",
            "srid", "footprint_source", "footprint_note", "camera", "keypoints_path", "n_keypoints",
            "extractor", "extractor_params", "note")
    values = [rec.get(c) for c in cols]
    values[cols.index("srid")] = srid
    values[cols.index("camera")] = json.dumps(rec["camera"])
    values[cols.index("extractor_params")] = json.dumps(rec["extractor_params"])
    geom = ("ST_SetSRID(ST_GeomFromWKB(decode(%s, 'hex')), %s)" if rec.get("footprint_wkb") else "%s")
    geom_args = [rec["footprint_wkb"], srid or 0] if rec.get("footprint_wkb") else [None]
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as con:  # commits when the block ends, then closes
        con.execute(f"INSERT INTO images ({', '.join(cols)}, footprint) VALUES ({', '.join(['%s'] * len(cols))}, {geom})",
                    [*values, *geom_args])


if __name__ == "__main__":
    main(*sys.argv[1:4])
