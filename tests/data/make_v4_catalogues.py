"""How catalogue_v4.db and catalogue_v4_postgis.sql were made: by the schema version 4 package itself, on real
samples (test_schema_upgrade upgrades them). Not a test; run by hand:

    git archive a9c31bf autocnet_jobs | tar -x -C /tmp/v4pkg          # the last version 4 commit
    python make_v4_catalogues.py sqlite:////tmp/v4gen/cat_v4.db
    python make_v4_catalogues.py postgresql+psycopg://postgres@HOST:PORT/c_v4gen
    pg_dump --inserts --no-owner --no-privileges --no-comments postgresql://postgres@HOST:PORT/c_v4gen
"""
import os, sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, "/tmp/v4pkg")
import autocnet_jobs
assert autocnet_jobs.__file__.startswith("/tmp/v4pkg"), autocnet_jobs.__file__
from autocnet_jobs import config
from autocnet_jobs.catalogue import schema
from autocnet_jobs.catalogue.store import open_store
from autocnet_jobs.extractors.pipeline import process_image
assert schema.SCHEMA_VERSION == 4
settings = config.job_settings(config.load())
settings["output"] = {"dir": "/tmp/v4gen/kps", "always": True}
os.makedirs("/tmp/v4gen/kps", exist_ok=True)
recs = []
for i, name in enumerate(["test.jp2", "MIA_3C5_03_01351S791E0024SC_cropped.img", "e0902065.cal.sub.cub"]):
    r = process_image(f"/work/shared/data/images/{name}", settings)
    r["path"] = f"/data/v4/{name}"          # paths of a catalogue made elsewhere
    r["keypoints_path"] = None
    r["_attempts"], r["_worker"] = i + 1, f"tcp://10.0.0.{i}:4000"
    recs.append(r)
failed = {"path": "/data/v4/broken.cub", "state": "failed", "attempts": 3, "error_kind": "read_error",
          "error_type": "ImageReadError", "last_error": "truncated", "traceback": "Traceback ...", "log": None,
          "size": 10, "mtime": 1.0, "worker": "tcp://10.0.0.9:4000"}
queued = {"path": "/data/v4/later.cub", "state": "queued", "attempts": 0, "size": 11, "mtime": 2.0}
# a forced re-run of a done image that failed: its jobs row is newer than its images row
refailed = dict(failed, path=recs[2]["path"], attempts=1, last_error="forced re-run failed")
store = open_store(sys.argv[1]); store.connect(); store.write(recs, [failed, queued]); store.write([], [refailed]); store.close()
print("ok", [r["name"] for r in recs])
