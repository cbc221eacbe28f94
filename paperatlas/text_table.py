"""Plain-text output for people: tables that fit the terminal, cut text, plurals.

The CLI's commands print their human tables with :func:`format_table`; JSON
output never goes through here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

ELLIPSIS = "…"
DEFAULT_WIDTH = 100
"""Width used when the output is not a terminal and ``COLUMNS`` is not set."""


def terminal_width(default: int = DEFAULT_WIDTH) -> int:
    """Columns of the terminal (``COLUMNS`` wins), or ``default`` when there is none."""
    return shutil.get_terminal_size((default, 24)).columns


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``"1 paper"``, ``"2 papers"`` (``nouns`` for irregular plurals)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in '…' when cut."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS if width > 0 else ""


def shorten(text: str, width: int) -> str:
    """``text`` with whitespace collapsed, cut at a word boundary to at most ``width``
    characters ending in '…' (mid-word only when the first word is longer than ``width``)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    head = text[: max(width - 1, 0) + 1]
    space = head.rfind(" ")
    head = head[:space] if space > 0 else head[: max(width - 1, 0)]
    return head.rstrip(" ,;:.-–—(") + ELLIPSIS


@dataclass(frozen=True)
class Column:
    """One column of a :func:`format_table`.

    Attributes:
        key: the row field shown.
        heading: the column's heading (cut with '…' when the column is narrower).
        max_width: the widest the column gets (None: as wide as its widest cell).
        min_width: the narrowest it is cut to when the line is too long; None: never
            cut (ids, dates, scores).
        optional: left out when the table cannot fit the width with it, or when a column
            would get less than its ``want``; the last optional column goes first.
        want: the width this column would rather have than an optional column kept
            (the title's, say; None: no claim).
        align: "<" (left) or ">" (right, for numbers).
        words: cut cells at a word boundary (lists of terms), not mid-word.
        show: turns a cell value into text (default: lists joined by ", ", None empty,
            whitespace collapsed).
    """

    key: str
    heading: str
    max_width: int | None = None
    min_width: int | None = 8
    optional: bool = False
    want: int | None = None
    align: str = "<"
    words: bool = False
    show: Callable[[Any], str] | None = None

    def text(self, value: Any) -> str:
        if self.show is not None:
            return self.show(value)
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ", ".join(map(str, value))
        return " ".join(str(value).split())


def column_widths(natural: Sequence[int], columns: Sequence[Column], width: int, gap: int = 2) -> list[int]:
    """Widths that fit ``width``: each column its natural width capped at ``max_width``. When the
    line is too long, the columns that may be cut give up the excess in proportion to what they
    have above their ``min_width`` (titles, the widest, give the most); optional columns are left
    out (width 0), the last first, while that is not enough or leaves a column less than its
    ``want``. Fixed columns keep their width, so a very narrow terminal still gets a line longer
    than ``width``."""
    capped = [min(n, c.max_width) if c.max_width is not None else n for n, c in zip(natural, columns)]
    widths = _shrunk(capped, columns, width, gap)
    for i in reversed(range(len(columns))):
        short = any(c.want is not None and w < min(c.want, n) for w, n, c in zip(widths, capped, columns))
        if not short and _length(widths, gap) <= width:
            break
        if columns[i].optional:
            capped[i] = 0
            widths = _shrunk(capped, columns, width, gap)
    return widths


def _length(widths: Sequence[int], gap: int) -> int:
    shown = [w for w in widths if w > 0]
    return sum(shown) + gap * max(len(shown) - 1, 0)


def _shrunk(widths: Sequence[int], columns: Sequence[Column], width: int, gap: int) -> list[int]:
    """``widths`` cut in proportion to each column's room above its ``min_width`` to fit ``width``."""
    widths = list(widths)
    floors = [w if c.min_width is None else min(w, c.min_width) for w, c in zip(widths, columns)]
    excess = _length(widths, gap) - width
    slack = [w - f for w, f in zip(widths, floors)]
    total = sum(slack)
    if excess > 0 and total > 0:
        take = [min(s, -(-excess * s // total)) for s in slack]  # proportional, rounded up
        over = sum(take) - min(excess, total)
        for i in sorted(range(len(take)), key=lambda i: take[i]):  # give back the rounding, small first
            back = min(over, take[i])
            take[i] -= back
            over -= back
        widths = [w - t for w, t in zip(widths, take)]
    return widths


def snippet_lines(width: int, key: str = "snippet") -> Callable[[Mapping[str, Any]], list[str]]:
    """A ``below`` for :func:`format_table`: a row's ``key`` text wrapped to the width (4 spaces in)."""
    import textwrap

    return lambda row: textwrap.wrap(row.get(key) or "", max(width - 4, 40))


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], width: int | None = None,
                 gap: int = 2, below: Callable[[Mapping[str, Any]], Sequence[str]] | None = None) -> str:
    """A plain-text table of ``rows`` that fits ``width`` (default: the terminal's, see
    :func:`column_widths`).

    Cells and headings too long for their column are cut with '…'. ``below(row)`` gives
    lines printed under a row, indented by four spaces (an abstract snippet, say).
    """
    width = terminal_width() if width is None else width
    cells = [[column.text(row.get(column.key)) for column in columns] for row in rows]
    natural = [max([len(column.heading)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    widths = column_widths(natural, columns, width, gap)

    def line(texts: Sequence[str], heading: bool = False) -> str:
        parts = []
        for text, column, size in zip(texts, columns, widths):
            if size > 0:
                text = shorten(text, size) if column.words and not heading else cut(text, size)
                parts.append(text.rjust(size) if column.align == ">" else text.ljust(size))
        return (" " * gap).join(parts).rstrip()

    lines = [line([column.heading for column in columns], heading=True)]
    for row, texts in zip(rows, cells):
        lines.append(line(texts))
        for extra in below(row) if below is not None else ():
            lines.append("    " + extra)
    return "\n".join(lines)
