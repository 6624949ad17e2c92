"""Reading the text labels planetary images carry: ISIS3 cube labels and PDS3 / ISIS2 keywords.

GDAL parses these labels too, but rasterio does not hand the parsed ISIS3 label over intact (the ``json:ISIS3``
metadata domain comes back split into key/value pairs), and the ISIS footprint polygon and History are blobs
that only the label locates. So the label is read here, from the first bytes of the file only: an ISIS3 label
states its own size (``Object = Label / Bytes``) and a PDS3 label ends at its ``END`` line, so a multi-GB cube
costs one small read.

The ISIS3 label is parsed by a small PVL reader (objects, groups, ``key = value`` with multi-line
parenthesised and quoted values, comments). It is about 20x faster than ``pvl`` on labels with a large
``NaifKeywords`` object, and it keeps every value as text: callers convert the few values they use.
"""
from __future__ import annotations

import functools
import os
import re

_ISIS3_MAGIC = re.compile(rb"^\s*(?:/\*.*?\*/\s*)*Object\s*=\s*IsisCube\b", re.S)
_LABEL_BYTES = re.compile(rb"Object\s*=\s*Label\s+Bytes\s*=\s*(\d+)")
_END_LINE = re.compile(r"^\s*End\s*$", re.M | re.I)
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_PDS_MAGIC = re.compile(rb"^\s*(?:/\*.*?\*/\s*)*(?:PDS_VERSION_ID|ODL_VERSION_ID|CCSD|RECORD_TYPE|OBJECT\b)", re.S)
_MAX_PDS_LABEL = 1 << 20   # PDS3 attached labels are at most a few hundred KiB


class Block:
    """One PVL object or group: its kind ("Object"/"Group"/"Root"), name, keywords and child blocks."""

    __slots__ = ("kind", "name", "keywords", "children")

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name
        self.keywords: dict[str, str] = {}
        self.children: list[Block] = []

    def get(self, key: str, default: str | None = None) -> str | None:
        """A keyword's value as text (quotes removed), matched case-insensitively."""
        if key in self.keywords:
            return self.keywords[key]
        low = key.lower()
        for k, v in self.keywords.items():
            if k.lower() == low:
                return v
        return default

    def find(self, name: str) -> Block | None:
        """The first child object or group named ``name`` (case-insensitive), searched depth-first."""
        for child in self.findall(name):
            return child
        return None

    def findall(self, name: str):
        low = name.lower()
        for child in self.children:
            if child.name.lower() == low:
                yield child
            yield from child.findall(name)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}: {len(self.keywords)} keywords, {len(self.children)} children>"


def _statements(text: str):
    """``(key, value)`` pairs of a PVL text; a value spans lines while brackets or quotes are open."""
    text = _COMMENT.sub("", text)
    key, parts, depth, quoted = None, [], 0, False
    for line in text.splitlines():
        if key is None:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if "=" not in stripped:
                yield stripped, None
                continue
            key, _, rest = stripped.partition("=")
            key, line = key.strip(), rest
        parts.append(line.strip())
        for ch in line:
            if ch == '"':
                quoted = not quoted
            elif not quoted and ch in "({":
                depth += 1
            elif not quoted and ch in ")}":
                depth -= 1
        if depth <= 0 and not quoted:
            value = " ".join(p for p in parts if p)
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            yield key, value
            key, parts, depth, quoted = None, [], 0, False


def parse_pvl(text: str) -> Block:
    """Parse PVL label text into a tree of :class:`Block` (stops at the ``End`` statement)."""
    root = Block("Root", "")
    stack = [root]
    for key, value in _statements(text):
        kw = key.lower()
        if value is None:
            if kw == "end":
                break
            if kw in ("end_object", "end_group", "endobject", "endgroup") and len(stack) > 1:
                stack.pop()
            continue
        if kw in ("object", "group", "begin_object", "begin_group"):
            block = Block("Object" if "object" in kw else "Group", value.strip())
            stack[-1].children.append(block)
            stack.append(block)
        else:
            stack[-1].keywords.setdefault(key, value)
    return root


def _file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    st = os.stat(path)
    return os.path.realpath(path), st.st_mtime_ns, st.st_size


class _Unread:
    """The default of a ``label`` argument: the caller has not read the label (None means 'not ISIS3')."""

    def __repr__(self) -> str:
        return "UNREAD"


UNREAD = _Unread()


def label_of(path: str | os.PathLike, label: Block | None | _Unread) -> Block | None:
    """``label`` as given by a caller that has parsed it once already, else read from ``path``."""
    return isis3_label(path) if label is UNREAD else label


def isis3_label(path: str | os.PathLike) -> Block | None:
    """The parsed label of an ISIS3 cube with an attached label, or None for any other file."""
    try:
        return _isis3_label(*_file_key(path))
    except OSError:
        return None


@functools.lru_cache(maxsize=64)
def _isis3_label(real: str, _mtime: int, _size: int) -> Block | None:
    with open(real, "rb") as f:
        head = f.read(65536)
        if not _ISIS3_MAGIC.match(head):
            return None
        m = _LABEL_BYTES.search(head)
        size = int(m.group(1)) if m else 65536
        if size > len(head):
            head += f.read(size - len(head))
    text = head[:size].decode("latin-1")
    end = _END_LINE.search(text)
    return parse_pvl(text[: end.end()] if end else text)


def read_blob(path: str | os.PathLike, start_byte: int, nbytes: int) -> bytes:
    """``nbytes`` bytes of a file at an ISIS ``StartByte`` (1-based, as ISIS labels give it)."""
    with open(path, "rb") as f:
        f.seek(int(start_byte) - 1)
        return f.read(int(nbytes))


def pds3_keyword(path: str | os.PathLike, key: str) -> str | None:
    """First value of ``key`` in a PDS3 (or ISIS2) text label at the start of ``path``; None when absent.

    Works for attached labels and for detached ``.lbl`` files. Only the label text (up to its ``END``
    line, at most 1 MiB) is read.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_MAX_PDS_LABEL)
    except OSError:
        return None
    if not _PDS_MAGIC.match(head):
        return None
    text = head.decode("latin-1")
    end = re.search(r"^\s*END\s*$", text, re.M)
    if end:
        text = text[: end.start()]
    m = re.search(r"^\s*" + re.escape(key) + r"\s*=\s*(\"[^\"]*\"|'[^']*'|[^\r\n/]+)", text, re.M | re.I)
    if not m:
        return None
    return m.group(1).strip().strip("\"'").strip() or None
