"""The catalogue's write side: ``open_store(url)`` picks the backend (SQLite or PostGIS) from the URL."""
from __future__ import annotations

from sqlalchemy.engine import make_url

from ...errors import DatabaseUnavailable
from .base import IMAGE_FIELDS, JOB_FIELDS, SchemaMismatch, Store, image_values, safe_url


def open_store(url: str) -> "Store":
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(url)
    if backend == "postgresql":
        from .postgis import PostgisStore

        return PostgisStore(url)
    raise DatabaseUnavailable(f"unsupported database URL {safe_url(url)}: use sqlite:///FILE or postgresql+psycopg://...")


__all__ = ["open_store", "Store", "SchemaMismatch", "safe_url", "image_values", "IMAGE_FIELDS", "JOB_FIELDS"]
