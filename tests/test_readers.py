"""Reading JSONL, CSV, Parquet, arXiv metadata and their gzip forms (paperatlas.corpus.read)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from paperatlas.corpus import FieldNames, read_corpus, read_papers
from paperatlas.corpus.model import title_id
from paperatlas.corpus.read import detect_format
from paperatlas.errors import InputError, PaperatlasError
from paperatlas.export.tables import write_papers

# The first three records of ../shared/eval/arxiv2007_sample.jsonl.gz, verbatim.
EVAL_LINES = [
    r'{"id": "0704.0001", "title": "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies", "abstract": "A fully differential calculation in perturbative quantum chromodynamics is presented for the production of massive photon pairs at hadron colliders. All next-to-leading order perturbative contributions from quark-antiquark, gluon-(anti)quark, and gluon-gluon subprocesses are included, as well as all-orders resummation of initial-state gluon radiation valid at next-to-next-to-leading logarithmic accuracy. The region of phase space is specified in which the calculation is most reliable. Good agreement is demonstrated with data from the Fermilab Tevatron, and predictions are made for more detailed tests with CDF and DO data. Predictions are shown for distributions of diphoton pairs produced at the energy of the Large Hadron Collider (LHC). Distributions of the diphoton pairs from the decay of a Higgs boson are contrasted with those produced from QCD processes at the LHC, showing that enhanced sensitivity to the signal can be obtained with judicious selection of events.", "label": "hep-ph", "labels": ["hep-ph"], "meta": {"primary_category": "hep-ph", "license": "", "update_date": "11/26/2008"}, "source": "gechhai/Topic_Discovery@01102fc9aa76"}',
    r'{"id": "0704.0002", "title": "Sparsity-certifying Graph Decompositions", "abstract": "We describe a new algorithm, the $(k,\\ell)$-pebble game with colors, and use it obtain a characterization of the family of $(k,\\ell)$-sparse graphs and algorithmic solutions to a family of problems concerning tree decompositions of graphs. Special instances of sparse graphs appear in rigidity theory and have received increased attention in recent years. In particular, our colored pebbles generalize and strengthen the previous results of Lee and Streinu and give a new proof of the Tutte-Nash-Williams characterization of arboricity. We also present a new decomposition that certifies sparsity based on the $(k,\\ell)$-pebble game with colors. Our work also exposes connections between pebble game algorithms and previous sparse graph algorithms by Gabow, Gabow and Westermann and Hendrickson.", "label": "math", "labels": ["math.CO", "cs.CG"], "meta": {"primary_category": "math.CO", "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/", "update_date": "12/13/2008"}, "source": "gechhai/Topic_Discovery@01102fc9aa76"}',
    r'{"id": "0704.0003", "title": "The evolution of the Earth-Moon system based on the dark matter field fluid model", "abstract": "The evolution of Earth-Moon system is described by the dark matter field fluid model proposed in the Meeting of Division of Particle and Field 2004, American Physical Society. The current behavior of the Earth-Moon system agrees with this model very well and the general pattern of the evolution of the Moon-Earth system described by this model agrees with geological and fossil evidence. The closest distance of the Moon to Earth was about 259000 km at 4.5 billion years ago, which is far beyond the Roche\u0027s limit. The result suggests that the tidal friction may not be the primary cause for the evolution of the Earth-Moon system. The average dark matter field fluid constant derived from Earth-Moon system data is 4.39 x 10^(-22) s^(-1)m^(-1). This model predicts that the Mars\u0027s rotation is also slowing with the angular acceleration rate about -4.38 x 10^(-22) rad s^(-2).", "label": "physics", "labels": ["physics.gen-ph"], "meta": {"primary_category": "physics.gen-ph", "license": "", "update_date": "1/13/2008"}, "source": "gechhai/Topic_Discovery@01102fc9aa76"}',
]

ABSTRACT = "An abstract that says what was done and what was found, at some length."

RECORDS = [
    {
        "id": "p1",
        "title": "Learning  to\nRank",
        "abstract": "First   abstract,\nhard-wrapped.  " + ABSTRACT,
        "date": "2024-03-05",
        "upvotes": 3,
        "url": "https://example.org/p1",
        "label": "ir",
    },
    {"id": "p2", "title": "Graph Networks", "abstract": "Second abstract. " + ABSTRACT, "label": "ml"},
    {"title": "No Id Here", "abstract": "Third abstract. " + ABSTRACT, "date": "03/07/2021"},
]


def write_jsonl(path: Path, records, compress: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in records)
    if compress:
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data))
    return path


def summary(corpus):
    return [(p.id, p.title, p.abstract, p.date, p.upvotes, p.url, dict(p.metadata)) for p in corpus]


# --- JSON lines -----------------------------------------------------------------------------


def test_jsonl_basic(tmp_path):
    path = write_jsonl(tmp_path / "papers.jsonl", RECORDS)
    corpus, report = read_papers([path])
    assert report.files == {path.as_posix(): 3}
    assert (report.merged, report.papers, report.skipped) == (0, 3, [])
    first, second, third = corpus
    assert first.id == "p1"
    assert first.title == "Learning to Rank"  # whitespace normalised
    assert first.abstract.startswith("First abstract, hard-wrapped. An abstract")
    assert (first.date, first.upvotes, first.url) == ("2024-03-05", 3, "https://example.org/p1")
    assert first.metadata == {"label": "ir"}
    assert first.sources == (path.as_posix(),)
    assert first.text == "Learning to Rank. " + first.abstract
    assert second.metadata == {"label": "ml"} and second.date is None and second.upvotes is None
    assert third.id == title_id("No Id Here")  # no id: derived from the title
    assert third.date == "2021-03-07"  # US-style date parsed


def test_jsonl_label_column_in_frame(tmp_path):
    corpus = read_corpus(write_jsonl(tmp_path / "papers.jsonl", RECORDS))
    frame = corpus.to_frame()
    assert list(frame.columns[-1:]) == ["label"]
    assert frame["label"].tolist()[:2] == ["ir", "ml"]
    assert pd.isna(frame["label"].tolist()[2])


def test_jsonl_configurable_field_names(tmp_path):
    records = [
        {"pid": "x-1", "name": "Custom Title", "summary": ABSTRACT, "published": "2020-01-02", "label": "a"},
        {"pid": "x-2", "name": "Other Title", "summary": "Other. " + ABSTRACT, "published": "5 Feb 2021"},
    ]
    path = write_jsonl(tmp_path / "custom.jsonl", records)
    names = FieldNames(title="name", abstract="summary", id="pid", date="published")
    corpus = read_corpus(path, fields=names)
    assert [(p.id, p.title, p.date) for p in corpus] == [
        ("x-1", "Custom Title", "2020-01-02"),
        ("x-2", "Other Title", "2021-02-05"),
    ]
    assert corpus.get("x-1").abstract == ABSTRACT
    # the named fields are not repeated as metadata; other columns are
    assert corpus.get("x-1").metadata == {"label": "a"}
    # with the default names no entry has a title and an abstract
    with pytest.raises(InputError, match="none of its 2 entries has both a title") as info:
        read_corpus(path)
    assert info.value.path == str(path)


def test_unreadable_date_is_kept_as_text(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"title": "T", "abstract": ABSTRACT, "date": "sometime in 2020"}])
    (paper,) = read_corpus(path)
    assert paper.date is None
    assert paper.metadata == {"date_text": "sometime in 2020"}


def test_jsonl_blank_lines_and_skip_line_numbers(tmp_path):
    path = tmp_path / "gaps.jsonl"
    path.write_text(
        json.dumps({"title": "Kept One", "abstract": ABSTRACT})
        + "\n\n   \n"
        + json.dumps({"title": "No Abstract", "abstract": "  "})
        + "\n"
        + json.dumps({"title": "", "abstract": ABSTRACT})
        + "\n"
        + json.dumps({"title": "Kept Two", "abstract": ABSTRACT + " 2"})
        + "\n",
        encoding="utf-8",
    )
    corpus, report = read_papers([path])
    assert [p.title for p in corpus] == ["Kept One", "Kept Two"]
    assert report.files == {path.as_posix(): 4}
    assert report.skipped == [
        f"{path.as_posix()}:4: empty abstract (field 'abstract')",
        f"{path.as_posix()}:5: empty title (field 'title')",
    ]
    assert "skipped 2;" in report.summary()
    assert report.summary() == (
        "read 4 entries from 1 file; skipped 2; merged 0 duplicates; 2 papers"
    )


def test_all_entries_empty_is_an_error(tmp_path):
    path = write_jsonl(
        tmp_path / "empty_entries.jsonl",
        [{"title": "A", "abstract": ""}, {"title": None, "abstract": ABSTRACT}],
    )
    with pytest.raises(InputError, match="none of its 2 entries") as info:
        read_papers([path])
    assert info.value.path == str(path)


def test_json_array_file_is_read(tmp_path):
    path = tmp_path / "papers.json"
    path.write_text(json.dumps(RECORDS[:2], indent=1), encoding="utf-8")
    corpus = read_corpus(path)
    assert [(p.id, p.title, p.metadata.get("label")) for p in corpus] == [
        ("p1", "Learning to Rank", "ir"),
        ("p2", "Graph Networks", "ml"),
    ]


def test_json_array_skips_name_the_line(tmp_path):
    path = tmp_path / "skips.json"
    records = [{"title": "Kept", "abstract": ABSTRACT}, {"title": "Gone", "abstract": ""}]
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    assert path.read_text(encoding="utf-8").splitlines()[5] == " {"  # line 6
    corpus, report = read_papers([path])
    assert [p.title for p in corpus] == ["Kept"]
    assert report.skipped == [f"{path.as_posix()}:6: empty abstract (field 'abstract')"]


def test_json_array_errors_name_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n {"title": "A", "abstract": "B long"},\n 3\n]\n', encoding="utf-8")
    with pytest.raises(InputError, match="expected a JSON object") as info:
        read_corpus(path)
    assert info.value.line == 3
    path.write_text('[\n {"title": "A", "abstract": "B long"},\n {"title": \n]\n', encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON") as info:
        read_corpus(path)
    assert info.value.line == 4


# --- CSV ----------------------------------------------------------------------------------


def test_csv_quoted_multiline_abstracts(tmp_path):
    path = tmp_path / "papers.csv"
    path.write_text(
        "id,title,abstract,upvotes,label\n"
        'c1,"Commas, and ""quotes""","Line one of the abstract,\n'
        "line two of it.\n"
        'line three.",5,x\n'
        "c2,Plain Title,A plain abstract without any quoting at all.,,y\n",
        encoding="utf-8",
    )
    corpus = read_corpus(path)
    first, second = corpus
    assert first.title == 'Commas, and "quotes"'
    assert first.abstract == "Line one of the abstract, line two of it. line three."
    assert (first.upvotes, first.metadata) == (5, {"label": "x"})
    assert (second.id, second.upvotes, second.metadata) == ("c2", None, {"label": "y"})


def test_csv_missing_column(tmp_path):
    path = tmp_path / "named.csv"
    path.write_text("name,summary\nA,B is longer\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_corpus(path)
    assert (info.value.path, info.value.line) == (str(path), 1)
    message = str(info.value)
    assert message.startswith(f"{path}:1: CSV has no column 'title', 'abstract'")
    assert "columns: name, summary" in message
    assert "--title-field" in message
    corpus = read_corpus(path, fields=FieldNames(title="name", abstract="summary"))
    assert [(p.title, p.abstract) for p in corpus] == [("A", "B is longer")]


def test_csv_row_with_wrong_field_count(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(
        "title,abstract\n"  # line 1
        'Good,"An abstract\nover two lines"\n'  # lines 2-3
        "\n"  # line 4: blank rows are passed over
        "Bad,abstract,extra\n",  # line 5
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        read_corpus(path)
    assert info.value.line == 5
    assert str(info.value) == f"{path}:5: row has 3 fields, the header has 2"


def test_csv_unclosed_quote_is_an_error(tmp_path):
    # without this check the open quote would swallow every later row into one abstract
    path = tmp_path / "unclosed.csv"
    path.write_text(
        'title,abstract\nFine,A fine abstract\nBroken,"An abstract never closed\nNext,row\nLast,row\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="malformed CSV") as info:
        read_corpus(path)
    assert info.value.line == 3


def test_csv_skipped_rows_name_their_line(tmp_path):
    path = tmp_path / "skips.csv"
    path.write_text(
        'title,abstract\nFirst,"An abstract\nover two lines"\nSecond,\nThird,A third abstract\n',
        encoding="utf-8",
    )
    corpus, report = read_papers([path])
    assert [p.title for p in corpus] == ["First", "Third"]
    assert report.skipped == [f"{path.as_posix()}:4: empty abstract (field 'abstract')"]


def test_csv_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("title,abstract\n", encoding="utf-8")
    with pytest.raises(InputError, match="no entries found"):
        read_corpus(path)


# --- Parquet --------------------------------------------------------------------------------


def test_parquet(tmp_path):
    frame = pd.DataFrame(
        {
            "id": ["q1", "q2"],
            "title": ["Parquet One", "Parquet Two"],
            "abstract": ["The first abstract. " + ABSTRACT, "The second abstract. " + ABSTRACT],
            "date": ["2022-02-02", None],
            "tags": [["a", "b"], ["c"]],
            "label": ["l1", "l2"],
        }
    )
    path = tmp_path / "papers.parquet"
    frame.to_parquet(path, index=False)
    corpus = read_corpus(path)
    assert [(p.id, p.title, p.date) for p in corpus] == [
        ("q1", "Parquet One", "2022-02-02"),
        ("q2", "Parquet Two", None),
    ]
    assert corpus.get("q1").metadata == {"tags": ["a", "b"], "label": "l1"}


def test_parquet_missing_column(tmp_path):
    path = tmp_path / "cols.parquet"
    pd.DataFrame({"title": ["T"], "summary": ["S"]}).to_parquet(path, index=False)
    with pytest.raises(InputError, match="Parquet file has no column 'abstract'") as info:
        read_corpus(path)
    assert info.value.path == str(path)


def test_not_a_parquet_file(tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text("title,abstract\nA,B\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a Parquet file"):
        read_corpus(path)
    path.write_bytes(b"PAR1" + b"\x01" * 100)
    with pytest.raises(InputError, match="cannot read Parquet"):
        read_corpus(path)


# --- gzip -----------------------------------------------------------------------------------


def test_gzip_of_each_format(tmp_path):
    frame = pd.DataFrame(RECORDS)
    plain = {
        "jsonl": write_jsonl(tmp_path / "p.jsonl", RECORDS),
        "csv": tmp_path / "p.csv",
        "parquet": tmp_path / "p.parquet",
    }
    frame.to_csv(plain["csv"], index=False)
    frame.to_parquet(plain["parquet"], index=False)
    for fmt, path in plain.items():
        zipped = write_gz(tmp_path / (path.name + ".gz"), path.read_bytes())
        assert zipped.name == f"p.{fmt}.gz"
        assert detect_format(zipped) == fmt
        expected = [(p.id, p.title, p.abstract, p.date, p.metadata.get("label")) for p in read_corpus(path)]
        found = read_corpus(zipped)
        assert [(p.id, p.title, p.abstract, p.date, p.metadata.get("label")) for p in found] == expected
        assert len(expected) == 3
        assert found[0].sources == (zipped.as_posix(),)


def test_gz_name_without_gzip_data(tmp_path):
    path = write_jsonl(tmp_path / "plain.jsonl.gz", RECORDS)
    with pytest.raises(InputError, match="named .gz but is not gzip-compressed") as info:
        read_corpus(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize(
    "make",
    [
        lambda data: gzip.compress(data)[:-12],  # truncated
        lambda data: b"\x1f\x8b" + b"\x08\x00" + b"junk" * 20,  # garbage after the magic
    ],
    ids=["truncated", "garbage"],
)
def test_corrupt_gzip(tmp_path, make):
    data = "".join(json.dumps(r) + "\n" for r in RECORDS).encode()
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(make(data))
    with pytest.raises(InputError, match="corrupt gzip data") as info:
        read_corpus(path)
    assert str(info.value).startswith(f"{path}: ")


# --- arXiv metadata -------------------------------------------------------------------------

ARXIV = {
    "id": "2101.00001",
    "submitter": "Ann One",
    "authors": "Ann One, Bob Two and\n  Cid Three",
    "title": "A Study of\n  Hard  Line Breaks",
    "comments": "10 pages",
    "journal-ref": None,
    "doi": None,
    "categories": "cs.CL cs.LG",
    "license": None,
    "abstract": "  We study hard line breaks.\nThey appear  in arXiv\nabstracts.  ",
    "versions": [
        {"version": "v1", "created": "Mon, 4 Jan 2021 18:59:59 GMT"},
        {"version": "v2", "created": "Tue, 2 Feb 2021 10:00:00 GMT"},
    ],
    "update_date": "2021-02-03",
    "authors_parsed": [["One", "Ann", ""], ["Two", "Bob", ""], ["Three", "Cid", ""]],
}


def test_arxiv_records_autodetected(tmp_path):
    second = {
        "id": "2101.00002",
        "title": "Only An Update Date",
        "abstract": "An abstract. " + ABSTRACT,
        "categories": "math.CO",
        "authors": "Solo Author",
        "update_date": "2021-05-06",
    }
    path = write_jsonl(tmp_path / "arxiv-metadata.jsonl", [ARXIV, second])
    first, other = read_corpus(path)
    assert first.id == first.arxiv_id == "2101.00001"
    assert first.title == "A Study of Hard Line Breaks"
    assert first.abstract == "We study hard line breaks. They appear in arXiv abstracts."
    assert first.url == "https://arxiv.org/abs/2101.00001"
    assert first.date == "2021-01-04"  # the first version's date
    assert first.byline == "3 authors"
    assert first.metadata == {
        "categories": "cs.CL cs.LG",
        "authors": "Ann One, Bob Two and Cid Three",
        "comments": "10 pages",
        "update_date": "2021-02-03",
    }
    assert (other.date, other.byline, other.url) == ("2021-05-06", "1 author", "https://arxiv.org/abs/2101.00002")


def test_arxiv_format_forced(tmp_path):
    # no "categories": not recognised as arXiv by its keys ...
    record = {"id": "1706.03762", "title": "Attention Is All You\n Need", "abstract": ABSTRACT}
    path = write_jsonl(tmp_path / "records.jsonl", [record])
    (plain,) = read_corpus(path)
    assert (plain.url, plain.arxiv_id) == (None, None)
    # ... unless the format is named
    (paper,) = read_corpus(path, format="arxiv")
    assert paper.title == "Attention Is All You Need"
    assert (paper.id, paper.arxiv_id, paper.url) == ("1706.03762", "1706.03762", "https://arxiv.org/abs/1706.03762")


def test_arxiv_autodetection_off_with_custom_fields(tmp_path):
    path = write_jsonl(tmp_path / "arxiv.jsonl", [ARXIV])
    (paper,) = read_corpus(path, fields=FieldNames(title="title", abstract="abstract", id="id", date="update_date"))
    assert paper.url is None  # read as generic records
    assert paper.date == "2021-02-03"
    assert paper.metadata["categories"] == "cs.CL cs.LG"


def test_arxiv_gzip(tmp_path):
    path = write_jsonl(tmp_path / "arxiv.jsonl.gz", [ARXIV], compress=True)
    (paper,) = read_corpus(path)
    assert paper.url == "https://arxiv.org/abs/2101.00001"


# --- the labeled eval sets ------------------------------------------------------------------


def test_eval_file_format(tmp_path):
    path = write_gz(tmp_path / "eval.jsonl.gz", ("\n".join(EVAL_LINES) + "\n").encode("utf-8"))
    corpus, report = read_papers([path])
    assert report.files == {path.as_posix(): 3}
    assert corpus.ids == ["0704.0001", "0704.0002", "0704.0003"]
    assert [p.metadata["label"] for p in corpus] == ["hep-ph", "math", "physics"]
    second = corpus.get("0704.0002")
    assert second.title == "Sparsity-certifying Graph Decompositions"
    assert second.abstract.startswith(r"We describe a new algorithm, the $(k,\ell)$-pebble game")
    assert second.metadata["labels"] == ["math.CO", "cs.CG"]
    assert second.metadata["meta"]["primary_category"] == "math.CO"
    assert second.url is None  # not arXiv snapshot records (no categories)
    frame = corpus.to_frame()
    assert frame["label"].tolist() == ["hep-ph", "math", "physics"]
    assert "Roche's limit" in corpus.get("0704.0003").abstract


def test_eval_sample_matches_shared_file(repo_root):
    shared = repo_root.parent / "shared" / "eval" / "arxiv2007_sample.jsonl.gz"
    if not shared.exists():
        pytest.skip("shared eval sets not present")
    with gzip.open(shared, "rt", encoding="utf-8") as handle:
        first = [json.loads(next(handle)) for _ in range(3)]
    assert first == [json.loads(line) for line in EVAL_LINES]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \n\n \t\n"], ids=["empty", "whitespace"])
@pytest.mark.parametrize("name", ["e.jsonl", "e.csv", "e.txt"])
def test_empty_file(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_corpus(path)
    assert str(info.value) == f"{path}: file is empty"


def test_empty_gzip_file(tmp_path):
    path = write_gz(tmp_path / "e.jsonl.gz", b"")
    with pytest.raises(InputError, match="file is empty"):
        read_corpus(path)


@pytest.mark.parametrize("name", ["blob.jsonl", "blob.csv", "blob.txt"])
def test_binary_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputError) as info:
        read_corpus(path)
    assert str(info.value) == f"{path}: binary file, expected UTF-8 text"


def test_non_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    lines = [json.dumps({"title": "Fine", "abstract": ABSTRACT}), json.dumps({"title": "Also fine", "abstract": ABSTRACT})]
    path.write_bytes(("\n".join(lines) + "\n").encode() + '{"title": "Caf\xe9", "abstract": "x"}\n'.encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_corpus(path)
    assert info.value.line == 3
    assert str(info.value) == f"{path}:3: not UTF-8 text (byte 0xe9)"


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftitle,abstract\nT,An abstract\n".encode("utf-8"))
    assert [p.title for p in read_corpus(path)] == ["T"]


def test_invalid_json_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"title": "T", "abstract": ABSTRACT}) + '\n{"title": "broken",\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"invalid JSON") as info:
        read_corpus(path)
    assert info.value.line == 2
    assert str(info.value).startswith(f"{path}:2: invalid JSON (")


@pytest.mark.parametrize("line", ['"just a string"', "[1, 2, 3]", "42", "null"])
def test_json_line_not_an_object(tmp_path, line):
    path = tmp_path / "notobj.jsonl"
    path.write_text(json.dumps({"title": "T", "abstract": ABSTRACT}) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_corpus(path)
    assert str(info.value) == f"{path}:2: expected a JSON object on each line"


def test_unknown_suffix(tmp_path):
    path = tmp_path / "notes.docx"
    path.write_text("title,abstract\nT,An abstract\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown file type; pass --format") as info:
        read_corpus(path)
    assert info.value.path == str(path)
    # a named format reads it anyway
    assert [p.title for p in read_corpus(path, format="csv")] == ["T"]


def test_unknown_format_name(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", RECORDS)
    with pytest.raises(PaperatlasError, match="unknown format 'xml'"):
        read_corpus(path, format="xml")


def test_missing_path(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as info:
        read_corpus(missing)
    assert str(info.value) == f"{missing}: no such file or folder"


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PaperatlasError, match="no input files found"):
        read_corpus(tmp_path / "empty")


def test_folder_of_mixed_formats(tmp_path, seed_page):
    folder = tmp_path / "inputs"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    write_jsonl(folder / "a.jsonl", RECORDS[:2])
    pd.DataFrame(
        {"title": ["CSV Paper", "graph networks"], "abstract": ["A CSV abstract. " + ABSTRACT, "Dup. " + ABSTRACT]}
    ).to_csv(folder / "b.csv", index=False)
    pd.DataFrame({"title": ["Parquet Paper"], "abstract": ["A Parquet abstract. " + ABSTRACT]}).to_parquet(
        folder / "sub" / "c.parquet", index=False
    )
    write_gz(folder / "sub" / "d.jsonl.gz", (EVAL_LINES[0] + "\n").encode())
    (folder / "e.txt").write_bytes(seed_page("001").read_bytes())
    (folder / "README.md").write_text("# not an input\n", encoding="utf-8")
    write_jsonl(folder / ".hidden" / "x.jsonl", RECORDS)  # hidden folders are passed over
    corpus, report = read_papers([folder])
    names = {Path(name).relative_to(folder).as_posix(): n for name, n in report.files.items()}
    assert names == {"a.jsonl": 2, "b.csv": 2, "e.txt": 42, "sub/c.parquet": 1, "sub/d.jsonl.gz": 1}
    assert report.ignored_files == [str(folder / "README.md")]
    assert "ignored 1 files of unknown type" in report.summary()
    assert report.merged == 1  # "graph networks" in b.csv is "Graph Networks" from a.jsonl
    assert report.papers == len(corpus) == 48 - 1
    graph = corpus.get("p2")
    assert graph.sources == ((folder / "a.jsonl").as_posix(), (folder / "b.csv").as_posix())
    assert corpus.get("0704.0001").metadata["label"] == "hep-ph"


def test_files_and_folders_together(tmp_path, seed_page):
    jsonl = write_jsonl(tmp_path / "a.jsonl", RECORDS)
    corpus, report = read_papers([jsonl, seed_page("003")])
    assert report.entries == 3 + 46
    assert len(corpus) == 49


def test_read_corpus_accepts_one_path(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", RECORDS)
    assert len(read_corpus(str(path))) == len(read_corpus(path)) == len(read_corpus([path])) == 3


# --- written tables read back ---------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet", ".json"])
def test_written_tables_read_back(tmp_path, seeds, suffix):
    corpus = read_corpus(seeds)
    out = tmp_path / f"papers{suffix}"
    write_papers(corpus, out)
    again = read_corpus(out)
    assert len(again) == 350
    assert list(again) == list(corpus)  # every field, sources and content hashes included


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".json"])
def test_written_tables_keep_metadata(tmp_path, suffix):
    path = write_gz(tmp_path / "eval.jsonl.gz", ("\n".join(EVAL_LINES) + "\n").encode("utf-8"))
    corpus = read_corpus(path)
    out = tmp_path / f"eval{suffix}"
    write_papers(corpus, out)
    again = read_corpus(out)
    assert [p.metadata for p in again] == [p.metadata for p in corpus]
    assert [p.sources for p in again] == [(path.as_posix(),)] * 3


def test_written_csv_keeps_labels(tmp_path):
    path = write_gz(tmp_path / "eval.jsonl.gz", ("\n".join(EVAL_LINES) + "\n").encode("utf-8"))
    out = tmp_path / "eval.csv"
    write_papers(read_corpus(path), out)
    again = read_corpus(out)
    assert [p.metadata["label"] for p in again] == ["hep-ph", "math", "physics"]
    assert again.ids == ["0704.0001", "0704.0002", "0704.0003"]
