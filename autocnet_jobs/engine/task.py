"""The Dask task: run the per-image function for one attempt and report through the callback channel.

Image errors are reported with ``failed`` and the task returns normally, so Dask never retries or counts
them: the tracker's retry policy is the only one. Only a failure to report at all (the tracker unreachable)
or the death of the worker reaches the tracker as a Dask error.
"""
from __future__ import annotations

import traceback
from typing import Callable

from ..errors import error_kind
from . import callbacks

ProcessFn = Callable[[str, dict], dict]

TASK_PREFIX = "process_image"


def run_job(path: str, settings: dict, attempt: str, uri: str, token: str,
            process: ProcessFn | None = None, callback_tls: dict | None = None) -> str:
    """Process ``path`` and report the outcome for ``attempt``. Returns "succeeded" or "failed".
    ``callback_tls``: the callback channel's TLS settings (None: plain TCP), passed on to :func:`callbacks.call`."""
    tls = {"tls": callback_tls} if callback_tls is not None else {}
    # Imports (OpenCV, GDAL) come before "started": the first task on a fresh worker must not spend its
    # cluster.job_timeout importing. An import error is still reported as this job's failure.
    setup_error: BaseException | None = None
    try:
        if process is None:
            from ..extractors.pipeline import process_image as process
    except Exception as exc:  # noqa: BLE001
        setup_error = exc
    callbacks.call(uri, token, "started", attempt, callbacks.worker_info(), **tls)
    try:
        if setup_error is not None:
            raise setup_error
        record = process(path, settings)
    except Exception as exc:  # noqa: BLE001 - every error is reported, typed when it is an ImageError
        error = {"kind": error_kind(exc), "type": type(exc).__name__, "message": str(exc) or repr(exc),
                 "traceback": traceback.format_exc(limit=20)}
        callbacks.call(uri, token, "failed", attempt, error, **tls)
        return "failed"
    callbacks.call(uri, token, "succeeded", attempt, record, **tls)
    return "succeeded"


async def exit_worker() -> None:
    """Run on a worker whose task hangs: end the process now; its nanny starts a fresh worker.

    A coroutine, so it runs on the worker's event loop (free while the task thread hangs) and
    ``Client.run(..., wait=False)`` accepts it.
    """
    import os

    os._exit(70)


__all__ = ["run_job", "exit_worker", "TASK_PREFIX", "ProcessFn"]
