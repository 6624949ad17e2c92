"""A peer that connects to the callback daemon and says nothing (a port scan, a stuck client) costs the run
nothing: a real run with 20 such sockets open takes no more than a second longer than the same run without them,
on plain TCP and with TLS on the callback channel (``pyro.tls: always``)."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from autocnet_jobs import ImageAdder

from . import faults
from .helpers import config, tiny_files

SILENT_PEERS = 20
IMAGES = 60  # x 0.1 s on 2 single-thread workers, one image per task: a run of about 3-4 s
SLACK = 1.0  # what 20 silent peers may add to the run's wall time


def timed_run(ia: ImageAdder, folder, limit: float, disturb: bool = False) -> tuple[float, int]:
    """Seconds from add_images to the end of wait (inf: not done within ``limit``). With ``disturb``,
    SILENT_PEERS plain TCP connections to the callback daemon are opened shortly after the run starts and held
    open, sending nothing, until it ends; then also how many the daemon had not closed by then."""
    host, port = ia.callback_uri.split("@")[1].rsplit(":", 1)
    silent: list[socket.socket] = []
    done = threading.Event()

    def open_silent_peers():
        done.wait(0.3)  # during the run, once callbacks flow
        for _ in range(SILENT_PEERS):
            if done.is_set():
                return
            silent.append(socket.create_connection((host, int(port)), timeout=5))
            time.sleep(0.02)

    opener = threading.Thread(target=open_silent_peers, daemon=True)
    start = time.monotonic()
    ia.add_images(folder, "cub")
    if disturb:
        opener.start()
    try:
        ia.wait(timeout=limit)  # bounded: a daemon the silent peers stall fails here, not in minutes
        elapsed = time.monotonic() - start
    except TimeoutError:
        elapsed = float("inf")
    done.set()
    if disturb:
        opener.join(10)
    still_open = 0
    for s in silent:
        s.setblocking(False)
        try:
            still_open += s.recv(1) != b""  # nothing to read yet: open; b"": the daemon closed it
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        s.close()
    assert len(silent) == (SILENT_PEERS if disturb else 0)
    return elapsed, still_open


@pytest.mark.parametrize("tls", ["auto", "always"], ids=["plain", "tls"])
def test_silent_peers_do_not_delay_the_run(tmp_path, monkeypatch, tls):
    monkeypatch.setenv("AUTOCNET_TEST_SLOW", "0.1")  # before the workers start: they inherit it
    cfg = config(tmp_path, cluster={"n_workers": 2, "images_per_task": 1}, pyro={"tls": tls})
    with ImageAdder(cfg, process=faults.slow_record, quiet=True) as ia:
        assert (ia._server.client_tls is not None) == (tls == "always")
        warm, _ = timed_run(ia, tiny_files(tmp_path / "warm", 6, prefix="warm"), limit=60)
        before, _ = timed_run(ia, tiny_files(tmp_path / "before", IMAGES, prefix="before"), limit=60)
        limit = before + SLACK + 5
        disturbed, still_open = timed_run(ia, tiny_files(tmp_path / "silent", IMAGES, prefix="silent"), limit=limit,
                                          disturb=True)
        after, _ = timed_run(ia, tiny_files(tmp_path / "after", IMAGES, prefix="after"), limit=60)
        # The same run without them, measured on either side of it: the machine's load drifts (two shared cores).
        baseline = (before + after) / 2
        print(f"tls={tls}: warm-up {warm:.2f} s, without {before:.2f} / {after:.2f} s, with {SILENT_PEERS} silent "
              f"peers {disturbed:.2f} s ({still_open} still open at its end)")
        assert disturbed - baseline < SLACK, (
            f"{SILENT_PEERS} silent peers made the run {disturbed - baseline:.2f} s slower "
            f"({baseline:.2f} s -> {disturbed:.2f} s; inf: not done after {limit:.1f} s)")
        assert all(v is True for v in ia.job_status.values())
