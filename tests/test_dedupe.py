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


# --- the same paper, never two papers, every id kept (issue 14) ---------------------------------

from paperatlas.corpus.dedupe import AGREEMENT, abstract_similarity, dedupe_with_merges  # noqa: E402
from paperatlas.corpus.model import Corpus, title_id  # noqa: E402
from paperatlas.corpus.records import FieldNames  # noqa: E402

LONG = ("We introduce a retrieval method that maps queries and documents written in different languages into "
        "one shared vector space, and show on six benchmarks that it beats translation-based baselines while "
        "using a tenth of the compute.")
UNRELATED = {
    "Hybrid Monte Carlo": (
        "We propose a hybrid Monte Carlo sampler that combines Hamiltonian dynamics with a Metropolis acceptance "
        "step to simulate lattice field theories with dynamical fermions.",
        "Bayesian neural networks are trained by sampling their weights with gradient information; our sampler "
        "improves posterior estimates on regression benchmarks."),
    "Twitter Sentiment Analysis": (
        "Twitter users post short messages; we classify their sentiment with a lexicon and a support vector "
        "machine trained on emoticon-labelled tweets.",
        "We release a corpus of annotated tweets about elections in three languages and evaluate transformer "
        "models on it, finding that sarcasm remains the main source of errors."),
    "Cross Language Information Retrieval": (
        LONG,
        "This thesis studies how query translation with bilingual dictionaries affects the recall of search "
        "engines for Hindi and Bengali users, and proposes a transliteration step."),
}


def garble(text: str, every: int = 20) -> str:
    """OCR-like noise: every ``every``-th letter replaced (5% of them by default)."""
    chars = list(text)
    letters = [i for i, ch in enumerate(chars) if ch.isalpha()]
    for n, i in enumerate(letters[::every]):
        chars[i] = "rn"[n % 2] if chars[i] != "r" else "n"
    return "".join(chars)


def write_records(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("variant", [
    LONG,
    "Abstract: " + LONG,
    "ABSTRACT. " + LONG,
    "Summary — " + LONG,
    LONG.replace("re", "re-\n").replace("fi", "\ufb01").replace("  ", " "),  # hyphenated lines, a ligature
    garble(LONG),
    "Abstract " + garble(LONG.lower()),
])
def test_same_title_and_agreeing_abstracts_merge_keeping_the_other_id(variant):
    assert abstract_similarity(LONG, variant) >= AGREEMENT
    unique, merges = dedupe_with_merges([
        paper("2401.1", "Cross-Language Retrieval in One Space", abstract=LONG, date="2024-01-02"),
        paper("doi:10/xyz", "cross language retrieval in one space", abstract=variant),
    ])
    assert len(unique) == 1 and unique[0].id == "2401.1" and unique[0].aliases == ("doi:10/xyz",)
    (merge_,) = merges
    assert (merge_.id, merge_.aliases, merge_.records) == ("2401.1", ("doi:10/xyz",), 2)
    assert merge_.rules == ("same title, abstracts agree",)
    assert "aliases doi:10/xyz" in merge_.describe()


def test_the_threshold_separates_noise_from_other_papers():
    for first, second in UNRELATED.values():
        assert abstract_similarity(first, second) < 0.15
    assert abstract_similarity(LONG, garble(LONG, every=12)) >= AGREEMENT  # even 1 letter in 12 garbled
    assert abstract_similarity(LONG, LONG[: len(LONG) // 3]) < AGREEMENT  # a third of it is not the abstract
    assert abstract_similarity("", LONG) == 1.0  # nothing to disagree with


def test_same_generic_title_and_unrelated_abstracts_stay_two_papers(tmp_path):
    records = [{"id": f"{title[:3]}-{i}", "title": title if i else title.upper(), "abstract": text}
               for title, pair in UNRELATED.items() for i, text in enumerate(pair)]
    corpus, report = read_papers([write_records(tmp_path / "ids.jsonl", records)])
    assert len(corpus) == 6 and report.merged == 0 and report.merges == [] and report.kept_apart == 6
    assert sorted(corpus.ids) == sorted(r["id"] for r in records)  # each keeps its own id
    for record in records:
        assert corpus.get(record["id"]).abstract == record["abstract"]
        assert corpus.get(record["id"]).aliases == ()
    assert "kept 6 papers with a shared title apart" in report.summary()
    unique, merged = dedupe(paper(r["id"], r["title"], abstract=r["abstract"]) for r in records)
    assert merged == 0 and [p.id for p in unique] == [r["id"] for r in records]


def test_same_id_is_one_paper_whatever_the_abstracts(tmp_path):
    first, second = UNRELATED["Hybrid Monte Carlo"]
    records = [{"id": "hmc", "title": "Hybrid Monte Carlo", "abstract": first, "date": "2001-02-03"},
               {"id": "hmc", "title": "hybrid monte carlo", "abstract": second}]
    corpus, report = read_papers([write_records(tmp_path / "same.jsonl", records)])
    assert len(corpus) == 1 and corpus[0].aliases == () and report.merged == 1
    assert report.merges[0].rules == ("same id",)
    unique, merges = dedupe_with_merges(paper(r["id"], r["title"], abstract=r["abstract"]) for r in records)
    assert len(unique) == 1 and merges[0].rules == ("same id",)


def test_inputs_without_ids_merge_by_title(tmp_path):
    first, second = UNRELATED["Twitter Sentiment Analysis"]
    records = [{"title": "Twitter Sentiment Analysis", "abstract": first},
               {"title": "twitter sentiment analysis!", "abstract": second}]
    path = write_records(tmp_path / "no-ids.jsonl", records)
    corpus, report = read_papers([path])
    assert len(corpus) == 1 and corpus[0].id == title_id("Twitter Sentiment Analysis")
    assert corpus[0].aliases == () and report.merged == 1  # the derived ids are one id
    # ids the input has, but --id-field '' derives ids from titles: merged by title too
    with_ids = write_records(tmp_path / "ids.jsonl", [dict(r, id=f"x{i}") for i, r in enumerate(records)])
    assert len(read_papers([with_ids])[0]) == 2
    assert len(read_papers([with_ids], fields=FieldNames(id=""))[0]) == 1


def test_a_record_without_id_joins_the_paper_with_an_id(tmp_path):
    first, second = UNRELATED["Hybrid Monte Carlo"]
    page = {"title": "Hybrid Monte Carlo", "abstract": "Abstract: " + first, "upvotes": 4}
    one = [page, {"id": "hmc-1", "title": "Hybrid Monte Carlo", "abstract": second}]
    corpus, report = read_papers([write_records(tmp_path / "one.jsonl", one)])
    (merged,) = corpus  # the only same-title paper with an id: merged by title
    assert set((merged.id, *merged.aliases)) == {"hmc-1", title_id("Hybrid Monte Carlo")}
    assert report.merges[0].rules == ("same title, no id of its own",)
    two = one + [{"id": "hmc-0", "title": "Hybrid Monte Carlo", "abstract": first}]
    corpus, _ = read_papers([write_records(tmp_path / "two.jsonl", two)])
    assert len(corpus) == 2  # of two papers with ids, it joins the one whose abstract agrees
    assert corpus.get(title_id("Hybrid Monte Carlo")).id in ("hmc-0", title_id("Hybrid Monte Carlo"))
    assert corpus.row(title_id("Hybrid Monte Carlo")) == corpus.row("hmc-0") != corpus.row("hmc-1")
    page_alone = dict(page, abstract="An unrelated study of something else entirely, about birds.")
    corpus, _ = read_papers([write_records(tmp_path / "three.jsonl", two[1:] + [page_alone])])
    assert len(corpus) == 3  # agrees with neither: a paper of its own, under its derived id


def test_merged_away_ids_resolve_to_the_paper(tmp_path):
    records = [{"id": "a", "title": "Shared Title", "abstract": LONG},
               {"id": "b", "title": "Shared title.", "abstract": "Abstract: " + LONG, "url": "https://b", "upvotes": 2},
               {"id": "c", "title": "SHARED TITLE", "abstract": garble(LONG)}]
    corpus, report = read_papers([write_records(tmp_path / "three.jsonl", records)])
    (merged,) = corpus
    assert merged.id == "b" and merged.aliases == ("a", "c") and report.merged == 2
    for name in "abc":
        assert name in corpus and corpus.row(name) == 0 and corpus.get(name) == merged
    assert "d" not in corpus
    with pytest.raises(KeyError):
        corpus.row("d")
    assert corpus.column("aliases") == [("a", "c")]


def test_an_alias_used_by_another_title_is_an_error(tmp_path):
    records = [{"id": "x", "title": "First Title", "abstract": LONG, "aliases": ["old-1"]},
               {"id": "old-1", "title": "Second Title", "abstract": LONG}]
    with pytest.raises(PaperatlasError, match="paper id 'old-1' is used by two different titles"):
        read_papers([write_records(tmp_path / "clash.jsonl", records)])
    with pytest.raises(PaperatlasError, match="'old-1' is used by two different titles"):
        dedupe([paper("x", "First Title", aliases=("old-1",)), paper("old-1", "Second Title")])


def test_a_corpus_refuses_an_alias_that_names_another_paper():
    with pytest.raises(PaperatlasError, match="duplicate paper id 'b'"):
        Corpus([paper("a", "One", aliases=("b",)), paper("b", "Two")])
    with pytest.raises(PaperatlasError, match="duplicate paper id 'z'"):
        Corpus([paper("a", "One", aliases=("z",)), paper("b", "Two", aliases=("z",))])


def test_input_aliases_are_read_and_match_other_records(tmp_path):
    """A re-ingested file keeps its aliases, and a record under an alias is the same paper."""
    records = [{"id": "a", "title": "Shared Title", "abstract": LONG, "aliases": ["old"]},
               {"id": "old", "title": "shared title", "abstract": "Completely different words here, nothing shared."}]
    corpus, report = read_papers([write_records(tmp_path / "again.jsonl", records)])
    (merged,) = corpus
    assert merged.id == "a" and merged.aliases == ("old",) and report.merges[0].rules == ("same id",)
    csv_path = tmp_path / "aliases.csv"
    csv_path.write_text('id,title,abstract,aliases\nq,Some Title,An abstract.,"[""q-old"", ""q-older""]"\n'
                        "r,Other Title,Another abstract.,\n", encoding="utf-8")
    corpus, _ = read_papers([csv_path])
    assert corpus.get("q-older").id == "q" and corpus.get("r").aliases == ()
    assert "aliases" not in corpus.get("q").metadata
