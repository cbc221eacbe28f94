"""The Paper record and the Corpus that holds many of them."""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from paperatlas.errors import PaperatlasError

#: The Paper fields, in column order, as they appear in a DataFrame.
PAPER_COLUMNS = (
    "id",
    "title",
    "abstract",
    "date",
    "upvotes",
    "byline",
    "url",
    "arxiv_id",
    "sources",
    "content_hash",
)

ALIASES = "aliases"
"""The optional column of other ids a paper answers to: the input ids of records merged into it
(:mod:`paperatlas.corpus.dedupe`). Tables carry it only when some paper has an alias."""

_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)


def clean_text(text: str) -> str:
    """Collapse runs of whitespace (arXiv hard line breaks, double spaces) to one space."""
    return _SPACE.sub(" ", text).strip()


def normalise_title(title: str) -> str:
    """The dedupe key of a title: case, accents, punctuation and whitespace folded."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _NON_WORD.sub(" ", text.replace("_", " "))
    return _SPACE.sub(" ", text).strip()


def content_hash(title: str, abstract: str) -> str:
    """A stable hash of the text that gets embedded (title and abstract); a lone surrogate (which the
    readers replace with U+FFFD, but a Paper made in code may hold) is hashed, not refused."""
    payload = f"{clean_text(title)}\n{clean_text(abstract)}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(payload).hexdigest()[:24]


def title_id(title: str) -> str:
    """A stable id for a paper that has none: derived from its normalised title."""
    return "t-" + hashlib.sha256(normalise_title(title).encode("utf-8", "surrogatepass")).hexdigest()[:12]


@dataclass(frozen=True)
class Paper:
    """One paper. Optional fields are ``None`` when the input did not say."""

    id: str
    title: str
    abstract: str
    date: str | None = None  # ISO date, YYYY-MM-DD
    upvotes: int | None = None
    byline: str | None = None  # "N authors" or an organisation name
    url: str | None = None
    arxiv_id: str | None = None
    sources: tuple[str, ...] = ()
    content_hash: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # other ids that name this paper (of records merged into it)

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", content_hash(self.title, self.abstract))
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "aliases", tuple(self.aliases))

    @property
    def text(self) -> str:
        """The text an embedder sees: ``title + ". " + abstract``."""
        return f"{self.title}. {self.abstract}"

    @property
    def link(self) -> str | None:
        """Where to read the paper: its ``url``, else its arXiv page, else None."""
        return self.url or (f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None)

    def richness(self) -> tuple[int, int]:
        """How much this record knows: filled optional fields, then abstract length."""
        known = sum(
            value is not None
            for value in (self.date, self.upvotes, self.byline, self.url, self.arxiv_id)
        )
        return known + len(self.metadata), len(self.abstract)

    def to_record(self) -> dict[str, Any]:
        """A flat dict: the Paper fields, ``aliases`` when there are any, then the metadata columns."""
        record: dict[str, Any] = {name: getattr(self, name) for name in PAPER_COLUMNS}
        record["sources"] = list(self.sources)
        if self.aliases:
            record[ALIASES] = list(self.aliases)
        for key, value in self.metadata.items():
            if key not in record:
                record[key] = value
        return record

    def with_changes(self, **changes: Any) -> Paper:
        """A copy with some fields replaced."""
        return replace(self, **changes)


_MISSING_TYPES = ("NAType", "NaTType")  # pandas.NA and pandas.NaT, named so that pandas need not be imported


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in _MISSING_TYPES


def _as_sources(value: Any) -> tuple[str, ...]:
    if _is_missing(value):
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            names = json.loads(text)
            if not isinstance(names, list):
                raise TypeError("not a list")
            return tuple(str(name) for name in names)
        return tuple(part for part in text.split("|") if part)
    return tuple(str(part) for part in value)


def _safe_sources(value: Any) -> tuple[str, ...]:
    """A ``sources`` value as read from a table; text that is not a JSON list is kept as one source."""
    try:
        return _as_sources(value)
    except (ValueError, RecursionError, TypeError):
        return (str(value),)


def as_aliases(value: Any) -> tuple[str, ...]:
    """An ``aliases`` value as read from a table: a list, JSON list text or ``a|b`` text; missing is ``()``."""
    try:
        names = _as_sources(value)
    except (ValueError, RecursionError, TypeError):
        raise PaperatlasError(f"aliases must be a list of paper ids, not {str(value)[:60]!r}") from None
    return tuple(dict.fromkeys(str(name).strip() for name in names if str(name).strip()))


def paper_from_record(record: Mapping[str, Any]) -> Paper:
    """Build a Paper from a flat dict as written by :meth:`Paper.to_record`."""
    known: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for key, value in record.items():
        if key in PAPER_COLUMNS:
            known[key] = None if _is_missing(value) else value
        elif key == ALIASES:
            continue
        elif not _is_missing(value):
            metadata[key] = value.tolist() if hasattr(value, "tolist") else value
    upvotes = known.get("upvotes")
    return Paper(
        id=str(known["id"]),
        title=str(known["title"]),
        abstract=str(known["abstract"]),
        date=str(known["date"])[:10] if known.get("date") is not None else None,
        upvotes=int(upvotes) if upvotes is not None else None,
        byline=known.get("byline"),
        url=known.get("url"),
        arxiv_id=known.get("arxiv_id"),
        sources=_safe_sources(record.get("sources")),
        content_hash=known.get("content_hash") or "",
        metadata=metadata,
        aliases=as_aliases(record.get(ALIASES)),
    )


class Corpus(Sequence[Paper]):
    """An ordered collection of papers with unique ids.

    Built from Paper records, or read on demand from an Arrow table
    (:meth:`from_arrow`, as an atlas loads its papers): then a Paper object
    is made only when a row is asked for, and ids, titles and texts come
    straight from the columns.

    A paper may also answer to aliases (:attr:`Paper.aliases`, the ids of input
    records merged into it): ``alias in corpus``, :meth:`row` and :meth:`get`
    resolve them to that paper, so everything that looks an id up accepts them.
    """

    def __init__(self, papers: Iterable[Paper] = ()) -> None:
        self._papers: list[Paper | None] = list(papers)
        self._table = None
        self._json_columns: tuple[str, ...] = ()
        self._rows: dict[str, int] | None = None
        self._aliases: dict[str, int] | None = None
        self._id_order = None
        self._row_index()
        self._alias_index()

    @classmethod
    def from_arrow(cls, table, json_columns: Sequence[str] = (), id_order=None) -> Corpus:
        """Papers read on demand from a ``pyarrow.Table`` of :meth:`to_frame` columns.

        ``json_columns`` hold JSON text that is decoded when a paper is read.
        ``id_order`` (a callable returning the rows sorted by id, as an atlas stores
        them) lets a single id be found by binary search instead of a dict of all ids.
        """
        missing = [name for name in ("id", "title", "abstract") if name not in table.column_names]
        if missing:
            raise PaperatlasError(f"paper table lacks column(s) {', '.join(missing)}")
        corpus = cls.__new__(cls)
        corpus._papers = [None] * table.num_rows
        corpus._table = table
        corpus._json_columns = tuple(json_columns)
        corpus._rows = None
        corpus._aliases = None
        corpus._id_order = id_order
        return corpus

    @property
    def json_columns(self) -> tuple[str, ...]:
        """Columns of :attr:`arrow_table` that hold JSON text."""
        return self._json_columns

    @property
    def arrow_table(self):
        """The Arrow table this corpus reads from (None for one built from Paper records)."""
        return self._table

    def _row_index(self) -> dict[str, int]:
        if self._rows is None:
            rows: dict[str, int] = {}
            for row, paper_id in enumerate(self.ids):
                if paper_id in rows:
                    raise PaperatlasError(f"duplicate paper id {paper_id!r} in corpus")
                rows[paper_id] = row
            self._rows = rows
        return self._rows

    def _alias_index(self) -> dict[str, int]:
        """Alias → row, built on first use from the papers that have aliases (few, in any corpus)."""
        if self._aliases is None:
            if self._table is None:
                pairs = [(row, paper.aliases) for row, paper in enumerate(self._papers) if paper.aliases]
            elif ALIASES in self._table.column_names:
                import pyarrow.compute as pc

                column = self._table.column(ALIASES)
                rows = pc.indices_nonzero(pc.fill_null(pc.list_value_length(column), 0)).to_pylist()
                pairs = list(zip(rows, column.take(rows).to_pylist()))
            else:
                pairs = []
            aliases: dict[str, int] = {}
            for row, names in pairs:
                for name in names:
                    if name in aliases or self._find_id(name) is not None:
                        owner = self._papers[row].id if self._table is None else self._table.column("id")[row].as_py()
                        raise PaperatlasError(f"duplicate paper id {name!r} in corpus (also an alias of {owner!r})")
                    aliases[name] = row
            self._aliases = aliases
        return self._aliases

    def _find(self, paper_id: str) -> int | None:
        """The row of ``paper_id`` (or of the paper it is an alias of), or None."""
        row = self._find_id(paper_id)
        if row is None and isinstance(paper_id, str):
            row = self._alias_index().get(paper_id)
        return row

    def _find_id(self, paper_id: str) -> int | None:
        """The row of a paper's own id or None: by binary search over the id order when there is
        one and no dict of all ids has been built yet."""
        if self._rows is None and self._id_order is not None and isinstance(paper_id, str):
            if callable(self._id_order):
                self._id_order = self._id_order()
            ids, order = self._table.column("id"), self._id_order
            low, high = 0, len(order)
            while low < high:
                middle = (low + high) // 2
                if ids[int(order[middle])].as_py() < paper_id:
                    low = middle + 1
                else:
                    high = middle
            if low < len(order) and ids[int(order[low])].as_py() == paper_id:
                return int(order[low])
            return None
        return self._row_index().get(paper_id)

    def _paper(self, row: int) -> Paper:
        paper = self._papers[row]
        if paper is None:
            self._read([row])
            paper = self._papers[row]
        return paper

    def _read(self, rows: list[int]) -> None:
        """Make the Paper objects of ``rows`` from the Arrow table (zero-copy slices: a take over a
        memory-mapped, chunked table would copy whole columns)."""
        if len(rows) > 64:
            records = self._table.take(rows).to_pylist()
        else:
            import pyarrow as pa

            records = pa.concat_tables([self._table.slice(row, 1) for row in rows]).to_pylist()
        for row, record in zip(rows, records):
            for column in self._json_columns:
                if record.get(column) is not None:
                    record[column] = json.loads(record[column])
            self._papers[row] = paper_from_record(record)

    def papers(self, rows: Sequence[int]) -> list[Paper]:
        """The papers at ``rows`` (read together when they come from an Arrow table)."""
        rows = [range(len(self))[int(row)] for row in rows]
        missing = [row for row in dict.fromkeys(rows) if self._papers[row] is None]
        if missing:
            self._read(missing)
        return [self._papers[row] for row in rows]

    def __len__(self) -> int:
        return len(self._papers)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return Corpus(self._paper(row) for row in range(len(self))[index])
        return self._paper(range(len(self))[index])

    def __iter__(self) -> Iterator[Paper]:
        return (self._paper(row) for row in range(len(self)))

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return self._find(item) is not None
        return isinstance(item, Paper) and self._find(item.id) is not None and self.get(item.id) == item

    def __repr__(self) -> str:
        return f"Corpus({len(self)} papers)"

    @property
    def ids(self) -> list[str]:
        return self.column("id")

    def column(self, name: str) -> list[Any]:
        """One Paper field (``id``, ``title``, ``date``, ...) of every paper, in order."""
        if name not in PAPER_COLUMNS and name != ALIASES:
            raise PaperatlasError(f"unknown paper field {name!r}")
        if self._table is not None:
            if name in ("sources", ALIASES):
                if name not in self._table.column_names:
                    return [()] * len(self)
                return [tuple(value or ()) for value in self._table.column(name).to_pylist()]
            return self._table.column(name).to_pylist() if name in self._table.column_names else [None] * len(self)
        return [getattr(paper, name) for paper in self._papers]

    def get(self, paper_id: str) -> Paper:
        """The paper with this id or alias; ``KeyError`` if there is none."""
        return self._paper(self.row(paper_id))

    def row(self, paper_id: str) -> int:
        """The position of a paper id or alias; ``KeyError`` if there is none."""
        row = self._find(paper_id)
        if row is None:
            raise KeyError(paper_id)
        return row

    def texts(self) -> list[str]:
        """What an embedder sees of each paper (:attr:`Paper.text`)."""
        return [f"{title}. {abstract}" for title, abstract in zip(self.column("title"), self.column("abstract"))]

    def subset(self, keep) -> Corpus:
        """The papers where the boolean mask ``keep`` is true, in order."""
        if self._table is None:
            return Corpus(paper for paper, kept in zip(self, keep) if kept)
        import pyarrow as pa

        return Corpus.from_arrow(self._table.filter(pa.array(np.asarray(keep, dtype=bool))), self._json_columns)

    def lazy_texts(self) -> Sequence[str]:
        """:meth:`texts` read one at a time when asked for (a sample of a large corpus costs only its size)."""
        return _Texts(self)

    def metadata_columns(self) -> list[str]:
        """Extra input columns, in first-seen order."""
        if self._table is not None:
            return [
                name for name in self._table.column_names
                if name not in PAPER_COLUMNS and name != ALIASES and self._table.column(name).null_count < len(self)
            ]
        seen: dict[str, None] = {}
        for paper in self._papers:
            for key in paper.metadata:
                seen.setdefault(key, None)
        return list(seen)

    def to_frame(self):
        """A pandas DataFrame: one row a paper, Paper fields, ``aliases`` (lists; only when some
        paper has any), then metadata columns."""
        import pandas as pd

        with_aliases = bool(self._alias_index())
        columns = list(PAPER_COLUMNS) + [ALIASES] * with_aliases + [
            c for c in self.metadata_columns() if c not in PAPER_COLUMNS
        ]
        frame = pd.DataFrame([paper.to_record() for paper in self], columns=columns)
        frame["upvotes"] = frame["upvotes"].astype("Int64")
        if with_aliases:
            frame[ALIASES] = [list(names) for names in self.column(ALIASES)]
        return frame

    @classmethod
    def from_frame(cls, frame) -> Corpus:
        """The inverse of :meth:`to_frame`."""
        return cls(paper_from_record(record) for record in frame.to_dict(orient="records"))

    def to_jsonl(self, path) -> None:
        """Write one JSON object a paper (the flat record), UTF-8."""
        from paperatlas.corpus.jsontext import json_line

        with open(path, "w", encoding="utf-8") as handle:
            for paper in self:
                handle.write(json_line(paper.to_record()) + "\n")


class _Texts(Sequence[str]):
    """The texts of a corpus, made on demand (from the Arrow columns when there are any)."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus
        table = corpus.arrow_table
        self._columns = None if table is None else (table.column("title"), table.column("abstract"))

    def __len__(self) -> int:
        return len(self._corpus)

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return [self[i] for i in range(len(self))[row]]
        if self._columns is None:
            return self._corpus[row].text
        row = range(len(self))[row]
        return f"{self._columns[0][row].as_py()}. {self._columns[1][row].as_py()}"
