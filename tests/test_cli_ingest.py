"""The ``paperatlas ingest`` command, in-process (CliRunner) and as a real subprocess."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas import __version__
from paperatlas.cli import main
from paperatlas.corpus import read_corpus

ABSTRACT = "An abstract that is clearly longer than its title, about results."

SEED_SUMMARY = "read 418 entries from 5 files; skipped 0; merged 68 duplicates; 350 papers"


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paperatlas", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def jsonl_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_one_error_line(result, *parts: str) -> str:
    """Exit status 1, stderr is one ``error:`` line holding every part, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for part in parts:
        assert part in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return lines[0]


# --- help and version -----------------------------------------------------------------------


def test_help():
    result = invoke("--help")
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert "ingest" in result.output
    assert "--version" in result.output
    assert invoke("-h").output == result.output


def test_ingest_help():
    result = invoke("ingest", "--help")
    assert result.exit_code == 0
    for option in ("--out", "--format", "--title-field", "--abstract-field", "--id-field",
                   "--date-field", "--page-year", "pages|jsonl|arxiv|csv|parquet"):
        assert option in result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output == f"paperatlas, version {__version__}\n"
    assert __version__ == "0.1.0"


def test_module_entry_point_help_and_version(repo_root):
    done = run_module("--version", cwd=repo_root)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"paperatlas, version {__version__}\n", "")
    done = run_module("--help", cwd=repo_root)
    assert done.returncode == 0
    assert "ingest" in done.stdout


def test_ingest_needs_paths_and_out(tmp_path):
    result = invoke("ingest", "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 2  # click usage error
    assert "Missing argument 'PATHS...'" in result.output
    result = invoke("ingest", tmp_path)
    assert result.exit_code == 2
    assert "Missing option '-o' / '--out'" in result.output


# --- ingesting the seeds --------------------------------------------------------------------


def test_ingest_seeds(tmp_path, seeds):
    out = tmp_path / "out.jsonl"
    result = invoke("ingest", seeds, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "read 418 entries" in result.stderr
    assert "skipped 0" in result.stderr
    assert "merged 68" in result.stderr
    assert result.stderr.splitlines() == [SEED_SUMMARY, f"wrote 350 papers to {out}"]
    records = jsonl_lines(out)
    assert len(records) == 350
    assert len({r["id"] for r in records}) == 350
    assert list(records[0])[:10] == [
        "id", "title", "abstract", "date", "upvotes", "byline", "url", "arxiv_id", "sources", "content_hash",
    ]


def test_repo_papers_jsonl_is_a_fresh_ingest_of_the_seeds(tmp_path, repo_root):
    out = tmp_path / "papers.jsonl"
    done = run_module("ingest", "data/seeds/", "-o", str(out), cwd=repo_root)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [SEED_SUMMARY, f"wrote 350 papers to {out}"]
    assert out.read_bytes() == (repo_root / "data" / "papers.jsonl").read_bytes()
    records = jsonl_lines(out)
    assert len(records) == 350
    names = sorted(p.name for p in (repo_root / "data" / "seeds").glob("*.txt"))
    assert {s for r in records for s in r["sources"]} == {f"data/seeds/{name}" for name in names}


def test_page_year_option(tmp_path, seed_page):
    out = tmp_path / "out.jsonl"
    result = invoke("ingest", seed_page("004"), "-o", out, "--page-year", "2030")
    assert result.exit_code == 0, result.output
    dates = {r["title"]: r["date"] for r in jsonl_lines(out)}
    assert dates["Exploiting Tree Structure for Credit Assignment in RL Training of LLMs"] == "2030-09-22"
    assert dates["Steering Your Generalists: Improving Robotic Foundation Models via Value Guidance"] == "2024-10-17"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_output_formats_reingest_to_the_same_papers(tmp_path, seeds, suffix):
    direct = tmp_path / "direct.jsonl"
    assert invoke("ingest", seeds, "-o", direct).exit_code == 0
    table = tmp_path / f"papers{suffix}"
    result = invoke("ingest", seeds, "-o", table)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == f"wrote 350 papers to {table}"
    back = tmp_path / "back.jsonl"
    result = invoke("ingest", table, "-o", back)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "read 350 entries from 1 file; skipped 0; merged 0 duplicates; 350 papers"
    )
    assert back.read_bytes() == direct.read_bytes()
    assert list(read_corpus(table)) == list(read_corpus(direct))


def test_output_formats_keep_labels(tmp_path):
    source = tmp_path / "labeled.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": f"l{i}", "title": f"Paper {i}", "abstract": ABSTRACT, "label": label}) + "\n"
            for i, label in enumerate(["cs", "math", "physics"])
        ),
        encoding="utf-8",
    )
    for suffix in (".jsonl", ".csv", ".parquet", ".json"):
        out = tmp_path / f"labeled_out{suffix}"
        assert invoke("ingest", source, "-o", out).exit_code == 0
        again = read_corpus(out)
        assert [(p.id, p.metadata["label"]) for p in again] == [("l0", "cs"), ("l1", "math"), ("l2", "physics")]


# --- field options --------------------------------------------------------------------------


def test_csv_without_named_columns(tmp_path):
    path = tmp_path / "named.csv"
    path.write_text(
        "paper_id,name,summary,when\n"
        f'n1,Named Title,"{ABSTRACT}",2023-04-05\n'
        f'n2,Second Named,"Multi\nline {ABSTRACT}",06/07/2022\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = invoke("ingest", path, "-o", out)
    line = assert_one_error_line(result, f"{path}:1:", "no column 'title', 'abstract'", "--title-field")
    assert line.startswith(f"error: {path}:1: CSV has no column")
    assert not out.exists()
    result = invoke(
        "ingest", path, "-o", out, "--title-field", "name", "--abstract-field", "summary",
        "--id-field", "paper_id", "--date-field", "when",
    )
    assert result.exit_code == 0, result.output
    records = jsonl_lines(out)
    assert [(r["id"], r["title"], r["date"]) for r in records] == [
        ("n1", "Named Title", "2023-04-05"),
        ("n2", "Second Named", "2022-06-07"),
    ]
    assert records[1]["abstract"] == "Multi line " + ABSTRACT


def test_title_and_abstract_fields_on_jsonl(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_text(json.dumps({"headline": "Custom Headline", "body": ABSTRACT, "topic": "t"}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = invoke("ingest", path, "-o", out, "--title-field", "headline", "--abstract-field", "body")
    assert result.exit_code == 0, result.output
    (record,) = jsonl_lines(out)
    assert (record["title"], record["abstract"], record["topic"]) == ("Custom Headline", ABSTRACT, "t")
    assert "headline" not in record and "body" not in record
    result = invoke("ingest", path, "-o", out)
    assert_one_error_line(result, str(path), "none of its 1 entries has both a title ('title')")


def test_format_option_forces_a_reader(tmp_path):
    path = tmp_path / "export.dat"
    path.write_text(json.dumps({"title": "Forced", "abstract": ABSTRACT}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert_one_error_line(invoke("ingest", path, "-o", out), str(path), "unknown file type; pass --format")
    result = invoke("ingest", path, "-o", out, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert [r["title"] for r in jsonl_lines(out)] == ["Forced"]
    result = invoke("ingest", path, "-o", out, "--format", "xml")
    assert result.exit_code == 2  # rejected by click before reading


def test_skipped_and_ignored_are_reported(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    lines = [json.dumps({"title": f"Empty {i}", "abstract": ""}) for i in range(23)]
    lines.append(json.dumps({"title": "Kept", "abstract": ABSTRACT}))
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "notes.md").write_text("hello\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = invoke("ingest", folder, "-o", out)
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    source = (folder / "a.jsonl").as_posix()
    assert err[0] == f"skipped {source}:1: empty abstract (field 'abstract')"
    assert err[19] == f"skipped {source}:20: empty abstract (field 'abstract')"
    assert err[20] == "... and 3 more skipped entries"
    assert err[21] == f"ignored {folder / 'notes.md'} (unknown file type)"
    assert err[22] == (
        "read 24 entries from 1 file; skipped 23; merged 0 duplicates; 1 papers; "
        "ignored 1 files of unknown type"
    )
    assert [r["title"] for r in jsonl_lines(out)] == ["Kept"]


def test_several_paths(tmp_path, seed_page):
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"title": "Extra Paper", "abstract": ABSTRACT}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = invoke("ingest", seed_page("000"), seed_page("003"), extra, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("read 93 entries from 3 files;")
    assert jsonl_lines(out)[-1]["title"] == "Extra Paper"


# --- bad inputs -----------------------------------------------------------------------------

HEADER = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
    "Daily Papers\n\nbyAK and the research community\n\nJan 16\n\n"
)
GOOD_LINE = json.dumps({"title": "Fine", "abstract": ABSTRACT})

BAD_INPUTS = {
    # name: (file name, bytes, line in the message or None, words in the message)
    "empty": ("empty.jsonl", b"", None, "file is empty"),
    "binary": ("blob.csv", b"\x00\x01\x02binary\x00" * 10, None, "binary file"),
    "not-utf8": ("latin.jsonl", (GOOD_LINE + "\n").encode() + b'{"title": "Caf\xe9"}\n', 2, "not UTF-8"),
    "invalid-json": ("bad.jsonl", (GOOD_LINE + "\n\n{oops\n").encode(), 3, "invalid JSON"),
    "not-object": ("list.jsonl", (GOOD_LINE + '\n"text"\n').encode(), 2, "expected a JSON object"),
    "unknown-suffix": ("paper.docx", b"whatever", None, "unknown file type"),
    "corrupt-gz": ("c.jsonl.gz", gzip.compress((GOOD_LINE + "\n").encode())[:-10], None, "corrupt gzip"),
    "fake-gz": ("f.csv.gz", b"title,abstract\n", None, "not gzip-compressed"),
    "csv-columns": ("cols.csv", b"name,summary\nA,B\n", 1, "no column 'title'"),
    "csv-ragged": ("rag.csv", b"title,abstract\nA,Long abstract\nB,x,y\n", 3, "row has 3 fields"),
    "csv-quote": ("q.csv", b'title,abstract\nA,"never closed\nB,more text\n', 2, "malformed CSV"),
    "all-empty": ("e.jsonl", b'{"title": "A", "abstract": ""}\n', None, "none of its 1 entries"),
    "not-a-page": ("page.txt", b"just some text\nnothing else\n", None, "no recognisable Daily Papers entries"),
    "page-no-date": (
        "page2.txt",
        (HEADER + "A Title\n\n" + ABSTRACT + "\n\n  \u2022 2 authors\n\u00b7\nsoon\n").encode(),
        19,
        "expected a date line",
    ),
    "parquet": ("p.parquet", b"PAR1 not really", None, "Parquet"),
    "same-id": (
        "ids.jsonl",
        (json.dumps({"id": "1", "title": "One", "abstract": ABSTRACT}) + "\n"
         + json.dumps({"id": "1", "title": "Two", "abstract": ABSTRACT}) + "\n").encode(),
        None,
        "used by two different titles",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input(tmp_path, case):
    name, data, line, words = BAD_INPUTS[case]
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "out.jsonl"
    result = invoke("ingest", path, "-o", out)
    if case == "same-id":  # a corpus-level error: no single file to name
        assert_one_error_line(result, words)
    else:
        where = f"{path}:{line}: " if line is not None else f"{path}: "
        message = assert_one_error_line(result, where, words)
        assert message.startswith(f"error: {where}")
    assert not out.exists()


def test_missing_input(tmp_path):
    missing = tmp_path / "nope.jsonl"
    result = invoke("ingest", missing, "-o", tmp_path / "out.jsonl")
    assert assert_one_error_line(result) == f"error: {missing}: no such file or folder"


def test_folder_without_inputs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "readme.md").write_text("nothing to read\n", encoding="utf-8")
    result = invoke("ingest", folder, "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 1
    assert f"error: no input files found in {folder}" in result.stderr
    assert "Traceback" not in result.output


def test_bad_output_path(tmp_path, seed_page):
    out = tmp_path / "out.xlsx"
    result = invoke("ingest", seed_page("003"), "-o", out)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: {out}: unknown table type .xlsx; use one of .jsonl, .csv, .parquet, .json"
    )
    out = tmp_path / "missing" / "out.jsonl"
    result = invoke("ingest", seed_page("003"), "-o", out)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"error: {out}: folder {out.parent} does not exist"
    assert "Traceback" not in result.output


def test_bad_input_in_a_subprocess(tmp_path, repo_root):
    path = tmp_path / "broken.jsonl"
    path.write_text(GOOD_LINE + "\n" + '{"title": "x",\n', encoding="utf-8")
    done = run_module("ingest", str(path), "-o", str(tmp_path / "out.jsonl"), cwd=repo_root)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}:2: invalid JSON (")
    done = run_module("ingest", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.jsonl"), cwd=repo_root)
    assert (done.returncode, done.stderr) == (1, f"error: {tmp_path / 'nope.csv'}: no such file or folder\n")


def test_clashing_ids_can_be_replaced_by_title_ids(tmp_path):
    path = tmp_path / "ids.jsonl"
    path.write_text(json.dumps({"id": "cvpr/None", "title": "One", "abstract": ABSTRACT}) + "\n"
                    + json.dumps({"id": "cvpr/None", "title": "Two", "abstract": ABSTRACT}) + "\n")
    failed = CliRunner().invoke(main, ["ingest", str(path), "-o", str(tmp_path / "out.jsonl")])
    assert failed.exit_code == 1 and "--id-field ''" in failed.output
    result = CliRunner().invoke(main, ["ingest", str(path), "-o", str(tmp_path / "out.jsonl"), "--id-field", ""])
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(set(ids)) == 2 and all(i.startswith("t-") for i in ids)


# --- merges and aliases (issue 14) ------------------------------------------------------------


def test_verbose_ingest_lists_every_merge_and_the_report_counts_them(tmp_path):
    from tests.alias_fixtures import write_aliased_input

    path, aliases = write_aliased_input(tmp_path)
    out = tmp_path / "out.jsonl"
    result = invoke("ingest", path, "-o", out, "--verbose")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    merges = [line for line in lines if line.startswith("merged 2 records into")]
    assert len(merges) == 2
    assert merges[0].startswith("merged 2 records into p3 ") and merges[0].endswith(
        "(same title, abstracts agree; aliases dup-3)")
    assert merges[1].startswith("merged 2 records into p7 ") and "aliases dup-7" in merges[1]
    assert lines[-2] == ("read 44 entries from 1 file; skipped 0; merged 2 duplicates; 42 papers; "
                         "kept 2 papers with a shared title apart")
    quiet = invoke("ingest", path, "-o", out)
    assert not [line for line in quiet.stderr.splitlines() if line.startswith("merged 2 records")]
    records = {r["id"]: r for r in jsonl_lines(out)}
    assert len(records) == 42 and {"hmc-a", "hmc-b"} <= records.keys()
    assert records["p3"]["aliases"] == ["dup-3"] and records["p7"]["aliases"] == ["dup-7"]
    assert not set(aliases) & records.keys()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ".json"])
def test_ingested_aliases_survive_a_second_ingest(tmp_path, suffix):
    from tests.alias_fixtures import write_aliased_input

    path, aliases = write_aliased_input(tmp_path)
    first = tmp_path / f"first{suffix}"
    assert invoke("ingest", path, "-o", first).exit_code == 0
    corpus = read_corpus(first)
    for alias, paper in aliases.items():
        assert corpus.get(alias).id == paper and corpus.get(paper).aliases == (alias,)
    again = tmp_path / "again.jsonl"
    result = invoke("ingest", first, path, "-o", again, "-v")  # the raw records again: merged by id
    assert result.exit_code == 0, result.output
    assert len(jsonl_lines(again)) == 42 and "(same id" in result.stderr


def test_export_lists_the_aliases(tmp_path):
    import pandas as pd

    from tests.alias_fixtures import aliased_atlas

    aliased_atlas(tmp_path).save(tmp_path / "atlas")
    out = tmp_path / "papers.csv"
    result = invoke("export", tmp_path / "atlas", "-o", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out).set_index("id")
    assert json.loads(table.loc["p3", "aliases"]) == ["dup-3"] and json.loads(table.loc["p0", "aliases"]) == []
    assert "dup-3" not in table.index
