"""Merging duplicate papers (paperatlas.corpus.dedupe)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from paperatlas.corpus import normalise_title, read_papers
from paperatlas.corpus.dedupe import dedupe, merge
from paperatlas.corpus.model import Paper
from paperatlas.corpus.pages import read_page
from paperatlas.corpus.textfile import read_text
from paperatlas.errors import PaperatlasError

ABSTRACT = "An abstract long enough to be an abstract, about the paper."


def paper(id: str, title: str, **fields) -> Paper:
    return Paper(id=id, title=title, abstract=fields.pop("abstract", ABSTRACT), **fields)


@pytest.mark.parametrize(
    "a, b",
    [
        ("Attention Is All You Need", "attention is all you need"),
        ("Attention Is All You Need", "Attention is all you need!"),
        ("Attention Is All You Need", "  Attention   is\tall you\nneed  "),
        ("Self-Rewarding Language Models", "Self Rewarding Language Models"),
        ("COS(M+O)S: Story Space", "COS M O S  Story Space"),
        ("Café Résumé", "cafe resume"),
        ("snake_case_title", "Snake Case Title"),
        ("Straße", "STRASSE"),
    ],
)
def test_normalise_title_folds(a, b):
    assert normalise_title(a) == normalise_title(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("Attention Is All You Need", "Attention Is Not All You Need"),
        ("GPT-4 Technical Report", "GPT-3 Technical Report"),
        ("Value Learning", "Valuelearning"),
    ],
)
def test_normalise_title_keeps_different_titles_apart(a, b):
    assert normalise_title(a) != normalise_title(b)


def test_normalise_title_value():
    assert normalise_title("  Hello, World -- A  (Test)! ") == "hello world a test"


def test_dedupe_merges_case_punctuation_whitespace_variants():
    papers = [
        paper("a", "Attention Is All You Need", sources=("one.txt",)),
        paper("b", "Graph Networks", sources=("one.txt",)),
        paper("c", "attention is all you need.", sources=("two.txt",)),
        paper("d", "Attention  is  all-you need", sources=("three.txt",)),
    ]
    unique, merged = dedupe(papers)
    assert merged == 2
    assert [p.title for p in unique] == ["Attention Is All You Need", "Graph Networks"]  # first-seen order
    assert unique[0].sources == ("one.txt", "two.txt", "three.txt")


def test_dedupe_without_duplicates_returns_papers_unchanged():
    papers = [paper("a", "One"), paper("b", "Two"), paper("c", "Three")]
    unique, merged = dedupe(papers)
    assert merged == 0
    assert unique == papers


def test_sources_united_in_order_without_repeats():
    group = [
        paper("a", "Same Title", sources=("p2.txt", "p1.txt")),
        paper("b", "same title", sources=("p1.txt", "p3.txt")),
        paper("c", "SAME TITLE", sources=("p4.txt",)),
    ]
    assert merge(group).sources == ("p2.txt", "p1.txt", "p3.txt", "p4.txt")


def test_richest_record_kept_and_gaps_filled():
    bare = paper("t-bare", "A Paper", sources=("b.txt",))
    dated = paper(
        "t-dated", "A paper", date="2024-01-02", upvotes=3, byline="4 authors", sources=("a.txt",)
    )
    linked = paper("2401.00001", "A PAPER", url="https://arxiv.org/abs/2401.00001", sources=("c.jsonl",))
    merged = merge([bare, dated, linked])
    # the record with the most known fields wins: its id, title and values
    assert (merged.id, merged.title) == ("t-dated", "A paper")
    assert (merged.date, merged.upvotes, merged.byline) == ("2024-01-02", 3, "4 authors")
    # and its gaps are filled from the others
    assert merged.url == "https://arxiv.org/abs/2401.00001"
    assert merged.arxiv_id is None
    assert merged.sources == ("b.txt", "a.txt", "c.jsonl")


def test_longer_abstract_breaks_ties():
    short = paper("s", "Tie", abstract="A short abstract here.")
    long = paper("l", "tie", abstract="A much longer abstract that says a great deal more.")
    merged = merge([short, long])
    assert merged.id == "l"
    assert merged.abstract == long.abstract
    assert merged.content_hash == long.content_hash


def test_gap_filled_from_first_record_that_has_it():
    base = paper("base", "T", date="2020-01-01", byline="2 authors", upvotes=1)
    first = paper("x", "t", url="https://first.example")
    second = paper("y", "t", url="https://second.example")
    assert merge([base, first, second]).url == "https://first.example"


def test_metadata_merged_with_richest_record_winning():
    base = paper("a", "Meta", date="2021-01-01", byline="3 authors", metadata={"label": "base", "x": 1})
    other = paper("b", "meta", metadata={"label": "other", "extra": [1, 2]})
    third = paper("c", "META", metadata={"extra": "ignored", "more": "kept"})
    merged = merge([other, base, third])
    assert merged.id == "a"
    assert dict(merged.metadata) == {"label": "base", "x": 1, "extra": [1, 2], "more": "kept"}


def test_same_id_for_two_different_titles_is_an_error():
    with pytest.raises(PaperatlasError, match="paper id 'x1' is used by two different titles") as info:
        dedupe([paper("x1", "First Title"), paper("x1", "Second Title")])
    assert "'First Title'" in str(info.value) and "'Second Title'" in str(info.value)


def test_same_id_same_title_is_merged():
    unique, merged = dedupe([paper("x1", "First Title", sources=("a",)), paper("x1", "first title", sources=("b",))])
    assert merged == 1
    assert [p.sources for p in unique] == [("a", "b")]


def test_same_id_different_titles_from_files(tmp_path):
    path = tmp_path / "clash.jsonl"
    path.write_text(
        json.dumps({"id": "dup", "title": "One Title", "abstract": ABSTRACT})
        + "\n"
        + json.dumps({"id": "dup", "title": "Another Title", "abstract": ABSTRACT})
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(PaperatlasError, match="'dup' is used by two different titles"):
        read_papers([path])


# --- on the real seeds ----------------------------------------------------------------------


def test_seed_duplicates_list_every_page(seeds):
    corpus, report = read_papers([seeds])
    pages_of: dict[str, list[str]] = {}
    entries = 0
    for path in sorted(seeds.glob("*.txt")):
        for _, found in read_page(path, read_text(path), path.as_posix()):
            pages_of.setdefault(normalise_title(found.title), []).append(path.as_posix())
            entries += 1
    assert entries == 418 and len(pages_of) == 350
    for merged in corpus:
        assert list(merged.sources) == list(dict.fromkeys(pages_of[normalise_title(merged.title)]))
    assert sum(len(p.sources) - 1 for p in corpus) == report.merged == 68
    counts = Counter(len(p.sources) for p in corpus)
    assert counts[1] == 350 - 37 and sum(counts.values()) == 350


def test_seed_paper_on_four_pages(seeds):
    corpus, _ = read_papers([seeds])
    (clash,) = [p for p in corpus if p.title.startswith("CLASH:")]
    assert [Path(s).name[:3] for s in clash.sources] == ["000", "001", "002", "004"]
    # the dated layout-(a) record wins over the bare layout-(b) one
    assert (clash.byline, clash.date, clash.upvotes) == ("4 authors", "2025-04-14", 2)
    (drifts,) = [p for p in corpus if p.title.startswith("Value Drifts:")]
    assert [Path(s).name[:3] for s in drifts.sources] == ["000", "001"]
    assert drifts.byline == "McGill-NLP McGill NLP Group"


def test_seed_layout_b_only_papers_stay_bare(seeds):
    corpus, _ = read_papers([seeds])
    only_b = [p for p in corpus if [Path(s).name[:3] for s in p.sources] == ["002"]]
    assert only_b, "page 002 has papers found on no other page"
    assert all((p.byline, p.date, p.upvotes) == (None, None, None) for p in only_b)
    ids = [p.id for p in corpus]
    assert len(set(ids)) == len(ids)
