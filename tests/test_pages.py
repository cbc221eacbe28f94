"""The Daily Papers page reader (paperatlas.corpus.pages) on the real seeds and on made-up pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paperatlas.corpus import read_papers
from paperatlas.corpus.model import Paper, title_id
from paperatlas.corpus.pages import PageDate, page_year, parse_date_line, parse_page, read_page
from paperatlas.corpus.textfile import read_text
from paperatlas.errors import InputError

ENTRIES_PER_PAGE = {"000": 46, "001": 42, "002": 195, "003": 46, "004": 89}

# The page header as the site prints it (layout a): lines 1-11, the first title on line 13.
HEADER_A = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
    "Daily Papers\n\nbyAK and the research community\n\nJan 16\n\n"
)
# Layout (b): two header lines, then the first title glued to "Subscribe" on line 3.
HEADER_B = "Get trending papers in your email inbox once a day!\nGet trending papers in your email inbox!\n"

ABSTRACT = "We study something at length and report results that are longer than the title. "


def entries(path: Path, year: int | None = None) -> list[tuple[int, Paper]]:
    return read_page(path, read_text(path), path.name, year=year)


def by_title(path: Path, title: str, year: int | None = None) -> tuple[int, Paper]:
    found = [(line, paper) for line, paper in entries(path, year) if paper.title == title]
    assert len(found) == 1, f"{title!r} found {len(found)} times on {path.name}"
    return found[0]


def write_page(tmp_path: Path, text: str, name: str = "page.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the real seed pages -------------------------------------------------------------------


@pytest.mark.parametrize("prefix, count", sorted(ENTRIES_PER_PAGE.items()))
def test_entries_per_seed_page(seed_page, prefix, count):
    assert len(entries(seed_page(prefix))) == count


def test_seed_folder_totals(seeds):
    corpus, report = read_papers([seeds])
    assert {Path(name).name[:3]: n for name, n in report.files.items()} == ENTRIES_PER_PAGE
    assert report.entries == 418
    assert report.merged == 68
    assert report.papers == len(corpus) == 350
    assert report.skipped == []


def test_every_seed_entry_has_title_and_longer_abstract(seeds):
    for path in sorted(seeds.glob("*.txt")):
        for line, paper in entries(path):
            assert paper.title and paper.abstract, (path.name, line)
            assert len(paper.abstract) > len(paper.title), (path.name, line)
            assert not paper.title.startswith("Subscribe")
            assert paper.title not in ("·", "new", "Daily Papers")
            assert paper.id == title_id(paper.title)
            assert paper.sources == (path.name,)
            assert paper.date is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", paper.date)


def test_layout_a_first_entry(seed_page):
    line, paper = entries(seed_page("000"))[0]
    assert line == 13
    assert paper.title == (
        "CLASH: Evaluating Language Models on Judging High-Stakes Dilemmas from Multiple Perspectives"
    )
    assert paper.abstract.startswith("Navigating high-stakes dilemmas involving conflicting values")
    assert paper.byline == "4 authors"
    assert (paper.date, paper.upvotes) == ("2025-04-14", 2)  # "Apr 14, 2025 2"
    assert paper.url is None and paper.arxiv_id is None
    assert paper.metadata == {}


def test_layout_a_organisation_byline(seed_page):
    line, paper = by_title(seed_page("000"), "Value Drifts: Tracing Value Alignment During LLM Post-Training")
    assert line == 61
    assert paper.byline == "McGill-NLP McGill NLP Group"
    assert (paper.date, paper.upvotes) == ("2025-10-30", 1)  # "Oct 30, 2025 1"


def test_yearless_date_with_upvotes_takes_page_year(seed_page):
    # "Jan 5 4" on page 000: January 5th of the page's year (2026), 4 upvotes
    line, paper = by_title(
        seed_page("000"),
        "Talk2Move: Reinforcement Learning for Text-Instructed Object-Level Geometric Transformation in Scenes",
    )
    assert line == 293
    assert paper.byline == "9 authors"
    assert (paper.date, paper.upvotes) == ("2026-01-05", 4)


def test_yearless_date_without_upvotes(seed_page):
    # "Sep 22" on page 004 (whose latest explicit year is 2024)
    line, paper = entries(seed_page("004"))[0]
    assert line == 13
    assert paper.title == "Exploiting Tree Structure for Credit Assignment in RL Training of LLMs"
    assert paper.byline == "3 authors"
    assert (paper.date, paper.upvotes) == ("2025-09-22", None)


def test_one_author_byline_is_singular(seed_page):
    line, paper = entries(seed_page("001"))[0]
    assert paper.title == "Dynamic Normativity: Necessary and Sufficient Conditions for Value Alignment"
    assert paper.byline == "1 author"  # the page says "• 1 authors"
    assert (paper.date, paper.upvotes) == ("2024-06-16", None)


def test_last_entries(seed_page):
    line, paper = entries(seed_page("001"))[-1]
    assert paper.title.startswith("Alignment and Safety in Large Language Models: Safety Mechanisms")
    assert (paper.byline, paper.date) == ("50 authors", "2025-07-25")
    line, paper = entries(seed_page("004"))[-1]
    assert line == 693
    assert paper.title == "Preference Learning Unlocks LLMs' Psycho-Counseling Skills"
    assert (paper.byline, paper.date, paper.upvotes) == ("3 authors", "2025-02-26", 2)


def test_entries_without_trailer_are_read(seeds, seed_page):
    missing = {
        path.name[:3]: sorted(p.title for _, p in entries(path) if p.byline is None)
        for path in sorted(seeds.glob("*.txt"))
        if path.name[:3] != "002"  # layout (b) pages have no trailers at all
    }
    assert sum(len(titles) for titles in missing.values()) == 7
    assert missing["001"] == [
        "Rethinking the Value of Agent-Generated Tests for LLM-Based Software Engineering Agents"
    ]
    assert missing["004"] == sorted(
        [
            "Temporal Self-Rewarding Language Models: Decoupling Chosen-Rejected via Past-Future",
            "LongRM: Revealing and Unlocking the Context Boundary of Reward Modeling",
            "RM-R1: Reward Modeling as Reasoning",
            "Technical Report: Full-Stack Fine-Tuning for the Q Programming Language",
            "Inference-Time Scaling for Generalist Reward Modeling",
            "SPARK: Synergistic Policy And Reward Co-Evolving Framework",
        ]
    )
    line, paper = by_title(seed_page("004"), "RM-R1: Reward Modeling as Reasoning")
    assert line == 405
    assert (paper.byline, paper.date, paper.upvotes) == (None, None, None)
    assert paper.abstract.startswith("Reward modeling is essential for aligning large language models")
    # the entry after it keeps its own trailer
    line, paper = by_title(
        seed_page("004"), "Transforming and Combining Rewards for Aligning Large Language Models"
    )
    assert line == 409
    assert (paper.byline, paper.date, paper.upvotes) == ("7 authors", "2024-02-01", 1)


def test_layout_b_page(seed_page):
    path = seed_page("002")
    assert path.read_text(encoding="utf-8").splitlines()[2].startswith(
        "SubscribeValue Kaleidoscope: Engaging AI"
    )
    found = entries(path)
    line, first = found[0]
    assert line == 3
    assert first.title == "Value Kaleidoscope: Engaging AI with Pluralistic Human Values, Rights, and Duties"
    assert first.abstract.startswith("Human values are crucial to human decision-making.")
    assert found[1][1].title == (
        "CIVICS: Building a Dataset for Examining Culturally-Informed Values in Large Language Models"
    )
    assert found[1][0] == 5  # alternating title / abstract lines
    line, last = found[-1]
    assert line == 391
    assert last.title == "RewardAnything: Generalizable Principle-Following Reward Models"
    assert all(
        (p.byline, p.date, p.upvotes) == (None, None, None) and p.metadata == {} for _, p in found
    )
    line, clash = by_title(
        path, "CLASH: Evaluating Language Models on Judging High-Stakes Dilemmas from Multiple Perspectives"
    )
    assert line == 193


# --- the page year ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix, year", [("000", 2026), ("001", 2026), ("002", None), ("003", 2026), ("004", 2025)]
)
def test_page_year_is_one_after_latest_explicit_year(seed_page, prefix, year):
    path = seed_page(prefix)
    assert page_year(parse_page(path, read_text(path))) == year


def test_page_year_override(seed_page):
    path = seed_page("004")
    _, paper = entries(path, year=2030)[0]
    assert paper.title == "Exploiting Tree Structure for Credit Assignment in RL Training of LLMs"
    assert paper.date == "2030-09-22"
    # CLASH is "Apr 14 2" on page 004 (year-less) and "Apr 14, 2025 2" on page 000
    clash = "CLASH: Evaluating Language Models on Judging High-Stakes Dilemmas from Multiple Perspectives"
    assert by_title(path, clash)[1].date == "2025-04-14"
    assert by_title(path, clash, year=2030)[1].date == "2030-04-14"
    # explicit years are kept as they are
    steering = "Steering Your Generalists: Improving Robotic Foundation Models via Value Guidance"
    _, paper = by_title(path, steering, year=2030)
    assert (paper.date, paper.upvotes) == ("2024-10-17", 1)  # "Oct 17, 2024 1"


def test_page_year_override_through_read_papers(seed_page):
    corpus, _ = read_papers([seed_page("000")], page_year=2031)
    talk = [p for p in corpus if p.title.startswith("Talk2Move:")]
    assert [p.date for p in talk] == ["2031-01-05"]


def test_page_year_inferred_per_page_not_per_folder(seeds):
    corpus, _ = read_papers([seeds])
    dates = {p.title: p.date for p in corpus}
    # 004's year-less dates are 2025 even though the other pages are 2026
    assert dates["Exploiting Tree Structure for Credit Assignment in RL Training of LLMs"] == "2025-09-22"
    assert dates[
        "Talk2Move: Reinforcement Learning for Text-Instructed Object-Level Geometric Transformation in Scenes"
    ] == "2026-01-05"


def test_yearless_dates_on_a_page_without_any_year(tmp_path):
    page = write_page(
        tmp_path,
        HEADER_A + "A Title\n\n" + ABSTRACT + "\n\n  • 2 authors\n·\nSep 22 3\n",
    )
    ((_, paper),) = entries(page)
    assert (paper.date, paper.upvotes) == (None, 3)
    assert paper.metadata == {"date_text": "Sep 22 3"}
    ((_, paper),) = entries(page, year=2024)
    assert (paper.date, paper.upvotes) == ("2024-09-22", 3)
    assert paper.metadata == {}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Apr 14, 2025 2", PageDate(4, 14, 2025, 2)),
        ("Sep 22", PageDate(9, 22, None, None)),
        ("Jan 5 4", PageDate(1, 5, None, 4)),
        ("Oct 17, 2024", PageDate(10, 17, 2024, None)),
        ("  Dec 1  ", PageDate(12, 1, None, None)),
        ("September 22", None),
        ("Sep 22,2025", None),
        ("4 authors", None),
        ("·", None),
    ],
)
def test_parse_date_line(text, expected):
    assert parse_date_line(text) == expected


# --- made-up pages ------------------------------------------------------------------------


def test_synthetic_layout_a_page(tmp_path):
    text = (
        HEADER_A
        + "First Paper\n\n" + ABSTRACT + "one\n\n  • 1 authors\n·\nMar 3, 2024 7\n\n"  # lines 13-19
        + "Second Paper\n\n" + ABSTRACT + "two\n\nSome Lab\n·\nFeb 29\n\n"  # lines 21-27
        + "Third Paper\n\n" + ABSTRACT + "three\n"  # lines 29-31, no trailer
    )
    found = entries(write_page(tmp_path, text))
    assert [(line, p.title) for line, p in found] == [
        (13, "First Paper"),
        (21, "Second Paper"),
        (29, "Third Paper"),
    ]
    first, second, third = (p for _, p in found)
    assert (first.byline, first.date, first.upvotes) == ("1 author", "2024-03-03", 7)
    # the page year is 2025: Feb 29 does not exist in it, so no date
    assert (second.byline, second.date, second.upvotes) == ("Some Lab", None, None)
    assert second.metadata == {"date_text": "Feb 29"}
    assert (third.byline, third.date) == (None, None)
    assert third.abstract == ABSTRACT.strip() + " three"


def test_crlf_page_reads_like_lf(tmp_path, seed_page):
    source = seed_page("000").read_text(encoding="utf-8")
    path = tmp_path / "crlf.txt"
    path.write_bytes(source.replace("\n", "\r\n").encode("utf-8"))
    crlf = [(line, p.title, p.byline, p.date) for line, p in entries(path)]
    lf = [(line, p.title, p.byline, p.date) for line, p in entries(seed_page("000"))]
    assert crlf == lf


@pytest.mark.parametrize(
    "text",
    [
        "hello world\nthis is not a Daily Papers page at all\n",
        HEADER_A,  # only the header
        "Just one line",
    ],
)
def test_no_recognisable_entries(tmp_path, text):
    path = write_page(tmp_path, text, name="notapage.txt")
    with pytest.raises(InputError) as info:
        read_papers([path])
    assert info.value.path == str(path)
    assert "no recognisable Daily Papers entries" in str(info.value)
    assert str(info.value).startswith(f"{path}: ")


def test_separator_not_followed_by_a_date(tmp_path):
    text = HEADER_A + "A Title\n\n" + ABSTRACT + "\n\n  • 2 authors\n·\nnot a date at all\n"
    path = write_page(tmp_path, text)
    assert text.splitlines()[18] == "not a date at all"  # line 19
    with pytest.raises(InputError) as info:
        read_papers([path])
    assert info.value.line == 19
    assert str(info.value) == f"{path}:19: expected a date line after '·'"


def test_separator_at_end_of_page(tmp_path):
    text = HEADER_A + "A Title\n\n" + ABSTRACT + "\n\n  • 2 authors\n·\n"
    with pytest.raises(InputError, match="expected a date line after '·'") as info:
        read_papers([write_page(tmp_path, text)])
    assert info.value.line is not None and info.value.line >= 18


def test_layout_b_title_without_abstract(tmp_path):
    text = HEADER_B + "SubscribeTitle One\n" + ABSTRACT + "\nTitle Two\n"
    path = write_page(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_papers([path])
    assert info.value.line == 5
    assert "title without an abstract" in str(info.value)
    assert str(info.value).startswith(f"{path}:5: ")


def test_layout_b_page_parses(tmp_path):
    text = HEADER_B + "SubscribeTitle One\n" + ABSTRACT + "1\nTitle Two\n" + ABSTRACT + "2\n"
    found = entries(write_page(tmp_path, text))
    assert [(line, p.title, p.abstract[-1]) for line, p in found] == [
        (3, "Title One", "1"),
        (5, "Title Two", "2"),
    ]


def test_two_titles_in_a_row_are_an_error(tmp_path):
    # a long title followed by a short one cannot be a title and its abstract
    text = HEADER_A + "A rather long title that goes on and on\n\nShort title\n\n" + ABSTRACT + "\n"
    with pytest.raises(InputError, match="expected a title followed by its longer abstract") as info:
        read_papers([write_page(tmp_path, text)])
    assert info.value.line == 13
