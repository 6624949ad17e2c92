"""Nobody else joins a run (issue 17): TLS for Dask and the callback channel, secrets kept secret.

The attacks come from another process (``tests/stranger.py``, another user's view: no credentials, or credentials
of its own). Each refusal is paired with a positive control (the run's own files work, or ``cluster.security: none``
lets the same probe in), so a probe that could never get in proves nothing and fails the test.

This machine has loopback only (127.0.0.2 is loopback too), so the callback channel's "beyond loopback" TLS path
is exercised with ``pyro.tls: always``, which takes the same code path as a non-loopback host
(:func:`callback_tls.is_loopback` decides which; tested on its own below).
"""
from __future__ import annotations

import json
import logging
import os
import queue
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from autocnet_jobs import ImageAdder, config
from autocnet_jobs.engine.callback_tls import is_loopback
from autocnet_jobs.engine.callbacks import CallbackServer
from autocnet_jobs.errors import ConfigError
from autocnet_jobs.scheduler import security
from autocnet_jobs.scheduler.security import ORPHAN_AGE, is_stale, make_run_credentials, sweep

from . import faults
from .conftest import REPO, link_images
from .helpers import config as make_config
from .helpers import tiny_files

SAMPLES = ["dawnEqui1.cub", "AS15-M-0297_crop.cub"]


# ---- pure rules ------------------------------------------------------------------------------------------------
def test_stale_run_folders_are_those_of_gone_processes_on_this_host():
    alive = {(10, 100.0)}
    running = lambda pid, started: (pid, started) in alive
    here = {"host": "h1", "pid": 10, "started": 100.0}
    assert not is_stale(here, "h1", 5.0, running)                                   # the run is alive
    assert is_stale({**here, "pid": 11}, "h1", 5.0, running)                        # its process is gone
    assert is_stale({**here, "started": 99.0}, "h1", 5.0, running)                  # pid reused by another
    assert not is_stale({**here, "pid": 11}, "h2", 5.0, running)                    # another host's: its own sweep
    assert not is_stale(None, "h1", ORPHAN_AGE - 1, running)                        # may be starting right now
    assert is_stale(None, "h1", ORPHAN_AGE + 1, running)                            # never got an owner file
    assert is_stale({"host": "h1", "pid": "x"}, "h1", ORPHAN_AGE + 1, running)


def test_loopback_is_decided_by_address():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "10.1.2.3", "192.0.2.7", "::", "no-such-host.invalid"):
        assert not is_loopback(host), host


def test_security_config_values(tmp_path):
    ca, cert = tmp_path / "ca.pem", tmp_path / "me.pem"
    ca.write_text("x")
    cert.write_text("x")
    assert config.load({})["cluster"]["security"] == "auto"
    assert config.load({})["pyro"]["tls"] == "auto"
    assert config.load({"cluster": {"security": "none"}})["cluster"]["security"] == "none"
    site = {"ca_file": str(ca), "cert": str(cert)}
    assert config.load({"cluster": {"security": site}})["cluster"]["security"] == site
    bad = [("tls", "must be auto, none"), ({"cert": str(cert)}, "needs ca_file"),
           ({"ca_file": str(ca)}, "needs cert"), ({**site, "key": str(tmp_path / "missing")}, "not a readable file"),
           ({**site, "password": "x"}, "unknown keys"), (True, "must be str or Mapping")]
    for value, message in bad:
        with pytest.raises(ConfigError, match=message):
            config.load({"cluster": {"security": value}})
    with pytest.raises(ConfigError, match="TLS needs credentials"):
        config.load({"cluster": {"security": "none"}, "pyro": {"tls": "always"}})
    with pytest.raises(ConfigError, match="pyro.tls"):
        config.load({"pyro": {"tls": "never"}})


def test_run_credentials_are_private_and_swept(tmp_path):
    base = tmp_path / "base"
    creds = make_run_credentials(str(base))
    assert stat.S_IMODE(base.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(creds.folder).st_mode) == 0o700
    for name in os.listdir(creds.folder):
        assert stat.S_IMODE(os.stat(os.path.join(creds.folder, name)).st_mode) == 0o600, name
    assert "PRIVATE KEY" in Path(creds.key).read_text() and "CERTIFICATE" in Path(creds.ca).read_text()
    # A run whose process is gone (a real one: it has exited) left its folder: the next run's sweep removes it;
    # the live run's folder and another host's stay.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_started = psutil.Process(dead.pid).create_time() if psutil.pid_exists(dead.pid) else 1.0
    dead.wait()
    left = [base / f"{security.PREFIX}dead", base / f"{security.PREFIX}other-host"]
    for folder, owner in zip(left, [{"host": socket.gethostname(), "pid": dead.pid, "started": dead_started},
                                    {"host": "elsewhere", "pid": dead.pid, "started": dead_started}]):
        folder.mkdir(mode=0o700)
        (folder / security.OWNER).write_text(json.dumps(owner))
    assert sweep(str(base)) == [str(left[0])]
    assert sorted(os.listdir(base)) == sorted([os.path.basename(creds.folder), left[1].name])
    creds.remove()
    assert not os.path.exists(creds.folder)


# ---- a real local run, attacked from another process ------------------------------------------------------------
def stranger(spec: dict) -> dict:
    """What ``tests/stranger.py`` in another process managed (the spec on standard input, not the command line)."""
    res = subprocess.run([sys.executable, "-m", "tests.stranger"], input=json.dumps(spec), capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def assert_dask_locked(seen: dict, n_workers: int) -> None:
    refused = {k: v for k, v in seen.items() if k not in ("raw_tcp", "own_credentials", "worker0_own_credentials")}
    assert len(refused) == 3 + 2 * n_workers, seen
    assert all(v.startswith("refused") for v in refused.values()), seen
    raw = json.loads(seen["raw_tcp"])
    assert raw["closed"] and not raw["dask"], raw  # closed, and not a byte of Dask's handshake
    # Positive controls: the run's own files do get in, to the scheduler and to a worker directly.
    assert seen["own_credentials"].startswith("ok") and len(json.loads(seen["own_credentials"][4:])) == n_workers
    assert seen["worker0_own_credentials"] == "ok: Worker", seen


def _secret_texts(ia: ImageAdder) -> dict[str, str]:
    """The run's secrets as they would appear in text: the token and a line from the middle of the key."""
    key_lines = Path(ia._backend.credentials().key).read_text().splitlines()
    return {"token": ia._token, "key": key_lines[len(key_lines) // 2]}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """Sample images through the default local backend under umask 027, attacked while it runs, with the callback
    channel over TLS (``pyro.tls: always``: see the module docstring). A run killed by SIGKILL before it left its
    credentials for this run's sweep."""
    tmp = tmp_path_factory.mktemp("local_tls")
    t0 = time.monotonic()
    killed = _killed_run_folder(tmp)
    images = link_images(tmp / "images", SAMPLES)
    cfg = make_config(tmp, output={"dir": str(tmp / "kps")}, pyro={"tls": "always"})
    old_umask = os.umask(0o027)
    caught = Caught()
    try:
        with ImageAdder(cfg, quiet=True) as ia:
            result = {"killed_folder_after_next_start": os.path.exists(killed), "killed": killed}
            creds = ia._backend.credentials()
            result["creds"] = creds
            result["secrets"] = _secret_texts(ia)
            submitted = ia.add_images(images, "cub")
            workers = sorted(ia.client.scheduler_info()["workers"])
            result["scheduler"], result["workers"] = ia.client.scheduler.address, workers
            result["callback_tls"] = ia._server.client_tls
            seen = stranger({"dask": {"scheduler": ia.client.scheduler.address, "workers": workers,
                                      "own": creds.files()},
                             "pyro": {"uri": ia.callback_uri, "token": ia._token, "own": creds.files()}})
            result["dask"], result["pyro"] = seen["dask"], seen["pyro"]
            result["ps"] = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            link = ia.dashboard_link
            result["dashboard"] = link
            result["pages"] = {p: _get(link.replace("/status", p)) for p in
                               ("/status", "/info/main/workers.html", "/info/main/logs.html", "/json/identity.json")}
            ia.wait(timeout=300)
            print(f"local TLS run, killed run included: {time.monotonic() - t0:.1f} s", file=sys.stderr)
            result["status"] = ia.job_status
            worker_logs = ia.client.get_worker_logs(n=100_000)
            result["logs"] = "\n".join([*(m for _, m in ia.client.get_scheduler_logs(n=100_000)),
                                         *(m for lines in worker_logs.values() for _, m in lines), *caught.lines])
            result["submitted"] = submitted
    finally:
        os.umask(old_umask)
        caught.remove()
    result["left"] = os.path.exists(creds.folder)
    result["db"] = Path(cfg["database"]["url"].removeprefix("sqlite:///"))
    result["kps"] = sorted((tmp / "images").glob("*_kps.h5")) + sorted((tmp / "kps").glob("*_kps.h5"))
    return result


class Caught(logging.Handler):
    """Every log record of this process at DEBUG (ours, Pyro5's) and INFO (Dask's) while installed."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.levels = {name: logging.getLogger(name).level for name in ("autocnet_jobs", "Pyro5")}
        for name in self.levels:
            logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger().addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + (self.format(record) if record.exc_info else ""))

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.read().decode(errors="replace")
    except OSError as exc:
        return f"<{exc}>"


def _killed_run_folder(tmp: Path) -> str:
    """Start an ImageAdder in another process, SIGKILL it (and its workers and writer) once it runs: the folder of
    its credentials is left behind."""
    script = ("import sys, time\nfrom autocnet_jobs import ImageAdder\n"
              "if __name__ == '__main__':\n"
              f"    ia = ImageAdder({make_config(tmp / 'killed', cluster={'n_workers': 1})!r}, quiet=True)\n"
              "    print(ia._backend.credentials().folder, flush=True)\n"
              "    time.sleep(600)\n")
    (tmp / "killed").mkdir()
    (tmp / "killed" / "run.py").write_text(script)
    proc = subprocess.Popen([sys.executable, str(tmp / "killed" / "run.py")], stdout=subprocess.PIPE, text=True,
                            cwd=REPO, start_new_session=True)
    try:
        folder = proc.stdout.readline().strip()
        assert folder and os.path.isdir(folder), folder
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert os.path.isdir(folder)  # SIGKILL: nothing could remove it
    return folder


def test_local_scheduler_and_workers_refuse_other_processes(local_run):
    assert local_run["scheduler"].startswith("tls://127.0.0.1:")
    assert all(w.startswith("tls://") for w in local_run["workers"])
    assert_dask_locked(local_run["dask"], n_workers=2)


def test_samples_ingest_with_tls_on(local_run):
    assert len(local_run["submitted"]) == len(SAMPLES)
    assert all(v is True for v in local_run["status"].values()), local_run["status"]


def test_no_secret_in_processes_dashboard_or_catalogue(local_run):
    secrets = local_run["secrets"]
    assert len(secrets["token"]) >= 32 and len(secrets["key"]) >= 40
    db = local_run["db"]
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        dump = "\n".join(con.iterdump())
    assert "images" in tables and len(tables) > 2
    places = {"ps -eo args": local_run["ps"], "catalogue": dump, "logs": local_run["logs"], **local_run["pages"]}
    # The places do hold the run's data: a secret would be seen.
    assert "dawnEqui1" in dump and "Dask" in local_run["pages"]["/status"]
    assert "Starting Worker" in local_run["logs"] and "callback" in local_run["logs"].lower()
    for where, text in places.items():
        for what, secret in secrets.items():
            assert secret not in text, f"the run's {what} in {where}"
    assert local_run["dashboard"].startswith("http://127.0.0.1:")  # the dashboard stays on loopback


def test_credentials_removed_at_close_and_swept_after_sigkill(local_run):
    assert local_run["left"] is False
    assert local_run["killed_folder_after_next_start"] is False, local_run["killed"]
    assert local_run["creds"].folder.startswith(tempfile.gettempdir())


def test_catalogue_and_keypoint_files_follow_the_umask(local_run):
    files = [local_run["db"], *local_run["kps"]]
    assert len(local_run["kps"]) == len(SAMPLES)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, (path, oct(path.stat().st_mode))  # 0666 & ~027


def test_security_none_lets_anyone_in(tmp_path, caplog):
    """The opt-out does what it says (and is what the probes above would see without TLS), with a warning."""
    with ImageAdder(make_config(tmp_path, cluster={"security": "none", "n_workers": 1}), quiet=True) as ia:
        address = ia.client.scheduler.address
        seen = stranger({"dask": {"scheduler": address}})["dask"]
    assert address.startswith("tcp://")
    assert seen["no_credentials"].startswith("ok"), seen
    assert json.loads(seen["raw_tcp"])["dask"], seen  # the scheduler greets anyone with Dask's handshake
    assert "cluster.security is none" in caplog.text


# ---- the callback channel over TLS --------------------------------------------------------------------------------
def test_callback_channel_over_tls_refuses_without_certificate_or_token(local_run):
    assert local_run["callback_tls"] == local_run["creds"].files()  # every callback of the run came over TLS
    seen = dict(local_run["pyro"])
    assert seen.pop("tls_own") == "ok: pong", seen
    assert len(seen) == 5 and all(v.startswith("refused") for v in seen.values()), seen
    assert "rejected" in seen["tls_wrong_token"] and "token" in seen["tls_wrong_token"], seen


def test_callback_channel_stays_plain_on_loopback_unless_asked(tmp_path):
    creds = make_run_credentials(str(tmp_path))
    try:
        for host, forced, expected in (("127.0.0.1", False, None), ("127.0.0.1", True, creds.files())):
            server = CallbackServer(queue.Queue(), "t" * 32, host=host, tls=creds.files(), tls_on_loopback=forced)
            try:
                assert server.client_tls == expected
            finally:
                server.close()
    finally:
        creds.remove()


# ---- Slurm ----------------------------------------------------------------------------------------------------------
def test_slurm_run_refuses_other_processes_and_keeps_its_secrets(slurm_env, tmp_path):
    from .test_slurm import slurm_config

    folder = tiny_files(tmp_path / "in", 8)
    shared = tmp_path / "shared"
    cfg = slurm_config(tmp_path, slurm={"shared_temp_directory": str(shared)})
    t0 = time.monotonic()
    with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
        creds = ia._backend.credentials()
        secrets = _secret_texts(ia)
        ia.add_images(folder, "cub")
        ia.client.wait_for_workers(2, timeout=90)
        workers = sorted(ia.client.scheduler_info()["workers"])
        seen = stranger({"dask": {"scheduler": ia.client.scheduler.address, "workers": workers,
                                  "own": creds.files()}})["dask"]
        worker_args = [" ".join(p.cmdline()) for p in psutil.process_iter() if _in_slurm_job(p)]
        script = ia._backend.job_script()
        ia.wait(timeout=120)
        assert all(v is True for v in ia.job_status.values()), ia.job_status
    print(f"slurm TLS run: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    assert os.path.dirname(creds.folder) == str(shared)
    assert not os.path.exists(creds.folder)  # removed at close
    assert_dask_locked(seen, n_workers=2)
    # The job script and the workers' command lines name the files, never their contents.
    assert f"--tls-key {creds.key}" in script and "--protocol tls://" in script
    assert worker_args and all(creds.key in a for a in worker_args if "distributed" in a)
    logs = [p.read_text(errors="replace") for p in (tmp_path / "logs").iterdir()]
    assert logs and any("Starting Worker" in text for text in logs)
    for what, secret in secrets.items():
        for where, text in [("job script", script), *(("worker process", a) for a in worker_args),
                            *(("worker log", text) for text in logs)]:
            assert secret not in text, f"the run's {what} in a {where}"


def _in_slurm_job(p: psutil.Process) -> bool:
    try:
        return "SLURM_JOB_ID" in p.environ() and "distributed" in " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def test_site_example_keeps_the_dashboard_on_loopback_and_tls_on():
    site = config.load(REPO / "deploy" / "site-example.yml")
    assert site["cluster"]["dashboard_address"].startswith("127.0.0.1:")
    assert site["cluster"]["security"] == "auto"
    lines = (REPO / "deploy" / "site-example.yml").read_text().splitlines()
    assert not [line for line in lines if "0.0.0.0" in line.split("#")[0]]


def test_address_backend_passes_the_sites_certificates_to_the_client(tmp_path):
    """A scheduler someone else runs with TLS: the site's files in cluster.security get us in (and stay)."""
    from distributed import LocalCluster

    site = make_run_credentials(str(tmp_path / "site"))  # stands for certificates a site issued
    folder = tiny_files(tmp_path / "in", 3)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", protocol="tls://",
                      security=site.security(), dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        with pytest.raises(ConfigError, match="wants TLS but no certificate"):
            ImageAdder(make_config(tmp_path, cluster={"backend": "address", "address": address}), quiet=True)
        files = {"ca_file": site.ca, "cert": site.cert, "key": site.key}
        cfg = make_config(tmp_path, cluster={"backend": "address", "address": address, "security": files})
        with ImageAdder(cfg, process=faults.tiny_record, quiet=True) as ia:
            ia.add_images(folder, "cub")
            ia.wait(timeout=60)
            assert all(v is True for v in ia.job_status.values()), ia.job_status
    assert all(os.path.isfile(p) for p in files.values())  # a site's files are never removed
    site.remove()
