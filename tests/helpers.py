"""Small helpers shared by tests: process inspection, config builders, catalogue writes."""
from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

import cloudpickle
import psutil

from autocnet_jobs.catalogue.store import open_store

from . import faults

# Fault-injecting per-image functions travel to workers by value, like a user's plug-in.
cloudpickle.register_pickle_by_value(faults)


def config(tmp_path: Path, **sections) -> dict:
    """A config for one test: its own SQLite file and keypoint folder, short timeouts."""
    cfg = {"database": {"url": f"sqlite:///{tmp_path / 'catalogue.db'}"},
           "cluster": {"n_workers": 2, "job_timeout": 120},
           "output": {"dir": str(tmp_path / "kps")}}
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    return cfg


def pids_with_file_open(path: Path) -> set[int]:
    """Processes that hold ``path`` open: a SQLite connection keeps its database file open."""
    target = str(Path(path).resolve())
    pids = set()
    for proc in psutil.process_iter():
        try:
            if any(f.path == target for f in proc.open_files()):
                pids.add(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return pids


def listening_ports(pid: int | None = None) -> set[int]:
    ports = set()
    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN and (pid is None or c.pid == pid):
            ports.add(c.laddr.port)
    return ports


def tiny_files(folder: Path, n: int, ext: str = "cub", prefix: str = "img") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{prefix}{i:05d}.{ext}").write_bytes(b"x")
    return folder


def children() -> set[int]:
    return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}


class _Tables(HTMLParser):
    """Text of every cell of every table, by the table's class, and each cell's class: {class: [[(text, cls)]]}."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str]]]] = {}
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("class", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell, self._cls = [], attrs.get("class") or ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(("".join(self._cell).strip(), self._cls))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(page: str) -> dict[str, list[list[tuple[str, str]]]]:
    """Every table of an HTML page by its class: rows of (cell text, cell class)."""
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def write_batches(url: str, *batches: list[dict]) -> None:
    """Write records to the catalogue at ``url`` as the writer does, one transaction per batch (a later batch's
    overlap pairs with an earlier one come from the spatial index, incrementally)."""
    store = open_store(url)
    store.connect()
    try:
        for records in batches:
            store.write(records, [])
    finally:
        store.close()
