"""The column-wise reader gives exactly the papers the row-by-row reader gives."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paperatlas.corpus import FieldNames, read_papers
from paperatlas.corpus import columnar
from paperatlas.corpus.dedupe import dedupe
from paperatlas.corpus.model import clean_text, normalise_title
from paperatlas.corpus.read import ReadReport, _columnar_file, _read_file
from paperatlas.errors import PaperatlasError

RECORDS = [
    {"id": "a1", "title": "Reward  models\tfor RLHF", "abstract": " We study\nreward models. ", "date": "2024-03-05",
     "upvotes": 3, "tags": ["rl", "rlhf"], "venue": "ICML", "url": "https://x.org/a1"},
    {"id": "", "title": "Diffusion stéering at inference", "abstract": "Guidance\u2003for diffusion\u00a0models.",
     "date": "Mar 7, 2024", "upvotes": None, "venue": "", "byline": "  Lab X "},
    {"title": "No id and no date", "abstract": "Some abstract\x1c with a separator.", "date": "sometime"},
    {"id": "a4", "title": "Empty abstract", "abstract": "   "},
    {"id": "a5", "title": "", "abstract": "No title here."},
    {"id": "a6", "title": "REWARD MODELS for rlhf!", "abstract": "ABSTRACT. We study reward models (extended).",
     "arxiv_id": "2401.00001", "venue": "NeurIPS", "upvotes": 7},
    {"id": "a7", "title": "Value functions", "abstract": "Deep RL value functions.", "date": "2023-13-40",
     "sources": ["s1", "s2"]},
    {"id": "a8", "title": "Ünïcödé title — with dashes", "abstract": "Text.", "tags": []},
]


def row_path(path, fmt, fields=FieldNames()):
    papers, _ = dedupe(_read_file(path, fmt, fields, None, ReadReport()))
    return papers


def write_jsonl(path, records, blank_lines=False):
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    text = ("\n\n  \n".join(lines) if blank_lines else "\n".join(lines)) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["papers.jsonl", "papers.jsonl.gz"])
def test_jsonl_column_wise_equals_row_by_row(tmp_path, name):
    path = write_jsonl(tmp_path / name, RECORDS, blank_lines=True)
    report = ReadReport()
    _columnar_file(path, "jsonl", FieldNames(), report)  # the fast path applies to this file
    corpus, read_report = read_papers([path])
    assert list(corpus) == row_path(path, "jsonl")
    assert read_report.merged == 1 and read_report.papers == len(corpus) == 5
    # skipped entries name their line (blank lines in between count)
    assert [s.split(":", 1)[1] for s in read_report.skipped] == [
        "10: empty abstract (field 'abstract')", "13: empty title (field 'title')"]


def test_parquet_column_wise_and_csv_equal_row_by_row(tmp_path):
    keep = [r for r in RECORDS if r["abstract"].strip() and r["title"]]
    flat = [{k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()} for r in keep]
    table = pa.Table.from_pylist(flat)
    pq.write_table(table, tmp_path / "papers.parquet")
    import csv

    with open(tmp_path / "papers.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for r in flat for k in r)))
        writer.writeheader()
        writer.writerows(flat)
    _columnar_file(tmp_path / "papers.parquet", "parquet", FieldNames(), ReadReport())
    with pytest.raises(columnar.NotColumnar):  # CSV is always read row by row
        _columnar_file(tmp_path / "papers.csv", "csv", FieldNames(), ReadReport())
    for name, fmt in (("papers.parquet", "parquet"), ("papers.csv", "csv")):
        corpus, _ = read_papers([tmp_path / name])
        assert list(corpus) == row_path(tmp_path / name, fmt), name


def test_files_arrow_cannot_carry_faithfully_are_read_row_by_row(tmp_path):
    nested = write_jsonl(tmp_path / "nested.jsonl", [dict(RECORDS[0], meta={"a": 1}), dict(RECORDS[5], meta={"b": 2})])
    stamped = write_jsonl(tmp_path / "stamped.jsonl", [dict(RECORDS[0], seen="2024-01-05T10:00:00")])
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [dict(RECORDS[0], venue=3), RECORDS[5]])
    array = tmp_path / "array.json"
    array.write_text(json.dumps(RECORDS[:2]))
    for path in (nested, stamped, array):
        with pytest.raises(columnar.NotColumnar):
            _columnar_file(path, "jsonl", FieldNames(), ReadReport())
        corpus, _ = read_papers([path])
        assert list(corpus) == row_path(path, "jsonl")
    corpus, _ = read_papers([mixed])  # Arrow refuses mixed types within a file
    assert list(corpus) == row_path(mixed, "jsonl")
    assert corpus.get("a1").metadata["venue"] == 3


def test_files_of_different_column_types_are_combined_losslessly(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [dict(RECORDS[0], venue=2024)])
    second = write_jsonl(tmp_path / "b.jsonl", [RECORDS[6]])
    third = write_jsonl(tmp_path / "c.jsonl", [dict(RECORDS[7], venue=["x", "y"])])
    corpus, _ = read_papers([first, second, third])
    assert [p.metadata.get("venue") for p in corpus] == [2024, None, ["x", "y"]]


def test_the_whitespace_class_is_pythons():
    import re
    import sys


    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    texts = [f"a{ch}{ch}b " for ch in spaces] + ["x\u200by", "plain"]
    cleaned = columnar.clean_column(pa.array(texts)).to_pylist()
    assert cleaned == [clean_text(t) for t in texts]
    titles = pa.array(["Hello, World_2!", "Çà et là: ça va?", "ﬁne ligatures", "x\u0301y"])
    assert columnar.title_keys(titles) == [normalise_title(t) for t in titles.to_pylist()]
    assert re.fullmatch(r"\s+", spaces)


def test_an_id_used_by_two_titles_is_still_refused(tmp_path):
    path = write_jsonl(tmp_path / "dup.jsonl", [RECORDS[0], dict(RECORDS[6], id="a1")])
    with pytest.raises(PaperatlasError, match="paper id 'a1' is used by two different titles"):
        read_papers([path])
