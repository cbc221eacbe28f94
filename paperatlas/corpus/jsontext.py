"""JSON text as inputs hold it, parsed without surprises, and written so that every reader reads it back.

Parsing: numbers of more digits than Python converts (4,300) are kept as their text, nesting deeper
than :data:`MAX_DEPTH` is refused, and lone UTF-16 surrogates (``"\\ud800"`` with no partner, which
UTF-8 cannot hold) are replaced with U+FFFD, counted by the caller.

Writing: :func:`json_line` escapes the characters that some readers take for line breaks (U+0085,
U+2028, U+2029), so a JSON-lines file stays one record a line for every reader.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100
"""Lists and objects nested deeper than this are refused (no paper record needs more)."""

_INT_DIGITS = 4000  # below Python's int-string conversion limit (4,300 digits, sys.int_info)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
LONE_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
"""A lone UTF-16 surrogate escape in JSON bytes (a high one not followed by a low one, or a low one alone)."""
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_LINE_BREAK = re.compile("[\x85\u2028\u2029]")


class TooDeep(ValueError):
    """JSON nested deeper than :data:`MAX_DEPTH`."""


def _int(text: str) -> int | str:
    return int(text) if len(text) <= _INT_DIGITS else text


def decoder() -> json.JSONDecoder:
    """A decoder that keeps over-long numbers as text (check the depth first: :func:`check_depth`)."""
    return json.JSONDecoder(parse_int=_int)


def check_depth(text: str) -> None:
    """Raise :class:`TooDeep` when JSON ``text`` nests deeper than :data:`MAX_DEPTH`."""
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting(text) > MAX_DEPTH:
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep")


def loads(text: str) -> Any:
    """``json.loads`` that keeps over-long numbers as text and refuses deep nesting (:class:`TooDeep`).

    Raises ``json.JSONDecodeError`` (a ``ValueError``) for invalid JSON, as ``json.loads`` does.
    """
    check_depth(text)
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:  # pragma: no cover - nesting() refuses these first
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep") from None


def nesting(text: str) -> int:
    """How deeply the lists and objects of JSON ``text`` nest (brackets inside strings are not counted)."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def may_hold_surrogates(text: str) -> bool:
    """Whether JSON ``text`` escapes a UTF-16 surrogate (``\\udXXX``), lone or paired."""
    return _SURROGATE_ESCAPE.search(text) is not None


def scrub(value: Any) -> tuple[Any, int]:
    """``(value, count)``: lone surrogates in every string of a parsed JSON value replaced with U+FFFD.

    Pairs were already joined by the JSON parser, so any surrogate left is lone."""
    if isinstance(value, str):
        fixed, count = _SURROGATE.subn("\ufffd", value)
        return fixed, count
    if isinstance(value, list):
        total = 0
        items = []
        for item in value:
            fixed, count = scrub(item)
            items.append(fixed)
            total += count
        return items, total
    if isinstance(value, dict):
        total = 0
        fixed_dict = {}
        for key, item in value.items():
            new_key, key_count = scrub(key)
            fixed_dict[new_key], count = scrub(item)
            total += key_count + count
        return fixed_dict, total
    return value, 0


def without_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced with U+FFFD (for text made outside a reader)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def json_line(record: Any) -> str:
    """One JSON-lines record (no trailing newline): UTF-8 text as is, line-break-like characters escaped."""
    text = json.dumps(record, ensure_ascii=False)
    return _LINE_BREAK.sub(lambda match: _LINE_BREAKS[match.group()], text) if _LINE_BREAK.search(text) else text

