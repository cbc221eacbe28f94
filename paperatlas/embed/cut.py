"""Texts cut to a bound before they are tokenised.

A model reads a window of word pieces (256 for all-MiniLM-L6-v2, some 1,000-1,500 characters of
English); tokenising a 50 MB abstract to keep its first 256 pieces costs minutes and gigabytes.
Each text is cut to :data:`MAX_TEXT_CHARS` characters first: far above any model's window, so
the vectors do not change, and the work per text is bounded.
"""

from __future__ import annotations

from typing import Iterable

MAX_TEXT_CHARS = 20_000
"""Characters of a text an embedder is given (title, ". ", abstract); the rest is cut."""


def cut_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` cut to ``limit`` characters (at a space near the end when there is one)."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit - 200)
    return cut[:space] if space > 0 else cut


def count_cut(texts: Iterable[str], limit: int = MAX_TEXT_CHARS) -> int:
    """How many of ``texts`` :func:`cut_text` shortens."""
    return sum(len(text) > limit for text in texts)
