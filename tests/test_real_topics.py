"""Topics of the bundled corpus with the real model: named topics, determinism, add, the main job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperatlas.atlas import Atlas
from paperatlas.corpus import Paper
from paperatlas.search import paper_topics

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent

EXPECTED = {
    "Diffusion Tree Sampling: Scalable inference-time alignment of diffusion models": "diffusion steering",
    "Stop Regressing: Training Value Functions via Classification for Scalable Deep RL": "RL value functions",
    "Value Kaleidoscope: Engaging AI with Pluralistic Human Values, Rights, and Duties": "value alignment",
    "RewardAnything: Generalizable Principle-Following Reward Models": "reward modeling",
}


def base_name(name: str) -> str:
    """A named topic's name without the distinguishing suffix ("reward modeling: reasoning")."""
    return name.split(":")[0]


def test_each_named_topic_names_a_discovered_topic(real_topics_atlas, named_topics):
    names = {base_name(n) for n in real_topics_atlas.topics.names_at(0).values()}
    for topic in named_topics:
        assert topic.name in names
    assert real_topics_atlas.topics.noise_share(0) <= 0.15
    assert len(real_topics_atlas.topics.names_at(0)) >= 6


@pytest.mark.parametrize(("title", "topic"), EXPECTED.items())
def test_seed_papers_land_in_their_named_topic(real_topics_atlas, title, topic):
    labels, names = paper_topics(real_topics_atlas, 0)
    (row,) = [i for i, p in enumerate(real_topics_atlas.corpus) if p.title == title]
    assert labels[row] != -1
    assert base_name(names[int(labels[row])]) == topic


def test_keyterms_are_free_of_boilerplate(real_topics_atlas):
    boilerplate = {"we propose", "paper", "results", "approach", "novel", "model", "method", "models", "methods"}
    for terms in real_topics_atlas.topics.table["keyterms"]:
        assert terms and not boilerplate & set(terms)


def test_no_topics_top_three_key_terms_are_among_the_corpus_50_commonest_words(real_topics_atlas):
    import re
    from collections import Counter

    from paperatlas.vocabulary import stopwords

    stop = set(stopwords())
    document_frequency = Counter()
    for text in real_topics_atlas.corpus.texts():
        words = {w for w in re.findall(r"\w+", text.lower()) if len(w) > 1 and not w.isdigit() and w not in stop}
        document_frequency.update(words)
    commonest = {word for word, _ in sorted(document_frequency.items(), key=lambda item: (-item[1], item[0]))[:50]}
    table = real_topics_atlas.topics.table
    assert set(table["layer"]) == set(range(real_topics_atlas.topics.n_layers))
    for row in table.itertuples():
        assert len(row.keyterms) >= 3
        assert not commonest & set(row.keyterms[:3]), (row.layer, row.topic_id, list(row.keyterms[:3]))


def test_two_builds_give_identical_topics(real_topics_atlas, real_atlas_path, real_embedder, named_topics):
    again = Atlas.load(real_atlas_path, embedder=real_embedder)
    again.fit_topics(None, named_topics)
    np.testing.assert_array_equal(again.topics.labels, real_topics_atlas.topics.labels)
    np.testing.assert_array_equal(again.topics.coords, real_topics_atlas.topics.coords)
    assert again.topics.names_at(0) == real_topics_atlas.topics.names_at(0)


def test_add_embeds_only_new_papers_and_keeps_old_topics(real_topics_atlas, real_embedder):
    atlas = Atlas(real_topics_atlas.corpus, real_topics_atlas.embeddings,
                  type(real_topics_atlas.index).build(real_topics_atlas.embeddings, "exact"), real_topics_atlas.model)
    atlas.topics = real_topics_atlas.topics
    atlas.use_embedder(real_embedder)
    before = atlas.topics.labels.copy()
    calls = real_embedder.calls
    new = [
        Paper(id="new-rm", title="Reward models that reason before they judge",
              abstract="We train generative reward models on human preference data for RLHF of language models; "
                       "the reward model reasons about the responses before scoring them."),
        Paper(id="new-diff", title="Reward-guided sampling for text-to-image diffusion",
              abstract="We steer a pretrained diffusion model at inference time with a reward, using guidance "
                       "and tree search over denoising steps, without fine-tuning the model."),
    ]
    atlas.add(new, cache=None)
    assert real_embedder.calls - calls == 2
    np.testing.assert_array_equal(atlas.topics.labels[:-2], before)
    labels, names = paper_topics(atlas, 0)
    assert base_name(names[int(labels[-2])]) == "reward modeling"
    assert base_name(names[int(labels[-1])]) == "diffusion steering"


def test_main_job_from_the_readme(tmp_path, real_atlas_path):
    """ingest → build (topics) → map, as the README's first command runs them (the cache is warm)."""
    def run(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "paperatlas", *args], capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0, result.stderr
        return result

    run("ingest", "data/seeds/", "-o", str(tmp_path / "papers.jsonl"))
    assert (tmp_path / "papers.jsonl").read_text() == (REPO / "data" / "papers.jsonl").read_text()
    built = run("build", str(tmp_path / "papers.jsonl"), "-o", str(tmp_path / "atlas"), "--topics", "data/topics.toml")
    assert "embedded 0 texts; 350 came from the cache" in built.stderr
    run("map", str(tmp_path / "atlas"), "-o", str(tmp_path / "map.html"), "--png", str(tmp_path / "map.png"))
    assert 200_000 < (tmp_path / "map.html").stat().st_size < 2_000_000 and (tmp_path / "map.png").exists()
    info = json.loads(run("info", str(tmp_path / "atlas"), "--json").stdout)
    assert info["papers"] == 350 and info["topics"]["layer_0"] >= 6
    hits = json.loads(run("similar", str(tmp_path / "atlas"), "reward hacking in RLHF", "-k", "5", "--json").stdout)
    assert len(hits["results"]) == 5 and all(h["topic"] for h in hits["results"])


def test_n_topics_adds_a_layer_and_layers_nest_4x_apart(tmp_path, real_atlas_path):
    """`build --n-topics K` (the README's example) reports the layer it added; every layer nests
    in the next and successive counts are at most 4x apart, down to at most 8 themes."""
    from paperatlas.atlas import Atlas
    from paperatlas.cluster.hierarchy import MAP_THEMES, parents

    result = subprocess.run([sys.executable, "-m", "paperatlas", "build", "data/papers.jsonl", "-o",
                             str(tmp_path / "atlas"), "--n-topics", "5"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    atlas = Atlas.load(tmp_path / "atlas")
    topics = atlas.topics
    layer = topics.layer_nearest(5)
    assert f"--n-topics 5: layer {layer} has {topics.n_topics(layer)} topics" in result.stderr
    assert abs(topics.n_topics(layer) - 5) <= 1
    counts = [topics.n_topics(i) for i in range(topics.n_layers)]
    assert counts == sorted(counts, reverse=True) and counts[-1] <= MAP_THEMES
    assert all(finer / coarser <= 4 for finer, coarser in zip(counts, counts[1:]))
    for finer in range(topics.n_layers - 1):
        parents(topics.labels_at(finer), topics.labels_at(finer + 1))  # raises unless nested
