"""ImageAdder: the public entry point. Wires config, the callback daemon, the cluster, the tracker and the
DB writer together, and exposes the contract in DESIGN.md."""
from __future__ import annotations

import contextlib
import importlib.machinery
import logging
import os
import queue
import secrets
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from . import config as config_mod
from .catalogue.writer import WriterProcess
from .engine.callbacks import CallbackServer
from .engine.tracker import JobTracker
from .errors import AutocnetJobsError, ConfigError
from .scheduler import make_backend

log = logging.getLogger(__name__)


class InputDirectoryError(AutocnetJobsError, NotADirectoryError):
    """The directory given to ``add_images`` does not exist or is not a directory."""


class ImageAdder:
    """Ingest images: features to ``<name>_kps.h5``, footprint and camera to the catalogue.

    ``config`` is a YAML path or a mapping; None reads ``$autocnet_config`` or the built-in defaults.
    ``process`` replaces the per-image function (``process(path, settings) -> record``), e.g. a site's own
    extractor; it must be importable on the workers.
    """

    def __init__(self, config: str | os.PathLike | Mapping | None = None, *, process: Callable | None = None,
                 quiet: bool = False):
        self.config = config_mod.load(config)
        # Workers may run elsewhere (Slurm) with another working directory: resolve it here, once.
        self.config["output"]["dir"] = os.path.abspath(self.config["output"]["dir"])
        _check_output(self.config["output"])
        self._token = secrets.token_urlsafe(32)
        self._events: queue.Queue = queue.Queue()
        self._server: CallbackServer | None = None
        self._backend = None
        self._tracker: JobTracker | None = None
        self._writer: WriterProcess | None = None
        _main_spawnable()
        try:
            self._backend = make_backend(self.config["cluster"])  # not started yet: only its credentials to remove
            pyro = self.config["pyro"]
            host = pyro["host"] or self._backend.callback_host()
            credentials = self._backend.credentials()  # the run's TLS files (cluster.security), None for none
            self._server = CallbackServer(self._events, self._token, host=host, port=pyro["port"],
                                          max_message_size=pyro["max_message_size"],
                                          tls=credentials.files() if credentials else None,
                                          tls_on_loopback=pyro["tls"] == "always")
            if not quiet:
                print(f"Callback URI: {self._server.uri}")
                print("Pyro daemon running.")
            # The writer first: an unreachable database is an error before any cluster or job exists.
            self._writer = WriterProcess(self.config["database"])
            self._writer.start()
            client = self._backend.start()
            self._tracker = JobTracker(self.config, client, self._backend, self._writer,
                                       config_mod.job_settings(self.config),
                                       self._server.uri, self._token, self._events, process=process,
                                       callback_tls=self._server.client_tls)
            if not quiet and self.dashboard_link:
                print(f"Dask dashboard: {self.dashboard_link}")
        except BaseException:
            self.close()
            raise

    # ---- the contract -------------------------------------------------------------------------------------
    @property
    def callback_uri(self) -> str:
        return self._server.uri if self._server else ""

    @property
    def dashboard_link(self) -> str | None:
        return self._backend.dashboard_link if self._backend else None

    @property
    def client(self):
        return self._backend.client if self._backend else None

    def add_images(self, directory: str | os.PathLike, ext: str, force: bool = False,
                   recursive: bool = False) -> list[str]:
        """Submit one job per ``*.ext`` file in ``directory`` (case-insensitive, sorted); returns at once.

        ``recursive`` also takes the files of its subfolders (an archive's ``volume/data/*.IMG``); symlinked
        folders are not followed, so a link loop cannot make the walk endless. Returns the submitted paths.
        Images already committed with the same size and mtime, and images that failed terminally before, are
        skipped unless ``force`` (use :meth:`retry_failed` for the latter).
        """
        folder = Path(directory)
        if not folder.is_dir():
            what = "does not exist" if not folder.exists() else "is not a directory"
            raise InputDirectoryError(f"cannot add images from {str(directory)!r}: it {what}")
        if recursive:
            paths = sorted(os.path.abspath(p) for p in _matching(folder, ext, recursive=True))
        else:
            # Names first, paths after: a million paths are the tracker's keys for the run, and nothing freed
            # meanwhile leaves holes between them (memory the process would keep).
            names = sorted(_matching(folder, ext, recursive=False))
            root = os.path.abspath(folder)
            paths = [os.path.join(root, n) for n in names]
            del names
        return self._submit(paths, force)

    def add_image(self, path: str | os.PathLike, force: bool = False) -> bool:
        """Submit one image; True when a job was started."""
        return bool(self._submit([os.path.abspath(path)], force))

    def _submit(self, paths: list[str], force: bool) -> list[str]:
        tracker = self._require()
        known = {} if force else tracker.known()  # read once per adder, then kept current by the tracker
        submitted: list[str] = []
        # In chunks: the tracker's lock is never held for a million images at once, and what is made per image
        # on the way (stat results, these tuples) is freed chunk by chunk, not kept until the end.
        for start in range(0, len(paths), _SUBMIT_CHUNK):
            todo, skipped = [], []
            for path in paths[start:start + _SUBMIT_CHUNK]:
                size, mtime = _stat(path)
                prior = known.get(path)
                if prior and prior["size"] == size and prior["mtime"] == mtime:
                    skipped.append((path, size, mtime, prior))
                    continue
                todo.append((path, size, mtime))
            tracker.mark_known(skipped)
            submitted += tracker.submit(todo, force=force)
        return submitted

    @property
    def skipped(self) -> dict[str, str]:
        """Images not run because the catalogue held them: ``{path: "done" | "failed"}``; the failed ones are
        in :attr:`failed_jobs` with their stored reason and wait for :meth:`retry_failed`."""
        return self._require().skipped()

    def retry_failed(self) -> list[str]:
        """Resubmit every failed image (of this run and of earlier runs in the catalogue) with a fresh budget."""
        tracker = self._require()
        earlier = tracker.earlier_failures()
        return tracker.retry_failed() + tracker.submit([(p, *_stat(p)) for p in earlier], force=True)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job is done or failed; TimeoutError after ``timeout`` seconds."""
        self._require().wait(timeout)

    @property
    def job_status(self) -> dict[str, bool | int]:
        """``{path: True | n}``: True once the row is committed, else the number of failures so far."""
        return self._require().status()

    @property
    def failed_jobs(self) -> list[str]:
        return self._require().failed()

    def failure(self, path: str | os.PathLike) -> dict[str, Any] | None:
        """Why ``path`` failed: failures (also under ``attempts``, its older key), kind, error type, message,
        traceback, worker and log location."""
        return self._require().failure(os.path.abspath(path))

    def job_info(self, path: str | os.PathLike) -> dict[str, Any] | None:
        """One image's job: state, failures so far, the worker of its latest attempt (host, pid, Dask
        address, Slurm job id) and where that worker's log is; None for a path this adder never saw."""
        return self._require().info(os.path.abspath(path))

    def progress(self) -> dict[str, int]:
        """Counts of jobs by state: queued, running, writing, done, failed."""
        return self._require().counts()

    def show_progress(self, **kwargs):
        """Show :meth:`progress` live: an ipywidgets bar in a notebook, else a text line (see ``views.progress``)."""
        from .views.progress import show_progress

        return show_progress(self, **kwargs)

    def close(self) -> None:
        """Stop everything this adder started. Unfinished jobs stay queued in the catalogue for a resume."""
        if self._tracker is not None:
            self._tracker.close()  # stops the writer after its last commit
            self._tracker = None
        elif self._writer is not None:
            self._writer.stop()
            self._writer.release()
        self._writer = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.close()
            self._server = None

    def __enter__(self) -> "ImageAdder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _require(self) -> JobTracker:
        if self._tracker is None:
            raise AutocnetJobsError("this ImageAdder is closed")
        return self._tracker


_SUBMIT_CHUNK = 10_000


def _matching(directory: str | os.PathLike, ext: str, recursive: bool) -> Iterator[str]:
    """The entries ``add_images`` takes, lazily: names in ``directory``, or with ``recursive`` paths below it
    (symlinked folders not followed). Any case; folders named ``*.ext`` too (submitted, they fail with a typed
    reason)."""
    suffix = "." + ext.lstrip(".").lower()
    if recursive:
        for root, dirs, files in os.walk(directory):
            yield from (os.path.join(root, n) for n in files + dirs if n.lower().endswith(suffix))
        return
    with os.scandir(directory) as entries:
        yield from (e.name for e in entries if e.name.lower().endswith(suffix))


def has_images(directory: str | os.PathLike, ext: str, recursive: bool = False) -> bool:
    """Whether :meth:`ImageAdder.add_images` would find a ``*.ext`` entry in ``directory``, stopping at the
    first: the CLI asks before it starts a cluster, which for nothing to do takes seconds and an empty
    catalogue."""
    return next(_matching(directory, ext, recursive), None) is not None


def _stat(path: str) -> tuple[int | None, float | None]:
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    return st.st_size, st.st_mtime


def _main_spawnable() -> None:
    """Local Dask workers are spawned processes, and spawning re-runs the caller's ``__main__`` from its file. A
    script read from standard input (``python - <<EOF``) names a file that does not exist (``'<stdin>'``), so
    every worker would die at start ("Nanny failed to start"). Such a ``__main__`` cannot be re-run anyway:
    give it the spec of a module that multiprocessing does not re-run, so workers start as they do under
    ``python -c`` or in a notebook (functions defined in the script still reach workers by value)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or getattr(main, "__spec__", None) is not None or not isinstance(path, str):
        return
    from multiprocessing import process

    if not os.path.isfile(os.path.join(process.ORIGINAL_DIR or os.getcwd(), path)):  # where spawn looks for it
        main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)


def _check_output(output: dict) -> None:
    """An ``output.dir`` that every image must use but nobody can write is an error before any job runs."""
    if not output["always"]:
        return
    from .extractors.keypoint_file import _writable

    folder = output["dir"]
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"output.dir {folder} cannot be created: {exc.strerror}; "
                          "set it to a writable folder") from None
    if not _writable(folder):
        raise ConfigError(f"output.dir {folder} is not writable; set it to a writable folder")
