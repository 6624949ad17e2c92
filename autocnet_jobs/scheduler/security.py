"""Per-run TLS credentials for Dask's comms and the callback channel.

A Dask scheduler without TLS runs any caller's code as the user who started it, so every cluster we start
uses TLS by default (``cluster.security: auto``): a fresh self-signed key and certificate
(``distributed.security.Security.temporary``), which serves as the run's only certificate authority, written
as 0600 files into a 0700 folder of its own. Slurm workers read them from there, so the folder sits on a
filesystem the compute nodes share (``cluster.slurm.shared_temp_directory``). Only processes holding the key
can join: the scheduler, workers, nannies and client all present it and accept only it.

The folder is removed at close. A run killed by SIGKILL cannot remove it, so each run first sweeps the
folders of runs on this host whose process is gone (the ``owner`` file in each names host, pid and the
process's start time, so a reused pid is not taken for the old run).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import psutil
from distributed.security import Security

from ..errors import ConfigError

log = logging.getLogger(__name__)

PREFIX = "autocnet-run-"
OWNER = "owner"
# A folder whose owner file is missing (the run died between making the folder and writing it) is swept
# once it is this old; younger ones may belong to a run being set up right now.
ORPHAN_AGE = 3600.0


@dataclass(frozen=True)
class Credentials:
    """PEM files of one run (or a site's): ``ca`` the authority peers are checked against, ``cert``/``key``
    what this run presents. ``folder`` is set for per-run credentials, which :meth:`remove` deletes."""

    ca: str
    cert: str
    key: str
    folder: str | None = None

    def security(self) -> Security:
        """Dask's Security for every role (client, scheduler, worker), encryption required."""
        return Security(require_encryption=True, tls_ca_file=self.ca,
                        tls_client_cert=self.cert, tls_client_key=self.key,
                        tls_scheduler_cert=self.cert, tls_scheduler_key=self.key,
                        tls_worker_cert=self.cert, tls_worker_key=self.key)

    def files(self) -> dict[str, str]:
        """The file paths as a plain dict (``ca``, ``cert``, ``key``): what callback clients are handed."""
        return {"ca": self.ca, "cert": self.cert, "key": self.key}

    def remove(self) -> None:
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def site_credentials(mapping: Mapping[str, str]) -> Credentials:
    """A site's own certificate files (``cluster.security: {ca_file, cert, key}``); never removed by us. Without
    ``key`` the cert file holds it (given as both, so no tool is handed a missing key path)."""
    return Credentials(ca=mapping["ca_file"], cert=mapping["cert"], key=mapping.get("key") or mapping["cert"])


def make_run_credentials(base: str) -> Credentials:
    """A new key and certificate for this run, in a fresh 0700 folder under ``base`` (made 0700 if missing),
    after sweeping the folders runs killed on this host left there."""
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder for this run's TLS credentials, {base}: {exc.strerror}; "
                          "set cluster.slurm.shared_temp_directory to a private folder the workers share") from None
    sweep(base)
    folder = tempfile.mkdtemp(prefix=PREFIX, dir=base)  # 0700, atomically ours
    try:
        temporary = Security.temporary()
        me = psutil.Process()
        _write_private(os.path.join(folder, OWNER), json.dumps(
            {"host": socket.gethostname(), "pid": me.pid, "started": me.create_time()}))
        cert = _write_private(os.path.join(folder, "run.crt"), temporary.tls_ca_file)
        key = _write_private(os.path.join(folder, "run.key"), temporary.tls_worker_key)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Credentials(ca=cert, cert=cert, key=key, folder=folder)


def _write_private(path: str, text: str) -> str:
    """Create ``path`` 0600 (whatever the umask) and write ``text``; never follows or reuses an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def is_stale(owner: Mapping[str, Any] | None, host: str, age: float,
             running: Callable[[int, float], bool]) -> bool:
    """Whether a run folder can go: its owner (the parsed ``owner`` file, None when missing or unreadable) ran
    on ``host`` and ``running(pid, started)`` says that process is gone; or it has no owner and is older than
    :data:`ORPHAN_AGE`. Folders of other hosts are left to their own next run."""
    if owner is None:
        return age > ORPHAN_AGE
    if owner.get("host") != host:
        return False
    try:
        pid, started = int(owner["pid"]), float(owner["started"])
    except (KeyError, TypeError, ValueError):
        return age > ORPHAN_AGE
    return not running(pid, started)


def process_running(pid: int, started: float) -> bool:
    """Whether process ``pid`` exists and is the one that started at ``started`` (not a reused pid)."""
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


def sweep(base: str) -> list[str]:
    """Remove the run folders in ``base`` that :func:`is_stale` says are left over; returns them."""
    host, uid, now = socket.gethostname(), os.getuid(), time.time()
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not entry.is_dir(follow_symlinks=False) or st.st_uid != uid:
                continue
        except OSError:
            continue
        owner = _read_owner(os.path.join(entry.path, OWNER))
        if is_stale(owner, host, now - st.st_mtime, process_running):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
            log.info("removed the TLS credentials of an earlier run that did not close: %s", entry.path)
    return removed


def _read_owner(path: str) -> dict | None:
    try:
        with open(path) as f:
            owner = json.load(f)
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None
