"""Mutated input files for the ingest/build fuzz test and its long run (benchmarks/fuzz_inputs.py).

:func:`make_case` turns a seeded random generator into one input file: a seed page of data/seeds
or a few lines of data/papers.jsonl (as JSON lines, a JSON array or CSV), then one to three
mutations: byte flips, truncations, inserted unicode (line separators, BOMs, NULs, lone surrogate
escapes), huge or non-finite numbers, deep nesting, wrong types in the JSON fields, arXiv-shaped
records with odd ``versions``. :func:`run_case` runs ``paperatlas ingest`` on it in-process
(CliRunner), re-ingests what it wrote, and for some cases runs ``build`` with the fake embedder,
and says how each ended: ``ok``, ``error`` (exit 1, one ``error:`` line) or ``failure: ...``.
"""

from __future__ import annotations

import csv
import io
import json
import random
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
SEEDS = sorted((REPO / "data" / "seeds").glob("*.txt"))
PAPERS = REPO / "data" / "papers.jsonl"

FIELDS = ("title", "abstract", "id", "date", "upvotes", "sources", "byline", "url", "arxiv_id", "aliases",
          "versions", "authors", "categories", "update_date", "x", "topic_id", "layer_0")
ODD_TEXT = ("\u2028", "\u2029", "\x85", "\ufeff", "\x00", "\x1c", "\x0b", "\r", "\u200b", "\U0001F600",
            "e\u0301", "\ufffd", "\t", "  ", "\\", '"', "·", "•", "Sep 22", "Subscribe")
ODD_ESCAPES = ("\\ud800", "\\udfff", "\\ud83d", "\\ude00x", "\\u0000", "\\u2028", "\\u0085", "\\ud83d\\ude00")
ODD_NUMBERS = ("9" * 5000, "-" + "9" * 4400, "1e400", "-1e400", "1e19", "99999999999999999999", "1e308",
               "Infinity", "-Infinity", "NaN", "1e-400", "0.5", "-3", "1" + "0" * 310)
ODD_JSON = ('"[oops"', '"[1, 2"', "[]", "{}", '{"a": 1}', '[{"created": 5}]', "5", "true", "null", '""',
            '"' + "x" * 5000 + '"', '["a", ["b"]]', '{"a": {"b": [1, {"c": null}]}}', '"\\ud800"', '"1e400"')


@dataclass(frozen=True)
class Case:
    """One fuzz input: a file name (its suffix picks the reader) and its bytes."""

    number: int
    name: str
    data: bytes
    build: bool
    mutations: tuple[str, ...]


def _paper_lines() -> list[str]:
    return PAPERS.read_text(encoding="utf-8").splitlines()


_CACHE: dict[str, object] = {}


def _sources() -> tuple[list[bytes], list[str]]:
    if "pages" not in _CACHE:
        _CACHE["pages"] = [path.read_bytes() for path in SEEDS]
        _CACHE["lines"] = _paper_lines()
    return _CACHE["pages"], _CACHE["lines"]  # type: ignore[return-value]


def _odd_value(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.choice(ODD_NUMBERS)
    if kind == 1:
        return rng.choice(ODD_JSON)
    if kind == 2:
        depth = rng.choice((50, 99, 101, 500, 5000, 100_000))
        return "[" * depth + ("]" * depth if rng.random() < 0.5 else "")
    return json.dumps(rng.choice(ODD_TEXT) * rng.randrange(1, 4))[:-1] + rng.choice(ODD_ESCAPES) + '"'


def _mutate_record_text(rng: random.Random, line: str) -> str:
    """A JSON-lines line with one field set to an odd value (wrong type, huge number, deep nesting...)."""
    field = rng.choice(FIELDS)
    value = _odd_value(rng)
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # mutated before: deep, huge or broken
        return line[:-1] + f', "{field}": {value}}}' if line.endswith("}") else line + value
    if not isinstance(record, dict):
        return line + value
    record.pop(field, None)
    text = json.dumps(record, ensure_ascii=rng.random() < 0.5)
    return text[:-1] + (", " if record else "") + f'"{field}": {value}}}'


def _arxiv_line(rng: random.Random, record: dict) -> str:
    versions = rng.choice(('[{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]', '{"a": 1}', "5",
                           '"v1"', "[5]", "[]", '[{"created": ' + "9" * 5000 + "}]", "[" * 300))
    base = {"id": str(record.get("arxiv_id") or record.get("id") or "0704.0001"), "title": record.get("title"),
            "abstract": record.get("abstract"), "categories": "cs.LG", "authors": "A. B, C. D and E. F",
            "update_date": rng.choice(("2008-11-13", "2008-13-45", "", "9" * 30))}
    text = json.dumps(base)
    return text[:-1] + f', "versions": {versions}}}'


def _as_csv(records: list[dict]) -> str:
    names = list(dict.fromkeys(key for record in records for key in record))
    handle = io.StringIO()
    writer = csv.DictWriter(handle, fieldnames=names)
    writer.writeheader()
    for record in records:
        writer.writerow({key: json.dumps(value) if isinstance(value, (list, dict)) else value
                         for key, value in record.items()})
    return handle.getvalue()


def _byte_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    kind = rng.randrange(5)
    if not data:
        return data, "empty"
    if kind == 0:
        buffer = bytearray(data)
        for _ in range(rng.randrange(1, 6)):
            position = rng.randrange(len(buffer))
            buffer[position] ^= 1 << rng.randrange(8)
        return bytes(buffer), "byte flips"
    if kind == 1:
        return data[:rng.randrange(len(data))], "truncated"
    if kind == 2:
        position = rng.randrange(len(data) + 1)
        inserted = rng.choice(ODD_TEXT + ODD_ESCAPES).encode("utf-8", "surrogatepass")
        return data[:position] + inserted + data[position:], "inserted text"
    if kind == 3:
        position = rng.randrange(len(data) + 1)
        return data[:position] + rng.choice(ODD_NUMBERS).encode() + data[position:], "inserted number"
    lines = data.split(b"\n")
    index = rng.randrange(len(lines))
    action = rng.randrange(3)
    if action == 0:
        del lines[index]
    elif action == 1:
        lines.insert(index, lines[rng.randrange(len(lines))])
    else:
        other = rng.randrange(len(lines))
        lines[index], lines[other] = lines[other], lines[index]
    return b"\n".join(lines), "lines moved"


def _page_mutation(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.split("\n")
    index = rng.randrange(len(lines))
    kind = rng.randrange(4)
    if kind == 0:
        lines[index] = rng.choice(("Apr 14, 2025 ", "Sep 22 ", "Feb 30, 2024 ", "Jan 1, 0000 ")) + rng.choice(
            ("9" * 5000, "99999999999999999999", "1", "-1", "1e400"))
        return "\n".join(lines), "page date line"
    if kind == 1:
        lines[index] = "  • " + rng.choice(("9" * 5000, "0", "1", "99999999999999999999")) + " authors"
        return "\n".join(lines), "page byline"
    if kind == 2:
        lines.insert(index, rng.choice(ODD_TEXT) * rng.randrange(1, 5))
        return "\n".join(lines), "page line inserted"
    lines[index] = lines[index] + rng.choice(ODD_TEXT) * rng.randrange(1, 3)
    return "\n".join(lines), "page line changed"


def make_case(number: int, seed: int = 0, build_every: int = 10) -> Case:
    """Fuzz case ``number`` of the run seeded ``seed`` (the same pair always gives the same file)."""
    rng = random.Random(seed * 1_000_003 + number)
    pages, lines = _sources()
    mutations: list[str] = []
    if rng.random() < 0.3:
        name = "page.txt"
        text = rng.choice(pages).decode("utf-8")
        if rng.random() < 0.5:  # a page of a few entries is as good, and faster
            kept = text.split("\n")
            start = rng.randrange(12, max(13, len(kept) - 40))
            text = "\n".join(kept[:12] + kept[start:start + rng.randrange(10, 40)])
        for _ in range(rng.randrange(1, 3)):
            text, what = _page_mutation(rng, text)
            mutations.append(what)
        data = text.encode("utf-8")
    else:
        chosen = [lines[rng.randrange(len(lines))] for _ in range(rng.randrange(2, 12))]
        for _ in range(rng.randrange(1, 4)):
            row = rng.randrange(len(chosen))
            if rng.random() < 0.15:
                try:
                    chosen[row] = _arxiv_line(rng, json.loads(chosen[row]))
                except (ValueError, RecursionError, AttributeError):
                    continue
                mutations.append("arxiv record")
            else:
                chosen[row] = _mutate_record_text(rng, chosen[row])
                mutations.append("odd field")
        form = rng.random()
        if form < 0.7:
            name, text = "papers.jsonl", "\n".join(chosen) + "\n"
        elif form < 0.85:
            name, text = "papers.json", "[\n" + ",\n".join(chosen) + "\n]\n"
        else:
            try:
                records = [json.loads(line) for line in chosen]
                if not all(isinstance(record, dict) for record in records):
                    raise ValueError("not objects")
                name, text = "papers.csv", _as_csv(records)
            except (ValueError, RecursionError):
                name, text = "papers.jsonl", "\n".join(chosen) + "\n"
        data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.5:
        data, what = _byte_mutation(rng, data)
        mutations.append(what)
    return Case(number, name, data, build=number % build_every == 0, mutations=tuple(mutations))


class CaseTimeout(Exception):
    """A case ran past its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in this (main) thread after ``seconds``."""

    def expire(signum, frame):
        raise CaseTimeout(f"ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _verdict(result, what: str) -> str:
    """``ok``, ``error`` or ``failure: why`` for one CliRunner result."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"failure: {what} raised {type(result.exception).__name__}: {str(result.exception)[:200]}"
    if "Traceback" in result.output:
        return f"failure: {what} printed a traceback"
    if result.exit_code == 0:
        return "ok"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    if result.exit_code == 1 and len(errors) == 1:
        return "error"
    return f"failure: {what} exit {result.exit_code} with {len(errors)} error lines: {result.stderr[-300:]!r}"


def run_case(case: Case, folder: Path, seconds: float = 20.0) -> str:
    """Ingest the case's file (then re-ingest what ingest wrote; for ``case.build`` also build it with the
    fake embedder, no topics) and say how it ended: ``ok``, ``error`` or ``failure: ...``."""
    from click.testing import CliRunner

    from paperatlas.cli import main

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / case.name
    source.write_bytes(case.data)
    runner = CliRunner()
    try:
        with time_limit(seconds):
            first = runner.invoke(main, ["ingest", str(source), "-o", str(folder / "out.jsonl")])
            verdict = _verdict(first, "ingest")
            if verdict != "ok":
                return verdict
            again = runner.invoke(main, ["ingest", str(folder / "out.jsonl"), "-o", str(folder / "again.jsonl")])
            if again.exit_code != 0:
                return f"failure: re-ingesting ingest's output: {_verdict(again, 're-ingest')} {again.stderr[-200:]!r}"
            if case.build:
                built = runner.invoke(main, ["build", str(source), "-o", str(folder / "atlas"), "--no-topics",
                                             "--no-cache"], env={"PAPERATLAS_FAKE_EMBEDDER": "1"})
                verdict = _verdict(built, "build")
            return verdict
    except CaseTimeout as exc:
        return f"failure: {exc}"
