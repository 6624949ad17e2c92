"""Export files written whole or not at all."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, TextIO


@contextmanager
def replaced_when_written(out: str) -> Iterator[TextIO]:
    """A text file at a temp name beside ``out``, renamed onto ``out`` when the block ends without an error: a
    reader (or the previous export at ``out``) never sees a half-written file."""
    tmp = f"{out}.tmp"
    with open(tmp, "w", newline="") as f:
        yield f
    os.replace(tmp, out)
