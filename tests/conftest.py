# corpus fixtures
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS = REPO_ROOT / "data" / "seeds"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (holds data/seeds and data/papers.jsonl)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def seeds() -> Path:
    """The folder of real Hugging Face Daily Papers page dumps."""
    return SEEDS


@pytest.fixture(scope="session")
def seed_page(seeds: Path):
    """``seed_page("004")`` is the seed page whose name starts with that prefix."""

    def find(prefix: str) -> Path:
        (path,) = sorted(seeds.glob(f"{prefix}_*.txt"))
        return path

    return find


# atlas fixtures (embedders, the bundled corpus, one real-model atlas per session)
from tests.atlas_fixtures import (  # noqa: E402,F401
    _isolated_cache,
    bundled_corpus,
    fake_embedder,
    named_topics,
    real_atlas,
    real_atlas_path,
    real_embedder,
    real_topics_atlas,
)
from tests.topic_fixtures import keyword_atlas, keyword_atlas_path  # noqa: E402,F401
