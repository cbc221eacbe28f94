"""Plain-text reprs stay short: a summary line, never an array or a page of dicts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from paperatlas.atlas import Atlas
from paperatlas.cluster.topic_model import TopicModel
from paperatlas.corpus import Corpus, Paper
from paperatlas.search import SearchResults

SHORT = 500


def test_topic_model_repr_is_a_summary() -> None:
    n = 20_000
    labels = np.stack([np.arange(n) % 40 - 1, np.arange(n) % 6], axis=1).astype(np.int64)  # -1: noise
    table = pd.DataFrame(
        [{"layer": layer, "topic_id": t, "size": 1, "parent": -1, "name": f"topic {t}", "keyterms": ["a"],
          "keyterm_scores": [1.0], "exemplars": [0]} for layer, count in ((0, 39), (1, 6)) for t in range(count)]
    )
    topics = TopicModel(labels=labels, probabilities=np.ones(n, np.float32), coords=np.zeros((n, 2)), table=table)
    text = repr(topics)
    assert text == "TopicModel(20000 papers, 2 layers of 39 / 6 topics, 2% noise)"
    assert str(topics) == text


def test_atlas_corpus_and_results_reprs_are_short() -> None:
    rng = np.random.default_rng(0)
    papers = [Paper(id=f"p{i}", title=f"A rather long title about topic number {i} " * 4, abstract="words " * 200)
              for i in range(300)]
    vectors = rng.standard_normal((300, 32)).astype(np.float32)
    atlas = Atlas.build(Corpus(papers), embeddings=vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    assert len(repr(atlas)) < SHORT and repr(atlas).startswith("Atlas(300 papers")
    assert repr(atlas.corpus) == "Corpus(300 papers)"
    hits = atlas.similar("p1", k=10)
    assert len(hits) == 10
    text = repr(hits)
    assert len(text) < SHORT and str(hits) == text
    assert text.startswith("SearchResults(10 papers like ") and "… 7 more" in text and hits[0]["id"] in text
    assert "abstract" not in text and "words words" not in text
    one = SearchResults([hits[0]], {"description": "text 'x'"})
    assert repr(one).startswith("SearchResults(1 paper like text 'x': ")
    assert repr(SearchResults([], {"description": "text 'x'"})) == "SearchResults(0 papers like text 'x': none)"
