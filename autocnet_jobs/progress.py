"""A text progress bar for terminals: done, failed, running, queued and an ETA."""
from __future__ import annotations

import time
from typing import TextIO


class ProgressBar:
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
