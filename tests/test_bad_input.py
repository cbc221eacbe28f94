"""Bad input ends in a result or one clean error, never a traceback (issue #16, items 1-11): the
reproducers of the issue as fixed cases."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.cli import main
from paperatlas.corpus import Corpus, Paper, read_papers
from paperatlas.corpus.jsontext import json_line, nesting, scrub
from paperatlas.errors import PaperatlasError

ABSTRACT = "An abstract that is clearly longer than its title, about results."


def invoke(*args, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def clean_exit(result) -> None:
    """Exit 0, or exit 1 with exactly one ``error:`` line; never an exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, result.stderr


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def ingest(tmp_path: Path, source: Path, name: str = "out.jsonl"):
    out = tmp_path / name
    result = invoke("ingest", source, "-o", out)
    clean_exit(result)
    return result, out


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


# 1. lone surrogates ---------------------------------------------------------------------------

def test_lone_surrogate_in_title_is_replaced_and_counted(tmp_path):
    source = write_lines(tmp_path / "s.jsonl", '{"title":"T\\ud800","abstract":"abc def"}',
                         '{"title":"U","abstract":"abc def ghi","note":"x\\udc00y"}',
                         '{"title":"Paired \\ud83d\\ude00","abstract":"abc def ghi jkl"}')
    result, out = ingest(tmp_path, source)
    assert result.exit_code == 0
    assert "replaced lone surrogates with U+FFFD in 2 entries" in result.stderr
    rows = records(out)
    assert rows[0]["title"] == "T\ufffd" and rows[1]["note"] == "x\ufffdy"
    assert rows[2]["title"] == "Paired \U0001F600"  # a pair is one character, kept
    _, report = read_papers([source])
    assert report.repaired == [f"{source.as_posix()}:1", f"{source.as_posix()}:2"]


def test_content_hash_of_a_paper_made_in_code_with_a_surrogate():
    paper = Paper(id="a", title="T\ud800", abstract="abc")
    assert len(paper.content_hash) == 24
    assert scrub({"k\udc00": ["\ud800", 1]}) == ({"k\ufffd": ["\ufffd", 1]}, 2)


# 2. bad sources -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ['"[oops"', '"[1, 2"', '{"a": 1}', "5", '"[' + "[" * 50 + '"'])
def test_bad_sources_fall_back_to_the_file(tmp_path, value):
    source = write_lines(tmp_path / "src.jsonl", '{"title":"T","abstract":"abc def","sources":%s}' % value)
    result, out = ingest(tmp_path, source)
    assert result.exit_code == 0
    assert records(out)[0]["sources"] == [source.as_posix()]


# 3. upvotes that are no count -----------------------------------------------------------------

@pytest.mark.parametrize("value, text", [("1e19", "1e+19"), ("99999999999999999999", "1e+20"), ("1e308", "1e+308"),
                                         ("Infinity", "inf"), ('"1e400"', "1e400"), ('"many"', "many"),
                                         ("true", "True"), ("-1e19", "-1e+19")])
def test_unreadable_upvotes_are_null_with_the_text_kept(tmp_path, value, text):
    source = write_lines(tmp_path / "up.jsonl", '{"title":"T","abstract":"abc def","upvotes":%s}' % value,
                         '{"title":"U","abstract":"abc def ghi","upvotes":7}')
    result, out = ingest(tmp_path, source)
    assert result.exit_code == 0
    first, second = records(out)
    assert first["upvotes"] is None and first["upvotes_text"] == text
    assert second["upvotes"] == 7 and second["upvotes_text"] is None


def test_row_and_column_readers_agree_on_upvotes(tmp_path):
    lines = ['{"title":"T%d","abstract":"abc def %d","upvotes":%s}' % (i, i, v)
             for i, v in enumerate(["1e19", "3.7", "null", "12", "1e308"])]
    columnar = write_lines(tmp_path / "a.jsonl", *lines)
    by_row = write_lines(tmp_path / "b.jsonl", *lines, '{"title":"Z","abstract":"abc def z","nested":{"a":1}}')
    one = [(p.upvotes, p.metadata.get("upvotes_text")) for p in read_papers([columnar])[0]]
    two = [(p.upvotes, p.metadata.get("upvotes_text")) for p in read_papers([by_row])[0]][:5]
    assert one == two == [(None, "1e+19"), (3, None), (None, None), (12, None), (None, "1e+308")]


# 4. numbers of more than 4,300 digits ---------------------------------------------------------

def test_huge_numbers_in_json_fields(tmp_path):
    digits = "9" * 5000
    source = write_lines(tmp_path / "big.jsonl", '{"title":"T","abstract":"abc def","n":%s,"upvotes":%s}' % (digits, digits),
                         '{"title":"U","abstract":"abc def ghi","n":3,"nested":{"x":[%s]}}' % digits)
    result, out = ingest(tmp_path, source)
    assert result.exit_code == 0
    first = records(out)[0]
    assert first["upvotes"] is None and first["upvotes_text"].startswith("9999")
    assert len(first["upvotes_text"]) == 100


def test_huge_number_in_a_page_date_line(tmp_path, seed_page):
    text = seed_page("000").read_text(encoding="utf-8").replace("Apr 14, 2025 2", "Apr 14, 2025 " + "9" * 5000, 1)
    text = text.replace("  • 4 authors", "  • " + "4" * 5000 + " authors", 1)
    page = tmp_path / "page.txt"
    page.write_text(text, encoding="utf-8")
    result, out = ingest(tmp_path, page)
    assert result.exit_code == 0
    row = next(r for r in records(out) if r["date"] == "2025-04-14")
    assert row["upvotes"] is None and row["upvotes_text"].startswith("9999")


# 5. odd arXiv versions ------------------------------------------------------------------------

@pytest.mark.parametrize("versions", ['{"a":1}', "5", '"v1"', "[5]", '[{"created":' + "9" * 5000 + "}]"])
def test_odd_arxiv_versions(tmp_path, versions):
    source = write_lines(tmp_path / "arxiv.jsonl",
                         '{"id":"2401.1","title":"T","abstract":"abc def","categories":"cs.LG",'
                         '"update_date":"2024-01-02","versions":%s}' % versions)
    result, out = ingest(tmp_path, source)
    assert result.exit_code == 0
    assert records(out)[0]["date"] == "2024-01-02"


# 6. deep nesting ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ['{"title":"T","abstract":"abc def","n":' + "[" * 100_000 + "}",
                                  "[" * 100_000,
                                  '{"title":"T","abstract":"abc def","n":' + "[" * 150 + "]" * 150 + "}"])
def test_deep_nesting_is_refused_with_the_line(tmp_path, text):
    source = write_lines(tmp_path / "deep.jsonl", text)
    result = invoke("ingest", source, "-o", tmp_path / "out.jsonl")
    clean_exit(result)
    assert result.exit_code == 1
    assert "nested more than 100 levels deep" in result.stderr


def test_nesting_ignores_brackets_in_strings():
    assert nesting('{"a": "[[[[", "b": [[1], {"c": "]"}]}') == 3


# 7. Parquet dates out of Python's range -------------------------------------------------------

@pytest.mark.parametrize("field", ["date", "published"])
def test_parquet_timestamp_out_of_range(tmp_path, field):
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = pa.array([10**12, 1_700_000_000], pa.int64()).cast(pa.timestamp("s"))
    source = tmp_path / "ts.parquet"
    pq.write_table(pa.table({"title": ["T", "U"], "abstract": ["abc def", "abc def ghi"], field: stamps}), source)
    result, out = ingest(tmp_path, source)
    assert result.exit_code == 0
    first, second = records(out)
    if field == "date":
        assert first["date"] is None and "out of range" in first["date_text"]
        assert second["date"] == "2023-11-14"
    else:
        assert "out of range" in first[field]


# 8. JSONL that paperatlas writes reads back ---------------------------------------------------

@pytest.mark.parametrize("nested", [False, True])  # True: the row reader (a nested field is not columnar)
def test_line_separators_in_values_round_trip(tmp_path, nested):
    extra = ',"tags":{"a":[1]}' if nested else ""
    source = write_lines(tmp_path / "ls.jsonl",
                         '{"title":"T\\u2028x","abstract":"abc\\u0085def","m":"a\\u2028b\\u0085c\\u2029d"%s}' % extra,
                         '{"title":"U","abstract":"abc def ghi","m":"plain"%s}' % extra)
    _, first = ingest(tmp_path, source, "first.jsonl")
    raw = first.read_text(encoding="utf-8")
    assert "\u2028" not in raw and "\x85" not in raw and "\\u2028" in raw
    result, second = ingest(tmp_path, first, "second.jsonl")
    assert result.exit_code == 0
    assert records(second)[0]["m"] == "a\u2028b\x85c\u2029d" == records(first)[0]["m"]
    assert len(raw.strip().split("\n")) == 2


def test_json_line_escapes_line_breaks_and_to_jsonl_uses_it(tmp_path):
    assert json_line({"a": "x\u2028y\x85z\u2029"}) == '{"a": "x\\u2028y\\u0085z\\u2029"}'
    out = tmp_path / "c.jsonl"
    Corpus([Paper(id="a", title="T\u2028", abstract="abc\x85 def", metadata={"m": "\u2029"})]).to_jsonl(out)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1
    assert read_papers([out])[0][0].metadata["m"] == "\u2029"


# 9. input columns named like computed ones ----------------------------------------------------

def test_input_columns_never_overwrite_computed_ones(tmp_path, fake_embedder):
    from paperatlas.atlas import Atlas
    from paperatlas.cluster import TopicSettings
    from paperatlas.export.tables import input_renames, paper_table

    papers = [Paper(id=f"p{i}", title=f"Paper {i} on topic {i % 3}", abstract=f"words about topic {i % 3} " * 5,
                    metadata={"x": "input x", "topic_id": 99, "layer_0": "mine", "input_x": "taken"})
              for i in range(40)]
    atlas = Atlas.build(Corpus(papers), fake_embedder, cache=None)
    atlas.fit_topics(TopicSettings(min_cluster_size=5, n_neighbors=5))
    table = paper_table(atlas)
    assert table["x"].dtype.kind == "f" and table["topic_id"].dtype.kind == "i"
    assert (table["input_x"] == "taken").all() and (table["input_input_x"] == "input x").all()
    assert (table["input_topic_id"] == 99).all() and (table["input_layer_0"] == "mine").all()
    assert input_renames(["x", "venue", "layer_3_name"]) == {"x": "input_x", "layer_3_name": "input_layer_3_name"}
    atlas.save(tmp_path / "atlas")
    result = invoke("export", tmp_path / "atlas", "-o", tmp_path / "t.csv")
    assert result.exit_code == 0
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "'x' as 'input_input_x'" in notes[0]


def test_ingest_notes_computed_names_once(tmp_path):
    source = write_lines(tmp_path / "xy.jsonl", '{"title":"T","abstract":"abc def","x":1,"y":2,"topic_name":"z"}')
    result, _ = ingest(tmp_path, source)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1
    assert "'x' as 'input_x', 'y' as 'input_y', 'topic_name' as 'input_topic_name'" in notes[0]


# 10. huge texts are cut before tokenising -----------------------------------------------------

def test_cut_text():
    from paperatlas.embed.cut import MAX_TEXT_CHARS, count_cut, cut_text

    assert cut_text("short") == "short"
    long = "word " * 10_000
    assert len(cut_text(long)) <= MAX_TEXT_CHARS and cut_text(long).endswith("word")
    assert len(cut_text("x" * 30_000)) == MAX_TEXT_CHARS
    assert count_cut(["a", "b" * (MAX_TEXT_CHARS + 1), "c" * MAX_TEXT_CHARS]) == 1


def test_a_50_mb_abstract_embeds_fast_in_bounded_memory(fake_embedder):
    from paperatlas.embed import embed_with_cache

    abstract = "lorem ipsum dolor sit amet consectetur " * (50_000_000 // 39)
    papers = Corpus([Paper(id="big", title="A big one", abstract=abstract),
                     Paper(id="small", title="Small", abstract="a small abstract here")])
    texts = papers.texts()
    tracemalloc.start()
    started = time.perf_counter()
    vectors, embedded = embed_with_cache(fake_embedder, texts, papers.column("content_hash"), None)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert embedded == 2 and vectors.shape == (2, fake_embedder.dimension)
    assert seconds < 5 and peak < 20_000_000, (seconds, peak)


def test_build_reports_cut_texts(tmp_path):
    source = write_lines(tmp_path / "p.jsonl", *(json.dumps({"title": f"Paper {i}", "abstract": ABSTRACT + " w" * i})
                                                for i in range(12)),
                         json.dumps({"title": "Long", "abstract": "long words " * 3000}))
    result = invoke("build", source, "-o", tmp_path / "atlas", "--no-topics", "--no-cache",
                    env={"PAPERATLAS_FAKE_EMBEDDER": "1"})
    assert result.exit_code == 0, result.output
    assert "cut 1 text to their first 20,000 characters before embedding" in result.stderr


# 11. precomputed embeddings -------------------------------------------------------------------

@pytest.fixture()
def twelve_papers(tmp_path) -> Path:
    return write_lines(tmp_path / "p.jsonl", *(json.dumps({"title": f"Paper {i}", "abstract": ABSTRACT + f" {i}"})
                                              for i in range(12)))


def unit(n: int = 12, d: int = 8) -> np.ndarray:
    vectors = np.random.default_rng(0).standard_normal((n, d))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("array, message", [
    (unit()[:, :1], "dimension of at least 2"),
    (unit()[:, :0], "dimension of at least 2"),
    (unit()[0], "expected (12, dimension)"),
    (unit().astype(str), "must be numbers"),
    (unit() > 0, "must be numbers"),
    (np.vstack([unit()[:5], np.zeros((2, 8)), unit()[7:]]), "rows 5, 6 (counting from 0) have length 0"),
    (np.where(np.eye(12, 8, k=0, dtype=bool), np.nan, unit()), "NaN or infinite"),
])
def test_bad_embeddings_are_refused(tmp_path, twelve_papers, array, message):
    path = tmp_path / "v.npy"
    np.save(path, array)
    result = invoke("build", twelve_papers, "-o", tmp_path / "atlas", "--embeddings", path, "--no-topics")
    clean_exit(result)
    assert result.exit_code == 1 and message in result.stderr


@pytest.mark.parametrize("scale", [1e38, 1e-45, 1e200])
def test_scaled_embeddings_keep_their_direction(tmp_path, twelve_papers, scale):
    from paperatlas.atlas import Atlas

    path = tmp_path / "v.npy"
    np.save(path, unit() * scale)
    result = invoke("build", twelve_papers, "-o", tmp_path / "atlas", "--embeddings", path, "--no-topics")
    assert result.exit_code == 0, result.output
    stored = np.asarray(Atlas.load(tmp_path / "atlas").embeddings, dtype=np.float64)
    assert np.allclose(np.linalg.norm(stored, axis=1), 1, atol=1e-5)
    assert np.allclose(np.einsum("ij,ij->i", stored, unit()), 1, atol=1e-5)


def test_zero_row_refused_by_the_library(fake_embedder):
    from paperatlas.atlas import Atlas

    corpus = Corpus([Paper(id=f"p{i}", title=f"P{i}", abstract=ABSTRACT) for i in range(3)])
    vectors = unit(3)
    vectors[1] = 0
    with pytest.raises(PaperatlasError, match="row 1 .* length 0"):
        Atlas.build(corpus, embeddings=vectors, cache=None)


def test_invalid_utf8_in_parquet_is_a_clean_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    abstract = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(b"\x00\x00\x00\x00\x03\x00\x00\x00"),
                                                      pa.py_buffer(b"a\xed\xa0")])
    source = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"title": pa.array(["Title"]), "abstract": abstract}), source)
    result = invoke("ingest", source, "-o", tmp_path / "out.jsonl")
    clean_exit(result)
    assert result.exit_code == 1 and "Invalid UTF8" in result.stderr


def test_raw_surrogate_bytes_in_jsonl_are_refused_with_the_line(tmp_path):
    source = tmp_path / "raw.jsonl"
    source.write_bytes(b'{"title":"T","abstract":"abc def"}\n{"title":"T\xed\xa0\x80","abstract":"abc def"}\n')
    result = invoke("ingest", source, "-o", tmp_path / "out.jsonl")
    clean_exit(result)
    assert result.exit_code == 1 and "raw.jsonl:2: not UTF-8 text (byte 0xed)" in result.stderr


def test_nan_metadata_is_missing(tmp_path):
    source = write_lines(tmp_path / "nan.jsonl", '{"title":"T","abstract":"abc def","venue":NaN}',
                         '{"title":"U","abstract":"abc def ghi","venue":"ICML"}')
    result, out = ingest(tmp_path, source)
    assert result.exit_code == 0
    assert [row["venue"] for row in records(out)] == [None, "ICML"]
