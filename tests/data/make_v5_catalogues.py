"""How catalogue_v5.db and catalogue_v5_postgis.sql were made: by the schema version 5 package itself, on real
samples, two of them level-1 cubes with the version 5 hand-written sensor cameras (test_schema_upgrade upgrades
them to version 6, which moves those cameras into the cameras table). Not a test; run by hand:

    git archive 0ff5eab autocnet_jobs | tar -x -C /tmp/v5pkg          # the last version 5 commit
    python make_v5_catalogues.py sqlite:////tmp/v5gen/cat_v5.db
    python make_v5_catalogues.py postgresql+psycopg://postgres@HOST:PORT/c_v5gen
    pg_dump --inserts --no-owner --no-privileges --no-comments postgresql://postgres@HOST:PORT/c_v5gen
"""
import os, sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, "/tmp/v5pkg")
import autocnet_jobs
assert autocnet_jobs.__file__.startswith("/tmp/v5pkg"), autocnet_jobs.__file__
from autocnet_jobs import config
from autocnet_jobs.catalogue import schema
from autocnet_jobs.catalogue.store import open_store
from autocnet_jobs.extractors.pipeline import process_image
assert schema.SCHEMA_VERSION == 5
settings = config.job_settings(config.load())
settings["output"] = {"dir": "/tmp/v5gen/kps", "always": True}
os.makedirs("/tmp/v5gen/kps", exist_ok=True)
recs = []
for i, name in enumerate(["test.jp2", "AS15-M-0297_crop.cub", "M143947267L.cal.echo.crop.cub"]):
    r = process_image(f"/work/shared/data/images/{name}", settings)
    r["path"] = f"/data/v5/{name}"          # paths of a catalogue made elsewhere
    r["keypoints_path"] = None
    r["_attempts"], r["_worker"] = i + 1, f"tcp://10.0.0.{i}:4000"
    recs.append(r)
assert [r["camera"]["type"] for r in recs] == ["affine", "framing", "line_scan"]
queued = {"path": "/data/v5/later.cub", "state": "queued", "attempts": 0, "size": 11, "mtime": 2.0}
store = open_store(sys.argv[1]); store.connect(); store.write(recs, [queued]); store.close()
print("ok", [r["name"] for r in recs])
