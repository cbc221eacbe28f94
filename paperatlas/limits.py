"""Limits on what one tool call (MCP, ``dispatch``) or one ``paperatlas serve`` request may carry.

A call over a limit is refused with a :class:`LimitError` that names the argument and the
limit, before any work is done; user input echoed in an error is cut to :data:`ECHO_CHARS`.
The model reads 256 word pieces (some 1,500 characters), so a longer text query would only
cost time: :data:`MAX_QUERY_CHARS` leaves room for a whole abstract.
"""

from __future__ import annotations

import json
from typing import Any

from paperatlas.errors import PaperatlasError

MAX_QUERY_CHARS = 10_000
"""Characters of a text or title query."""
MAX_IDS = 100
"""Paper ids in one call (``query`` and ``negative`` each)."""
MAX_ID_CHARS = 200
"""Characters of one paper id or topic name."""
MAX_K = 1_000
"""Results of one call (``k``, ``limit``)."""
MAX_ARGUMENT_BYTES = 1_000_000
"""Bytes of a call's whole argument JSON (UTF-8)."""
MAX_DEPTH = 20
"""Nesting of the argument JSON (no tool takes more than a list in an object)."""
ECHO_CHARS = 100
"""Characters of user input repeated in an error message."""
MAX_ERROR_CHARS = 2_000
"""Characters of an error message a server sends back."""

_ID_ARGUMENTS = ("paper_id",)
_NAME_ARGUMENTS = ("topic",)
_COUNT_ARGUMENTS = ("k", "limit")


class LimitError(PaperatlasError):
    """A call that carries more than the limits allow."""


def echo(value: Any, width: int = ECHO_CHARS) -> str:
    """``repr(value)`` cut to about ``width`` characters, for an error message."""
    text = repr(value)
    return text if len(text) <= width else f"{text[:width]}… ({len(text):,} characters)"


def cut_message(message: str, width: int = MAX_ERROR_CHARS) -> str:
    """An error message cut to ``width`` characters (a last guard; echoes are cut where they are made)."""
    return message if len(message) <= width else message[:width] + "…"


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value``, counting no further than ``limit + 1`` (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def check_argument_text(text: str) -> None:
    """Refuse argument JSON text over :data:`MAX_ARGUMENT_BYTES` (before it is parsed)."""
    if len(text) > MAX_ARGUMENT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_ARGUMENT_BYTES:
        raise LimitError(f"the arguments are {len(text):,} characters of JSON; at most "
                         f"{MAX_ARGUMENT_BYTES:,} bytes are taken")


def check_text(name: str, text: str, limit: int = MAX_QUERY_CHARS) -> None:
    """Refuse ``text`` over ``limit`` characters."""
    if len(text) > limit:
        why = " (the model reads only the first few hundred words)" if limit == MAX_QUERY_CHARS else ""
        raise LimitError(f"{name} is {len(text):,} characters long; at most {limit:,} are taken{why}")


def check_ids(name: str, ids: list | tuple) -> None:
    """Refuse more than :data:`MAX_IDS` ids, or an id over :data:`MAX_ID_CHARS` characters."""
    if len(ids) > MAX_IDS:
        raise LimitError(f"{name} lists {len(ids):,} paper ids; at most {MAX_IDS} are taken")
    for value in ids:
        if isinstance(value, str) and len(value) > MAX_ID_CHARS:
            raise LimitError(f"{name} holds an id of {len(value):,} characters ({echo(value)}); "
                             f"ids are at most {MAX_ID_CHARS} characters")


def check_count(name: str, value: Any, limit: int = MAX_K) -> None:
    """Refuse a whole number over ``limit``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > limit:
        raise LimitError(f"{name} is {value:,}; at most {limit:,} results are returned per call")


def check_call(name: str, arguments: Any) -> None:
    """Refuse tool ``arguments`` (parsed JSON) over the limits; types are the schema's business."""
    if not isinstance(arguments, dict):
        return
    if _depth(arguments, MAX_DEPTH) > MAX_DEPTH:
        raise LimitError(f"the arguments nest more than {MAX_DEPTH} levels deep")
    try:
        size = len(json.dumps(arguments, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        size = 0  # not JSON: the schema check says what is wrong
    if size > MAX_ARGUMENT_BYTES:
        raise LimitError(f"the arguments are {size:,} bytes of JSON; at most {MAX_ARGUMENT_BYTES:,} are taken")
    for key in arguments:
        if isinstance(key, str) and len(key) > MAX_ID_CHARS:
            raise LimitError(f"unknown argument {echo(key)}")
    query = arguments.get("query")
    if isinstance(query, str):
        if arguments.get("by") == "id":
            check_ids("query", [query])
        check_text("query", query)
    elif isinstance(query, (list, tuple)):
        check_ids("query", query)
    negative = arguments.get("negative")
    if isinstance(negative, str):
        check_ids("negative", [negative])
    elif isinstance(negative, (list, tuple)):
        check_ids("negative", negative)
    for key in _ID_ARGUMENTS:
        if isinstance(arguments.get(key), str):
            check_ids(key, [arguments[key]])
    for key in _NAME_ARGUMENTS:
        if isinstance(arguments.get(key), str):
            check_text(key, arguments[key], MAX_ID_CHARS)
    for key in _COUNT_ARGUMENTS:
        check_count(key, arguments.get(key))
