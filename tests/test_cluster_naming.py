"""Tests of paperatlas.cluster.naming: TOML named topics and naming passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paperatlas.cluster.naming import NamedTopic, load_named_topics, name_topics
from paperatlas.errors import PaperatlasError


def unit(rows: list[list[float]]) -> np.ndarray:
    array = np.array(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_named_topics(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[topic]]\nname = "reward modeling"\ndescription = """Learning reward models\n  from preferences."""\n'
        '[[topic]]\nname = "graph learning"\ndescription = "Neural networks on graphs."\n',
    )
    topics = load_named_topics(path)
    assert topics == [
        NamedTopic("reward modeling", "Learning reward models from preferences."),
        NamedTopic("graph learning", "Neural networks on graphs."),
    ]
    assert topics[0].text() == "reward modeling: Learning reward models from preferences."
    assert load_named_topics(write(tmp_path, "")) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[topic]]\nname = "x"\ndescription = ', "not valid TOML"),
        ('[[topic]]\ndescription = "d"\n', "'name'"),
        ('[[topic]]\nname = "x"\n', "'description'"),
        ('[[topic]]\nname = ""\ndescription = "d"\n', "'name'"),
        ('[[topic]]\nname = 3\ndescription = "d"\n', "'name'"),
        ('topic = "x"\n', r"\[\[topic\]\]"),
        ('[[topic]]\nname = "x"\ndescription = "d"\n[[topic]]\nname = "x"\ndescription = "e"\n', "twice"),
    ],
)
def test_load_named_topics_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PaperatlasError, match=message) as info:
        load_named_topics(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PaperatlasError, match="cannot read"):
        load_named_topics(tmp_path / "nope.toml")


KEYTERMS = {
    0: [("reward", 0.5), ("preference", 0.4), ("rlhf", 0.3)],
    1: [("math", 0.5), ("reasoning", 0.4), ("reward", 0.1)],
    2: [("graph", 0.5), ("molecule", 0.4), ("gnn", 0.3)],
    3: [("weather", 0.5), ("forecast", 0.4), ("climate", 0.3)],
}


def test_threshold_names_and_keyterm_fallback() -> None:
    centroids = unit([[1, 0, 0, 0], [0.9, 0.3, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    named = [NamedTopic("reward modeling", "d"), NamedTopic("graph learning", "d")]
    vectors = unit([[1, 0.1, 0, 0], [0, 0, 1, 0.1]])
    names = name_topics(centroids, KEYTERMS, named, vectors, threshold=0.8)
    assert names[0] == "reward modeling"  # most similar keeps the bare name
    assert names[1] == "reward modeling: math"  # shared name gets a keyterm
    assert names[2] == "graph learning"
    assert names[3] == "weather · forecast · climate"


def test_without_named_topics_keyterm_names() -> None:
    centroids = unit([[1, 0], [0, 1]])
    names = name_topics(centroids, {0: [("alpha", 1.0)], 1: []})
    assert names == {0: "alpha", 1: "(no terms)"}


def test_coverage_pass_gives_unused_named_topic_its_best_match() -> None:
    centroids = unit([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1]])
    named = [NamedTopic("a", "d"), NamedTopic("b", "d")]
    vectors = unit([[1, 0, 0], [0, 1, 0]])
    # Only topic 0 passes the threshold; "b" then goes to topic 1 (similarity 0.8).
    names = name_topics(centroids, KEYTERMS, named, vectors, threshold=0.9, coverage_threshold=0.5)
    assert names == {0: "a", 1: "b", 2: "graph · molecule · gnn"}
    strict = name_topics(centroids, KEYTERMS, named, vectors, threshold=0.9, coverage_threshold=0.95)
    assert strict[1] == "math · reasoning · reward"


def test_coverage_pass_skips_named_topics() -> None:
    centroids = unit([[1, 0, 0], [0.95, 0.31, 0]])
    named = [NamedTopic("a", "d"), NamedTopic("b", "d")]
    vectors = unit([[1, 0, 0], [0.9, 0.43, 0]])
    names = name_topics(centroids, KEYTERMS, named, vectors, threshold=0.99, coverage_threshold=0.5)
    assert sorted(names.values()) == ["a", "b"]


def test_names_unique_and_topic_ids() -> None:
    centroids = unit([[1, 0], [1, 0.01], [1, 0.02]])
    same = {7: [("x", 1.0)], 8: [("x", 1.0)], 9: [("x", 1.0)]}
    names = name_topics(centroids, same, topic_ids=[7, 8, 9])
    assert names == {7: "x", 8: "x (2)", 9: "x (3)"}


def test_name_topics_errors() -> None:
    centroids = unit([[1, 0]])
    with pytest.raises(PaperatlasError, match="vectors"):
        name_topics(centroids, {}, [NamedTopic("a", "b")])
    with pytest.raises(PaperatlasError, match="shape"):
        name_topics(centroids, {}, [NamedTopic("a", "b")], unit([[1, 0, 0]]))
