"""Shared pieces of the benchmarks: machine description, tables and JSON, private services, synthetic records,
folders of image links, process memory.

Benchmarks run by hand from a clean clone (``.venv/bin/python bench/bench_X.py``). Each one measures its
baseline in the same run, so the ratio holds even on a machine shared with other work.
"""
from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AUTOCNET_TEST_DATA", REPO.parent / "shared" / "data" / "images")).resolve()


# ---- reporting -----------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """What the figures came from: CPU, cores, memory, OS, Python, and the load when the run started."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo") as f:
            mem_gib = round(int(f.readline().split()[1]) / 1024 ** 2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": mem_gib, "os": platform.platform(terse=True),
            "python": platform.python_version(), "load_1m": round(os.getloadavg()[0], 2),
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}


def machine_line(info: dict | None = None) -> str:
    m = info or machine()
    return (f"{m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, {m['os']}, Python {m['python']}; "
            f"load {m['load_1m']} at start ({m['time']})")


def table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """Plain-text table. ``columns``: (key, header, format spec) e.g. ("rate", "rows/s", ",.0f")."""
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        line = []
        for key, _, spec in columns:
            value = row.get(key)
            line.append("-" if value is None else (format(value, spec) if spec else str(value)))
        cells.append(line)
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_json(path: str | None, payload: dict) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(payload, f, indent=2, default=str)
        print(f"JSON written to {path}")


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# ---- private services ----------------------------------------------------------------------------------------
def _run_script(script: str, rundir: str, env_file: str) -> dict[str, str]:
    subprocess.run(["bash", str(REPO / script), rundir], check=True, stdout=subprocess.DEVNULL)
    env = {}
    for line in Path(rundir, env_file).read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = value.strip("'\"")
    return env


def postgis_url() -> str:
    """$AUTOCNET_TEST_PG_URL when set, else a private PostGIS started now (deploy/postgis) and stopped at exit."""
    return _service("AUTOCNET_TEST_PG_URL", "PostGIS", "postgis", "postgis.env")


def slurm_conf() -> str:
    """$SLURM_CONF when set, else a private single-node Slurm started now (deploy/slurm) and stopped at exit."""
    return _service("SLURM_CONF", "Slurm", "slurm", "slurm.env")


def _service(var: str, label: str, deploy: str, env_file: str) -> str:
    """$var when set, else start the private service of deploy/<deploy>, stop it at exit, and return $var."""
    value = os.environ.get(var)
    if value:
        return value
    rundir = tempfile.mkdtemp(prefix=f"bench-{deploy}-")
    print(f"(starting a private {label} under {rundir}; set ${var} to use a running one)")
    env = _run_script(f"deploy/{deploy}/start.sh", rundir, env_file)
    atexit.register(lambda: subprocess.run(["bash", str(REPO / f"deploy/{deploy}/stop.sh"), rundir],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    os.environ.update(env)
    return env[var]


def libpq(url: str) -> str:
    """A SQLAlchemy URL as a libpq URI (for psycopg.connect)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ScratchDatabase:
    """A new, empty PostGIS database on the server of ``url`` (from the postgis template when there is one),
    dropped by :meth:`drop`."""

    def __init__(self, url: str, label: str):
        import psycopg
        from sqlalchemy.engine import make_url

        self.server = url
        self.name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(libpq(url), autocommit=True) as con:
            has_template = con.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'autocnet_template'").fetchone()
            template = " TEMPLATE autocnet_template" if has_template else ""
            con.execute(f"CREATE DATABASE {self.name}{template}")
        self.url = make_url(url).set(database=self.name).render_as_string(hide_password=False)
        if not has_template:
            with psycopg.connect(libpq(self.url), autocommit=True) as con:
                con.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(libpq(self.server), autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


# ---- synthetic records ---------------------------------------------------------------------------------------
MARS_WKT = ('PROJCS["Equirectangular Mars",GEOGCS["GCS_Mars",DATUM["D_Mars",SPHEROID["Mars_localRadius",'
            '3389341.08596504,0]],PRIMEM["Reference_Meridian",0],UNIT["degree",0.0174532925199433,AUTHORITY['
            '"EPSG","9122"]]],PROJECTION["Equirectangular"],PARAMETER["standard_parallel_1",-35.706329557581],'
            'PARAMETER["central_meridian",129.38893139676],PARAMETER["false_easting",0],PARAMETER['
            '"false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS['
            '"Northing",NORTH]]')
BODIES = [("Mars", "IAU_2015:49900"), ("Moon", "IAU_2015:30100"), ("Mercury", "IAU_2015:19900")]


def _ring(x0: float, y0: float, x1: float, y1: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """A closed ring of ``n`` distinct vertices around the box, edges roughened inward like a traced
    valid-data boundary (jitter tapers to zero at the corners, so the ring stays simple)."""
    per_side = max(2, n // 4)
    s = np.linspace(0.0, 1.0, per_side, endpoint=False)
    taper = np.sin(np.pi * s)
    jx = (x1 - x0) * 0.05 * rng.random(per_side) * taper
    jy = (y1 - y0) * 0.05 * rng.random(per_side) * taper
    bottom = np.column_stack([x0 + s * (x1 - x0), y0 + jy])
    right = np.column_stack([x1 - jx, y0 + s * (y1 - y0)])
    top = np.column_stack([x1 - s * (x1 - x0), y1 - jy])
    left = np.column_stack([x0 + jx, y1 - s * (y1 - y0)])
    ring = np.vstack([bottom, right, top, left])
    return np.vstack([ring, ring[:1]])


LEVEL1_CAMERA = {"type": None, "reason": "ISIS camera models need the ISIS/SPICE plug-in, not installed here; "
                                         "footprint from the cube's footprintinit polygon"}


def make_records(n: int, vertices: int = 512, seed: int = 0, prefix: str = "/data/bench",
                 shape: str = "mapped") -> list[dict]:
    """``n`` records shaped like ``process_image`` output: every column filled, the extractor settings as JSON,
    a footprint of about ``vertices`` vertices as hex WKB (a MultiPolygon; one in ten is split at the
    antimeridian into two parts, like images that cross 180°).

    ``shape="mapped"``: a map-projected image's record, with its CRS WKT and an affine camera model (which
    carries the WKT again). ``shape="level1"``: a level-1 ISIS cube's, as the samples' are: no CRS, no camera
    model, only the reason (163 bytes of JSON).
    """
    import shapely

    rng = np.random.default_rng(seed)
    params = {"method": "sift", "max_features": 2000, "tile_size": 1024, "tile_overlap": 32, "downsample": 1,
              "parameters": {}}
    out = []
    for i in range(n):
        body, code = BODIES[i % len(BODIES)]
        w, h = float(rng.uniform(0.3, 4.0)), float(rng.uniform(0.3, 4.0))
        lat = float(rng.uniform(-80, 80 - h))
        if i % 10 == 9:  # crosses the antimeridian: two parts, each half the vertices
            west = 180.0 - float(rng.uniform(0.1, w))
            parts = [_ring(west, lat, 180.0, lat + h, vertices // 2, rng),
                     _ring(-180.0, lat, -180.0 + (w - (180.0 - west)) + 0.05, lat + h, vertices // 2, rng)]
        else:
            lon = float(rng.uniform(-180, 180 - w))
            parts = [_ring(lon, lat, lon + w, lat + h, vertices, rng)]
        geom = shapely.MultiPolygon([shapely.Polygon(p) for p in parts])
        name = f"B{i:06d}_{code.split(':')[1]}_XN.cal.cub"
        camera = LEVEL1_CAMERA if shape == "level1" else {
            "type": "affine", "crs_wkt": MARS_WKT,
            "transform": [float(rng.uniform(1, 300)), 0.0, float(rng.uniform(-1e6, 1e6)), 0.0,
                          -float(rng.uniform(1, 300)), float(rng.uniform(-1e6, 1e6))],
            "geographic_crs_wkt": MARS_WKT[:380], "width": 5000, "height": 7000}
        out.append({
            "path": f"{prefix}/{name}", "name": name, "checksum": f"{rng.integers(0, 2**63):064x}",
            "size": int(rng.integers(10**6, 10**9)), "mtime": 1.7e9 + i, "driver": "ISIS3", "width": 5000,
            "height": 7000, "bands": 1, "body": body, "iau_code": code,
            "crs_wkt": None if shape == "level1" else MARS_WKT,
            "footprint_wkb": shapely.to_wkb(geom, hex=True, output_dimension=2, include_srid=False),
            "footprint_source": "isis_polygon", "footprint_note": None, "camera": camera,
            "keypoints_path": f"{prefix}/{name[:-4]}_kps.h5", "n_keypoints": 2000, "extractor": "sift",
            "extractor_params": params, "note": None,
        })
    return out


# ---- images and files ----------------------------------------------------------------------------------------
def link_samples(dest: Path, copies: int, names: Iterable[str] | None = None) -> list[Path]:
    """``copies`` symlinks per sample image in ``dest`` (``name`` -> ``c0003_name``); returns the links."""
    dest.mkdir(parents=True, exist_ok=True)
    sources = [DATA_DIR / n for n in names] if names else sorted(DATA_DIR.iterdir())
    links = []
    for c in range(copies):
        for src in sources:
            link = dest / f"c{c:04d}_{src.name}"
            link.symlink_to(src)
            links.append(link)
    return links


def dummy_files(dest: Path, n: int, ext: str = "cub") -> Path:
    """``n`` zero-byte files named ``img0000001.ext``..."""
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (dest / f"img{i:07d}.{ext}").touch()
    return dest


def rss_mb(pid: int | None = None) -> float:
    import psutil

    return psutil.Process(pid or os.getpid()).memory_info().rss / 2 ** 20


def scratch_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def add_repo_to_path() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
