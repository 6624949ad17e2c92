"""Progress of an ImageAdder: a text bar for terminals (done, failed, running, queued and an ETA), and in a
notebook an ipywidgets bar when ipywidgets is importable, text otherwise.

``ia.progress()`` stays a plain dict of counts; this module only shows it::

    ia.add_images("/data/ctx", "cub")
    ia.show_progress()          # a live bar under the cell; returns at once (widget), or
                                # prints a text line that updates until the run ends (no ipywidgets)
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from ..catalogue.queries import JobState
from ..errors import AutocnetJobsError

ACTIVE = tuple(s.value for s in JobState if not s.terminal)  # queued, running, writing


class ProgressBar:
    """A text progress bar for terminals: done, failed, running, queued and an ETA."""

    def __init__(self, stream: TextIO, width: int = 30):
        self.stream = stream
        self.width = width
        self.start = time.monotonic()
        self.tty = stream.isatty()
        self._last = 0.0
        # Images already finished when the bar first looks (a resumed run skips the ones done before) do not
        # count towards the rate, or the ETA of a resume would be far too short.
        self._finished_at_start: int | None = None

    def line(self, counts: dict[str, int]) -> str:
        total = sum(counts.values()) or 1
        finished = counts["done"] + counts["failed"]
        filled = int(self.width * finished / total)
        elapsed = time.monotonic() - self.start
        if self._finished_at_start is None:
            self._finished_at_start = finished
        progressed = finished - self._finished_at_start
        eta = "--:--"
        if progressed > 0 and finished < total:
            left = elapsed / progressed * (total - finished)
            eta = f"{int(left // 60):02d}:{int(left % 60):02d}"
        elif finished >= total:
            eta = "00:00"
        running = counts["running"] + counts.get("writing", 0)
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {finished}/{total} done={counts['done']} "
                f"failed={counts['failed']} running={running} queued={counts['queued']} eta {eta}")

    def update(self, counts: dict[str, int], final: bool = False) -> None:
        now = time.monotonic()
        if not self.tty and not final and now - self._last < 10:
            return  # in a log file, a line every 10 s is enough
        self._last = now
        end = "\n" if final or not self.tty else "\r"
        self.stream.write(self.line(counts) + end)
        self.stream.flush()


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def _display(obj: Any) -> bool:
    try:
        from IPython.display import display
    except ImportError:
        return False
    display(obj)
    return True


class ProgressDisplay:
    """A live view of an adder's counts. ``widget`` is the ipywidgets box (None in text mode)."""

    def __init__(self, ia, interval: float, stream: TextIO | None):
        self.ia = ia
        self.interval = interval
        self.stream = stream if stream is not None else sys.stdout
        self.bar = ProgressBar(self.stream)
        self.counts: dict[str, int] = {}
        self.widget = None
        self._shown = False
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    # ---- shared -------------------------------------------------------------------------------------------
    def poll(self) -> bool:
        """Read the counts once and redraw; False when the run is over (every job terminal, or closed)."""
        try:
            counts = self.ia.progress()
        except AutocnetJobsError:  # the adder was closed: keep the last counts on screen
            return False
        self.counts = counts
        finished = sum(counts.values()) > 0 and not any(counts.get(s, 0) for s in ACTIVE)
        self.draw(final=finished)
        return not finished

    def draw(self, final: bool = False) -> None:
        if self.widget is not None:
            total = sum(self.counts.values())
            bar, label = self.widget.children
            bar.max = max(total, 1)
            bar.value = self.counts.get("done", 0) + self.counts.get("failed", 0)
            bar.bar_style = "danger" if self.counts.get("failed") else ("success" if final else "info")
            label.value = f"<code>{self.bar.line(self.counts)}</code>"
        else:
            self.bar.update(self.counts, final=final)

    def stop(self) -> None:
        """Stop updating (the run itself goes on)."""
        self._stop.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the display stopped updating (the run ended, the adder closed or :meth:`stop`)."""
        if self.thread is not None:
            self.thread.join(timeout)

    def _follow(self) -> None:
        while self.poll() and not self._stop.wait(self.interval):
            pass

    # ---- notebook display ---------------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        # Shown already (the widget on creation, the text line as it was written): nothing to repeat.
        if self.widget is not None and not self._shown:
            self._shown = _display(self.widget)

    def __repr__(self) -> str:
        return f"<ProgressDisplay {self.counts or 'no jobs yet'}>"


def show_progress(ia, *, follow: bool = True, interval: float = 1.0, stream: TextIO | None = None,
                  widget: bool | None = None) -> ProgressDisplay:
    """Show the progress of ``ia``: done, failed, running, queued and an ETA.

    With ipywidgets (``widget`` None or True): an ``IntProgress`` and a text line, displayed at once and updated
    from a background thread every ``interval`` seconds until every job is terminal; returns immediately.
    Without it (or ``widget=False``): the same text line as the CLI on ``stream`` (stdout), redrawn in place until
    the run ends when ``follow`` (Ctrl-C stops watching, not the run), else printed once.
    """
    view = ProgressDisplay(ia, interval, stream)
    widgets = _ipywidgets() if widget in (None, True) else None
    if widget and widgets is None:
        raise ImportError("show_progress(widget=True) needs ipywidgets: pip install ipywidgets")
    if widgets is not None:
        view.widget = widgets.VBox([widgets.IntProgress(min=0, max=1, value=0, description="images"),
                                    widgets.HTML(value="")])
        running = view.poll()
        view._shown = _display(view.widget)
        if follow and running:
            view.thread = threading.Thread(target=view._follow, name="autocnet-progress", daemon=True)
            view.thread.start()
        return view
    if "ipykernel" in sys.modules and stream is None:
        view.bar.tty = True  # a notebook's output area understands "\r"
    if not follow:
        try:
            view.counts = ia.progress()
        except AutocnetJobsError:
            return view
        view.bar.update(view.counts, final=True)
        return view
    try:
        view._follow()
    except KeyboardInterrupt:
        pass
    if view.bar.tty and view.counts and any(view.counts.get(s, 0) for s in ACTIVE):
        view.stream.write("\n")
    return view
