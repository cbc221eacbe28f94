"""paperatlas.text_table: cells cut with '…', tables that fit a width, plurals."""

from __future__ import annotations

import pytest

from paperatlas.text_table import Column, column_widths, cut, format_table, plural, shorten, terminal_width


def test_plural() -> None:
    assert [plural(n, "paper") for n in (0, 1, 2)] == ["0 papers", "1 paper", "2 papers"]
    assert plural(1, "query", "queries") == "1 query" and plural(3, "query", "queries") == "3 queries"


def test_cut_and_shorten_end_in_an_ellipsis_within_the_width() -> None:
    assert cut("abcdef", 6) == "abcdef" and cut("abcdefg", 6) == "abcde…"
    text = "Reward models  trained on\nhuman preference data"
    short = shorten(text, 20)
    assert short == "Reward models…" and len(short) <= 20  # whole words, whitespace collapsed
    assert shorten(text, 100) == "Reward models trained on human preference data"
    assert shorten("Supercalifragilistic words", 8) == "Superca…"  # a first word longer than the width
    assert shorten("one, two, three", 10) == "one, two…"  # no dangling comma


def test_terminal_width_reads_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "123")
    assert terminal_width() == 123


COLUMNS = [
    Column("id", "id", min_width=None),
    Column("score", "score", min_width=None, align=">"),
    Column("title", "title", min_width=20),
    Column("topic", "topic", max_width=20, min_width=8),
    Column("why", "why", max_width=30, min_width=8, optional=True, words=True),
]
ROWS = [
    {"id": "t-0123456789ab", "score": "0.812", "title": "A rather long title about reward models " * 3,
     "topic": "reward modeling and preference learning", "why": ["reward model", "preference", "annotators"]},
    {"id": "t-ba9876543210", "score": "0.5", "title": "Short", "topic": None, "why": []},
]


@pytest.mark.parametrize("width", [60, 70, 90, 120, 200])
def test_a_table_fits_the_width_and_titles_get_the_spare_room(width: int) -> None:
    lines = format_table(ROWS, COLUMNS, width=width).splitlines()
    assert max(map(len, lines)) <= width
    assert "t-0123456789ab" in lines[1] and "t-ba9876543210" in lines[2]  # ids are never cut
    assert lines[1].split()[1] == "0.812" and lines[2].split()[1] == "0.5"
    assert "…" in lines[1]  # the long title is cut with an ellipsis
    if width >= 120:
        assert "why" in lines[0] and "reward model" in lines[1]


def test_titles_widen_with_the_terminal() -> None:
    narrow, wide = (format_table(ROWS, COLUMNS, width=w).splitlines()[1] for w in (90, 160))
    title_in = [line.split("  ")[2] for line in (narrow, wide)]
    assert len(title_in[1]) > len(title_in[0])


def test_an_optional_column_goes_when_even_its_narrowest_line_is_too_long() -> None:
    assert "why" in format_table(ROWS, COLUMNS, width=70).splitlines()[0]
    lines = format_table(ROWS, COLUMNS, width=60).splitlines()
    assert "why" not in lines[0] and "annotators" not in lines[1]


def test_headings_are_cut_with_an_ellipsis() -> None:
    columns = [Column("a", "a very long heading", max_width=6, min_width=4), Column("b", "b", min_width=None)]
    lines = format_table([{"a": "x", "b": "y"}], columns, width=80).splitlines()
    assert lines[0] == "a ver…  b"


def test_fixed_columns_keep_their_width_on_a_tiny_terminal() -> None:
    widths = column_widths([14, 5, 60], [Column("id", "id", min_width=None), Column("s", "s", min_width=None),
                                         Column("t", "t", min_width=10)], width=20)
    assert widths == [14, 5, 10]


def test_lines_below_a_row() -> None:
    text = format_table(ROWS[:1], COLUMNS, width=120, below=lambda row: ["first", "second"])
    assert text.splitlines()[2:] == ["    first", "    second"]


def test_an_optional_column_gives_way_to_a_column_that_wants_more_room() -> None:
    columns = [Column("title", "title", min_width=10, want=40), Column("why", "why", min_width=10, optional=True)]
    row = {"title": "t" * 60, "why": "w" * 30}
    assert format_table([row], columns, width=100).splitlines()[0].split() == ["title", "why"]
    narrow = format_table([row], columns, width=60).splitlines()
    assert narrow[0].split() == ["title"] and len(narrow[1]) == 60  # the title takes the whole line
