"""Paper and Corpus (paperatlas.corpus.model)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from paperatlas.corpus import Corpus, Paper, content_hash, read_corpus
from paperatlas.corpus.model import PAPER_COLUMNS, clean_text, paper_from_record, title_id
from paperatlas.errors import PaperatlasError

ABSTRACT = "We propose a method and show that it works on several benchmarks."


def make(id: str = "p1", title: str = "A Title", abstract: str = ABSTRACT, **fields) -> Paper:
    return Paper(id=id, title=title, abstract=abstract, **fields)


def sample_corpus() -> Corpus:
    return Corpus(
        [
            make(
                "p1",
                "First Paper",
                date="2024-05-06",
                upvotes=7,
                byline="3 authors",
                url="https://example.org/1",
                arxiv_id="2405.00001",
                sources=("a.txt", "b.jsonl"),
                metadata={"label": "nlp", "tags": ["x", "y"]},
            ),
            make("p2", "Second Paper", "Another abstract, quite different.", sources=("a.txt",)),
            make("p3", "Third Paper", "A third abstract.", upvotes=0, metadata={"score": 1.5}),
        ]
    )


# --- Paper ----------------------------------------------------------------------------------


def test_content_hash_is_sha256_of_clean_title_and_abstract():
    expected = hashlib.sha256(f"A Title\n{ABSTRACT}".encode("utf-8")).hexdigest()[:24]
    assert content_hash("A Title", ABSTRACT) == expected
    assert make().content_hash == expected


def test_content_hash_stable_and_whitespace_insensitive():
    assert make().content_hash == make().content_hash
    assert make(title="  A \n Title ").content_hash == make().content_hash
    assert len(make().content_hash) == 24
    int(make().content_hash, 16)  # hex


def test_content_hash_changes_with_text_only():
    base = make().content_hash
    assert make(title="A Title!").content_hash != base
    assert make(abstract=ABSTRACT + " More.").content_hash != base
    # title and abstract are not interchangeable
    assert content_hash("ab", "c") != content_hash("a", "bc")
    # the other fields do not enter the hash
    assert make(id="other", date="2020-01-01", upvotes=5, metadata={"k": 1}).content_hash == base


def test_given_content_hash_is_kept():
    assert make(content_hash="abc").content_hash == "abc"


def test_text_is_title_dot_abstract():
    assert make().text == "A Title. " + ABSTRACT
    assert sample_corpus().texts() == [p.title + ". " + p.abstract for p in sample_corpus()]


def test_sources_become_a_tuple():
    paper = make(sources=["a.txt", "b.txt"])
    assert paper.sources == ("a.txt", "b.txt")
    hash(paper.sources)


def test_paper_is_frozen_and_with_changes_copies():
    paper = make()
    with pytest.raises(AttributeError):
        paper.title = "Other"  # type: ignore[misc]
    changed = paper.with_changes(date="2024-01-01")
    assert (paper.date, changed.date) == (None, "2024-01-01")
    assert changed.title == paper.title


def test_clean_text_and_title_id():
    assert clean_text("  a\n\n b\t c  ") == "a b c"
    assert title_id("Attention Is All You Need") == title_id("attention is all you need!")
    assert title_id("Attention Is All You Need").startswith("t-")
    assert len(title_id("x")) == 2 + 12
    assert title_id("One Title") != title_id("Another Title")


def test_to_record_is_flat():
    record = sample_corpus()[0].to_record()
    assert list(record) == list(PAPER_COLUMNS) + ["label", "tags"]
    assert record["sources"] == ["a.txt", "b.jsonl"]
    json.dumps(record)


def test_paper_from_record_sources_spellings():
    base = {"id": "x", "title": "T", "abstract": ABSTRACT}
    assert paper_from_record({**base, "sources": ["a", "b"]}).sources == ("a", "b")
    assert paper_from_record({**base, "sources": '["a", "b"]'}).sources == ("a", "b")
    assert paper_from_record({**base, "sources": "a|b"}).sources == ("a", "b")
    assert paper_from_record({**base, "sources": None}).sources == ()
    assert paper_from_record({**base, "date": "2024-02-03T10:00:00"}).date == "2024-02-03"
    assert paper_from_record({**base, "upvotes": 4.0}).upvotes == 4
    assert paper_from_record({**base, "label": float("nan"), "keep": "me"}).metadata == {"keep": "me"}


# --- Corpus ---------------------------------------------------------------------------------


def test_corpus_lookup():
    corpus = sample_corpus()
    assert len(corpus) == 3
    assert corpus.ids == ["p1", "p2", "p3"]
    assert corpus.get("p2").title == "Second Paper"
    assert [corpus.row(i) for i in ("p1", "p2", "p3")] == [0, 1, 2]
    assert corpus[2].id == "p3" and corpus[-1].id == "p3"
    assert "p1" in corpus and "nope" not in corpus
    assert corpus[0] in corpus
    assert [p.id for p in corpus] == corpus.ids
    with pytest.raises(KeyError):
        corpus.get("nope")
    with pytest.raises(KeyError):
        corpus.row("nope")
    assert repr(corpus) == "Corpus(3 papers)"


def test_corpus_slice_is_a_corpus():
    part = sample_corpus()[1:]
    assert isinstance(part, Corpus)
    assert part.ids == ["p2", "p3"]
    assert part.row("p2") == 0


def test_duplicate_ids_rejected():
    with pytest.raises(PaperatlasError, match="duplicate paper id 'p1'"):
        Corpus([make("p1", "One"), make("p2", "Two"), make("p1", "Three")])


def test_empty_corpus():
    corpus = Corpus()
    assert len(corpus) == 0 and corpus.ids == []
    assert list(corpus.to_frame().columns) == list(PAPER_COLUMNS)


def test_metadata_columns_in_first_seen_order():
    assert sample_corpus().metadata_columns() == ["label", "tags", "score"]


def test_to_frame():
    frame = sample_corpus().to_frame()
    assert list(frame.columns) == list(PAPER_COLUMNS) + ["label", "tags", "score"]
    assert frame["id"].tolist() == ["p1", "p2", "p3"]
    assert str(frame["upvotes"].dtype) == "Int64"
    assert frame["upvotes"].tolist()[0] == 7 and pd.isna(frame["upvotes"][1]) and frame["upvotes"][2] == 0
    assert frame["sources"].tolist() == [["a.txt", "b.jsonl"], ["a.txt"], []]
    assert frame["label"].tolist()[0] == "nlp" and pd.isna(frame["label"][1])
    assert frame["content_hash"].tolist() == [p.content_hash for p in sample_corpus()]


def test_frame_round_trip():
    corpus = sample_corpus()
    again = Corpus.from_frame(corpus.to_frame())
    assert list(again) == list(corpus)
    assert again.get("p1").metadata == {"label": "nlp", "tags": ["x", "y"]}
    assert again.get("p2").metadata == {}
    assert again.get("p3").upvotes == 0
    assert again.get("p1").sources == ("a.txt", "b.jsonl")


def test_frame_round_trip_through_parquet(tmp_path):
    corpus = sample_corpus()
    path = tmp_path / "c.parquet"
    corpus.to_frame().to_parquet(path, index=False)
    assert list(Corpus.from_frame(pd.read_parquet(path))) == list(corpus)


def test_frame_round_trip_of_seeds(seeds):
    corpus = read_corpus(seeds)
    assert list(Corpus.from_frame(corpus.to_frame())) == list(corpus)


def test_to_jsonl(tmp_path):
    path = tmp_path / "c.jsonl"
    sample_corpus().to_jsonl(path)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["p1", "p2", "p3"]
    assert records[0]["tags"] == ["x", "y"] and "tags" not in records[1]
    assert list(Corpus(paper_from_record(r) for r in records)) == list(sample_corpus())
    # read back through the JSONL reader, the papers are the same; a paper with no
    # sources gets the file it was read from
    again = read_corpus(path)
    assert list(again[:2]) == list(sample_corpus()[:2])
    assert again[2] == sample_corpus()[2].with_changes(sources=(path.as_posix(),))
