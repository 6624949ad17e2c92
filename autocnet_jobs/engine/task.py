"""The Dask task: run the per-image function for each image (attempt) it carries and report through the callback
channel.

Image errors are reported as ``failed`` events and the task goes on to its next image, so Dask never retries or
counts them: the tracker's retry policy is the only one. Only a failure to report at all (the tracker
unreachable) or the death of the worker reaches the tracker as a Dask error.

The events of a task travel in few Pyro5 calls: the first image's ``started`` at once (the tracker then knows
the task runs, even if that image hangs with the GIL held), then whatever has gathered, sent by a reporter thread
at most every :data:`REPORT_INTERVAL` seconds, and the rest when the task ends. A hang that leaves the GIL free is
charged to the image that hangs: its ``started`` reaches the tracker within that interval while the task thread
is stuck. One holding the GIL stops the reporter too, with the events of the images just before it inside; so
before each image the task thread also writes which image it is on where no GIL is needed to read it: a small
file per worker process (:func:`breadcrumb_path`, a slot per task thread), which the watchdog reads through the
worker's nanny (:func:`running_attempts`) before it kills a worker that would not exit.
"""
from __future__ import annotations

import atexit
import json
import os
import stat
import tempfile
import threading
import time
import traceback
from typing import Callable, Sequence

from ..errors import error_kind
from . import callbacks

ProcessFn = Callable[[str, dict], dict]

TASK_PREFIX = "process_image"
REPORT_INTERVAL = 0.2  # seconds: the most a task's event waits before it is sent


class _Reporter:
    """Events of the tasks of this worker process for one tracker, sent in order, several per call. One per
    process and tracker (kept in :data:`_reporters`): its thread and Pyro5 connection outlive the tasks."""

    def __init__(self, uri: str, token: str, tls: dict):
        self.uri, self.token, self.tls = uri, token, tls
        self._pending: list[list] = []
        self._lock = threading.Lock()  # the pending list
        self._sending = threading.Lock()  # one call at a time, so events arrive in the order they happened
        self._wake = threading.Event()
        self._last = 0.0
        self.error: BaseException | None = None  # a send from the thread that failed: the next flush raises it
        threading.Thread(target=self._run, name="autocnet-reporter", daemon=True).start()

    def add(self, event: list, urgent: bool = False) -> None:
        with self._lock:
            self._pending.append(event)
        if urgent:
            self._wake.set()

    def flush(self) -> None:
        """Send what is pending from the calling thread; raises if this or an earlier send failed."""
        with self._sending:
            error, self.error = self.error, None
            if error is not None:
                raise error
            self._send()

    def _send(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            try:  # JSON when it can be (pipeline records always are): much faster to encode and read than serpent
                payload: str | list = json.dumps(batch, separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError):  # a plug-in's record with bytes or NaN in it: serpent copes
                payload = batch
            callbacks.call(self.uri, self.token, "report", payload, **self.tls)
        self._last = time.monotonic()

    def _run(self) -> None:
        while True:
            self._wake.wait(REPORT_INTERVAL)
            self._wake.clear()
            time.sleep(max(0.0, self._last + REPORT_INTERVAL - time.monotonic()))
            with self._sending:
                if not self._pending or self.error is not None:
                    continue
                try:
                    self._send()
                except Exception as exc:  # noqa: BLE001 - raised in the task at its next flush
                    self.error = exc


_reporters: dict[str, _Reporter] = {}
_reporters_lock = threading.Lock()


def _reporter(uri: str, token: str, tls: dict) -> _Reporter:
    with _reporters_lock:
        rep = _reporters.get(uri)
        if rep is None or rep.token != token:
            rep = _reporters[uri] = _Reporter(uri, token, tls)
        return rep


# ---- breadcrumbs: which image each task thread of this worker process is on ---------------------------------------
SLOT = 128  # bytes per task thread in a breadcrumb file: an attempt key (ours are ~25 characters), padded


def breadcrumb_path(pid: int) -> str:
    """The breadcrumb file of worker process ``pid``: in a folder of this user's own in the temp folder, which a
    worker and its nanny (the same host, the same environment) agree on."""
    return os.path.join(tempfile.gettempdir(), f"autocnet-jobs-{os.getuid()}", f"running-{pid}")


def _private_folder(folder: str) -> bool:
    """``folder`` exists (made if not), is a real folder, ours, and nobody else's to read or write."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


class _Breadcrumbs:
    """This process's breadcrumb file: one :data:`SLOT` per task thread, rewritten in place (one ``pwrite``)
    before each image, blanked when its task ends. A failure here never fails a task: the breadcrumbs stop."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.path = ""
        self.broken = False
        self._slots = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def mark(self, attempt: str) -> None:
        if self.broken:
            return
        try:
            slot = getattr(self._local, "slot", None)
            if slot is None:
                with self._lock:
                    if self.fd is None:
                        self._open()
                    slot = self._local.slot = self._slots
                    self._slots += 1
            data = attempt.encode()[:SLOT - 1].ljust(SLOT - 1) + b"\n"
            os.pwrite(self.fd, data, slot * SLOT)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - e.g. no writable temp folder: run without them
            self.broken = True

    def _open(self) -> None:
        path = breadcrumb_path(os.getpid())
        if not _private_folder(os.path.dirname(path)):
            raise PermissionError(f"{os.path.dirname(path)} is not a private folder of this user")
        _sweep(os.path.dirname(path))
        # O_TRUNC: a file left by an earlier process with this pid (one that was killed) holds nothing of ours.
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self.path = path
        atexit.register(self.remove)

    def remove(self) -> None:
        if self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def _sweep(folder: str) -> None:
    """Remove the breadcrumb files of processes that are gone (a worker process seldom runs its exit handlers)."""
    for name in os.listdir(folder):
        pid = name.removeprefix("running-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
        except OSError:  # alive, someone else's
            pass


_breadcrumbs = _Breadcrumbs()


def running_attempts(pid: int) -> list[str]:
    """The attempts the task threads of worker process ``pid`` (on this host) are running, from its breadcrumb
    file, which is then removed: run on the nanny of a worker about to be killed. Empty when there is none."""
    path = breadcrumb_path(int(pid))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return []
    try:
        if os.fstat(fd).st_uid != os.getuid():
            return []
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
    finally:
        os.close(fd)
    try:
        os.unlink(path)
    except OSError:
        pass
    slots = (data[i:i + SLOT].decode("ascii", "replace").strip() for i in range(0, len(data), SLOT))
    return [a for a in slots if a]


def run_batch(items: Sequence[Sequence[str]], settings: dict, uri: str, token: str,
              process: ProcessFn | None = None, callback_tls: dict | None = None) -> int:
    """Process each ``(path, attempt)`` of ``items`` in turn, reporting ``started`` then ``succeeded`` or
    ``failed`` (with the seconds it took) for each. ``callback_tls``: the callback channel's TLS settings
    (None: plain TCP), passed on to :func:`callbacks.call`. Returns the number of images that succeeded."""
    # Imports (OpenCV, GDAL) come before "started": the first task on a fresh worker must not spend its
    # cluster.job_timeout importing. An import error is still reported as each image's failure.
    setup_error: BaseException | None = None
    try:
        if process is None:
            from ..extractors.pipeline import process_image as process
        from ..extractors.cameras import with_isd_text
    except Exception as exc:  # noqa: BLE001
        setup_error = exc
    rep = _reporter(uri, token, {"tls": callback_tls} if callback_tls is not None else {})
    worker = callbacks.worker_info()
    ok = 0
    try:
        for i, (path, attempt) in enumerate(items):
            # First of all: from here on a worker found stuck is stuck on this image, not on the one before it
            # (whose outcome, like this start, may never leave a worker stuck with the GIL held).
            _breadcrumbs.mark(attempt)
            rep.add(["started", attempt, worker], urgent=True)
            if i == 0:
                rep.flush()
            t0 = time.perf_counter()
            try:
                if setup_error is not None:
                    raise setup_error
                record = process(path, settings)
            except Exception as exc:  # noqa: BLE001 - every error is reported, typed when it is an ImageError
                error = {"kind": error_kind(exc), "type": type(exc).__name__, "message": str(exc) or repr(exc),
                         "traceback": traceback.format_exc(limit=20)}
                rep.add(["failed", attempt, error, time.perf_counter() - t0])
                continue
            rep.add(["succeeded", attempt, with_isd_text(record), time.perf_counter() - t0])
            ok += 1
    finally:
        _breadcrumbs.mark("")
    rep.flush()
    return ok


def run_job(path: str, settings: dict, attempt: str, uri: str, token: str,
            process: ProcessFn | None = None, callback_tls: dict | None = None) -> str:
    """Process ``path`` and report the outcome for ``attempt``: a task of one image. Returns "succeeded" or
    "failed"."""
    ok = run_batch([(path, attempt)], settings, uri, token, process, callback_tls=callback_tls)
    return "succeeded" if ok else "failed"


async def exit_worker() -> None:
    """Run on a worker whose task hangs: end the process now; its nanny starts a fresh worker.

    A coroutine, so it runs on the worker's event loop (free while the task thread hangs) and
    ``Client.run(..., wait=False)`` accepts it.
    """
    _breadcrumbs.remove()
    os._exit(70)


__all__ = ["run_batch", "run_job", "exit_worker", "running_attempts", "breadcrumb_path", "TASK_PREFIX", "ProcessFn"]
