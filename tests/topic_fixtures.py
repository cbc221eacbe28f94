"""Hand-made topics for fast tests of topic filters and topic output (no UMAP, no HDBSCAN).

Fine topics by a keyword of the title; papers with none of the keywords are noise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

KEYWORD_TOPICS = {0: ("reward", "reward modeling"), 1: ("diffusion", "diffusion steering"),
                  2: ("value", "human values")}
THEMES = {0: "generative alignment", 1: "values and norms"}
THEME_OF = {0: 0, 1: 0, 2: 1}


def keyword_topics(corpus):
    """A TopicModel of two layers for ``corpus``: topics 0-2 by title keyword (else noise, -1),
    and themes 0 (topics 0 and 1) and 1 (topic 2)."""
    import numpy as np
    import pandas as pd

    from paperatlas.cluster.topic_model import TOPIC_COLUMNS, TopicModel

    fine = []
    for paper in corpus:
        title = paper.title.casefold()
        fine.append(next((topic for topic, (word, _) in KEYWORD_TOPICS.items() if word in title), -1))
    fine = np.array(fine, dtype=np.int64)
    coarse = np.array([THEME_OF.get(int(t), -1) for t in fine], dtype=np.int64)
    rows = []
    for layer, labels, names, parents in ((0, fine, {t: n for t, (_, n) in KEYWORD_TOPICS.items()}, THEME_OF),
                                          (1, coarse, THEMES, {}),):
        for topic, name in names.items():
            members = np.flatnonzero(labels == topic)
            rows.append({"layer": layer, "topic_id": topic, "size": int(members.size), "parent": parents.get(topic, -1),
                         "name": name, "keyterms": name.split(), "keyterm_scores": [1.0] * len(name.split()),
                         "exemplars": [int(r) for r in members[:3]]})
    table = pd.DataFrame(rows, columns=list(TOPIC_COLUMNS))
    coords = np.random.default_rng(0).standard_normal((len(corpus), 2)).astype(np.float32)
    return TopicModel(labels=np.stack([fine, coarse], axis=1), probabilities=np.ones(len(corpus), np.float32),
                      coords=coords, table=table)


@pytest.fixture(scope="session")
def keyword_atlas(bundled_corpus):
    """The bundled corpus with FakeEmbedder vectors and :func:`keyword_topics` (read-only)."""
    from paperatlas.atlas import Atlas
    from paperatlas.embed import FakeEmbedder

    atlas = Atlas.build(bundled_corpus, FakeEmbedder(), cache=None)
    atlas.topics = keyword_topics(atlas.corpus)
    return atlas


@pytest.fixture(scope="session")
def keyword_atlas_path(keyword_atlas, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``keyword_atlas`` saved once (read-only)."""
    path = tmp_path_factory.mktemp("keyword") / "atlas"
    keyword_atlas.save(path)
    return path
