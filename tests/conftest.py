"""Shared fixtures: where the real sample images are, and scratch folders of symlinks to them.

The sample images live outside the repository (``../shared/data/images``, or ``$AUTOCNET_TEST_DATA``) and are
never copied or written to: tests that ingest them work on a temp folder of symlinks, so keypoint files land in
the temp folder beside the links.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AUTOCNET_TEST_DATA", REPO.parent / "shared" / "data" / "images")).resolve()


def sample(name: str) -> Path:
    """Path of one sample image by file name (fails the test, not skips, when the data is missing)."""
    path = DATA_DIR / name
    assert path.exists(), f"sample image {path} missing; set $AUTOCNET_TEST_DATA"
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA_DIR.is_dir(), f"sample images not found at {DATA_DIR}; set $AUTOCNET_TEST_DATA"
    return DATA_DIR


def link_images(dest: Path, names: list[str] | None = None) -> Path:
    """Fill ``dest`` with symlinks to the sample images (all, or ``names``) and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(DATA_DIR.iterdir()):
        if names is None or src.name in names:
            (dest / src.name).symlink_to(src)
    return dest


@pytest.fixture
def image_links(tmp_path: Path) -> Path:
    """A temp folder of symlinks to every sample image."""
    return link_images(tmp_path / "images")
