"""How catalogue_v6.db and catalogue_v6_postgis.sql were made: by the schema version 6 package itself, on real
samples: the two overlapping Apollo 15 Metric frames (framing cameras, their ISDs in the cameras table, their
pair in the overlaps table without the version 7 angle columns) and an affine image. test_schema_upgrade
upgrades them to version 7 (the angle columns added, NULL until ``overlaps --rebuild``). Not a test; run by hand:

    git archive 2d04033 autocnet_jobs | tar -x -C /tmp/v6pkg          # the last version 6 commit
    python make_v6_catalogues.py sqlite:////tmp/v6gen/cat_v6.db
    python make_v6_catalogues.py postgresql+psycopg://postgres@HOST:PORT/c_v6gen
    pg_dump --inserts --no-owner --no-privileges --no-comments postgresql://postgres@HOST:PORT/c_v6gen
"""
import os, sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, "/tmp/v6pkg")
import autocnet_jobs
assert autocnet_jobs.__file__.startswith("/tmp/v6pkg"), autocnet_jobs.__file__
from autocnet_jobs import config
from autocnet_jobs.catalogue import schema
from autocnet_jobs.catalogue.store import open_store
from autocnet_jobs.extractors.pipeline import process_image
assert schema.SCHEMA_VERSION == 6
settings = config.job_settings(config.load())
settings["output"] = {"dir": "/tmp/v6gen/kps", "always": True}
os.makedirs("/tmp/v6gen/kps", exist_ok=True)
recs = []
for i, name in enumerate(["test.jp2", "AS15-M-0297_crop.cub", "AS15-M-0298_crop.cub"]):
    r = process_image(f"/work/shared/data/images/{name}", settings)
    r["path"] = f"/data/v6/{name}"          # paths of a catalogue made elsewhere
    r["keypoints_path"] = None
    r["_attempts"], r["_worker"] = i + 1, f"tcp://10.0.0.{i}:4000"
    recs.append(r)
assert [r["camera"]["type"] for r in recs] == ["affine", "csm", "csm"]
store = open_store(sys.argv[1]); store.connect(); store.write(recs, []); store.close()
print("ok", [r["name"] for r in recs])
