"""Find similar papers: by free text, paper id, title, or several papers (more/less like these).

Everything a query needs beyond the vectors and the index (term statistics,
title keys, the query embedder) is the atlas's :class:`SearchState`, saved
with it; topic filters read the topics record's labels.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from paperatlas.corpus.dates import parse_date
from paperatlas.corpus.model import normalise_title
from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas

QUERY_KINDS = ("auto", "text", "id", "title")
SEARCH_MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
RRF_K = 60
"""Reciprocal rank fusion: a hit at rank r (from 1) of a ranking scores weight / (RRF_K + r)."""
LEXICAL_WEIGHT = {"text": 0.6, "papers": 0.2}
"""The lexical ranking's weight in hybrid fusion (the dense one gets the rest), for text queries
and for paper (id / title / several-paper) queries; chosen on the public labelled sets by
benchmarks/bench_hybrid.py."""
FUSION_DEPTH = 100
"""Candidates taken from each ranking before fusion (at least k)."""
NEGATIVE_WEIGHT = 0.5
TITLE_CUTOFF = 0.8
RESULT_FIELDS = ("id", "title", "score", "topic_id", "topic", "date", "url", "why")


class SearchError(PaperatlasError):
    """A query that cannot be answered as asked (empty, unknown ids, bad k, ...)."""


class SearchResults(list):
    """Hits as a list of dicts (best first), with :meth:`to_frame` for a DataFrame."""

    def __init__(self, hits: Sequence[dict[str, Any]], query: dict[str, Any]) -> None:
        super().__init__(hits)
        self.query = query

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(list(self), columns=list(RESULT_FIELDS))

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        frame["why"] = frame["why"].map(", ".join)
        return f"<p><b>{len(self)} papers like</b> {self.query.get('description', '')}</p>" + frame.to_html(index=False)


@dataclass(frozen=True)
class ResolvedQuery:
    vector: np.ndarray
    rows: tuple[int, ...]  # the query papers, for id/title queries
    terms: Counter
    description: str
    text: str  # what the lexical ranking searches for: the query text or the query papers' texts


def _vector_of_rows(atlas: Atlas, positive: list[int], negative: list[int]) -> np.ndarray:
    vector = np.asarray(atlas.embeddings[positive]).mean(axis=0)
    if negative:
        vector = vector - NEGATIVE_WEIGHT * np.asarray(atlas.embeddings[negative]).mean(axis=0)
    norm = float(np.linalg.norm(vector))
    if norm < 1e-6:
        raise SearchError("the positive and negative papers cancel out; nothing is left to search for")
    return (vector / norm).astype(np.float32)


def _rows_of_ids(atlas: Atlas, ids: Sequence[str], role: str) -> list[int]:
    if isinstance(ids, str):
        ids = [ids]
    ids = list(ids)
    if not ids and role == "query":
        raise SearchError("the list of paper ids is empty")
    unknown = [paper_id for paper_id in ids if not isinstance(paper_id, str) or paper_id not in atlas.corpus]
    if unknown:
        known = len(ids) - len(unknown)
        raise SearchError(
            f"unknown {role} paper id(s): {', '.join(map(repr, unknown[:5]))}"
            + (f" ({known} of the {len(ids)} ids are known)" if known else "")
        )
    return [atlas.corpus.row(paper_id) for paper_id in ids]


def _title_row(atlas: Atlas, title: str, close: bool) -> int | None:
    """The row of the paper titled ``title`` (folded): an exact match; with ``close`` also the one
    title that starts with it (the part before a colon, say) or, failing that, the title whose
    start (as many words as asked) is spelled closest (difflib ratio ``TITLE_CUTOFF``). Several
    titles starting with it is an error that lists them."""
    wanted = normalise_title(title)
    titles = atlas.search_state.title_rows()
    if wanted in titles:
        return titles[wanted]
    if not close or not wanted:
        return None
    starting = [key for key in titles if key.startswith(wanted + " ")]
    if len(starting) == 1:
        return titles[starting[0]]
    if len(starting) > 1:
        shown = "; ".join(repr(atlas.corpus[titles[key]].title[:80]) for key in sorted(starting)[:5])
        more = f" and {len(starting) - 5} more" if len(starting) > 5 else ""
        raise SearchError(f"{len(starting)} titles start with {title!r}: {shown}{more}; give more of the title")
    words = len(wanted.split())
    heads: dict[str, str] = {}
    for key in titles:
        heads.setdefault(" ".join(key.split()[:words]), key)
    match = difflib.get_close_matches(wanted, list(heads), n=1, cutoff=TITLE_CUTOFF)
    return titles[heads[match[0]]] if match else None


ID_SUGGESTIONS = 3


def _looks_like_an_id(text: str) -> bool:
    """One token with a digit or an id separator ("-", "/", ".", ":", "_"): a mistyped id, not a word."""
    return " " not in text and any(ch.isdigit() or ch in "-/.:_" for ch in text)


def _unknown_id_error(atlas: Atlas, text: str) -> SearchError | None:
    """An error naming the closest ids when ``text`` looks like a mistyped id of this atlas."""
    if not _looks_like_an_id(text):
        return None
    candidates = [paper_id for paper_id in atlas.corpus.ids if abs(len(paper_id) - len(text)) <= 2]
    close = difflib.get_close_matches(text, candidates, n=ID_SUGGESTIONS, cutoff=0.75)
    if not close:
        return None
    return SearchError(f"unknown paper id {text!r}; did you mean {', '.join(map(repr, close))}?")


def resolve_query(atlas: Atlas, query: str | Sequence[str], by: str, negative: Sequence[str]) -> ResolvedQuery:
    """Turn a query into a unit vector, the query papers' rows and its terms."""
    if by not in QUERY_KINDS:
        raise SearchError(f"unknown query kind {by!r}; choose one of {', '.join(QUERY_KINDS)}")
    explainer = atlas.search_state.terms
    negative_rows = _rows_of_ids(atlas, negative, "negative") if negative else []
    if not isinstance(query, str):
        if by not in ("auto", "id"):
            raise SearchError(f"a list of papers is an id query, not a {by} query")
        rows = _rows_of_ids(atlas, query, "query")
    else:
        text = query.strip()
        if not text:
            raise SearchError("the query is empty")
        rows = []
        if by in ("auto", "id") and text in atlas.corpus:
            rows = [atlas.corpus.row(text)]
        elif by == "id":
            raise _unknown_id_error(atlas, text) or SearchError(f"unknown paper id {text!r}")
        elif by in ("auto", "title"):
            row = _title_row(atlas, text, close=by == "title")
            if row is not None:
                rows = [row]
            elif by == "title":
                raise SearchError(f"no paper titled like {text!r}")
        if not rows and by == "auto" and (mistyped := _unknown_id_error(atlas, text)) is not None:
            raise mistyped
        if not rows:
            vector = atlas.search_state.embedder(atlas.model).encode([text])[0]
            if negative_rows:
                vector = vector - NEGATIVE_WEIGHT * np.asarray(atlas.embeddings[negative_rows]).mean(axis=0)
                vector = (vector / max(float(np.linalg.norm(vector)), 1e-6)).astype(np.float32)
            return ResolvedQuery(vector, (), explainer.counts(text), f"text {text[:80]!r}", text)
    terms: Counter = Counter()
    texts = [atlas.corpus[row].text for row in rows]
    for text in texts:
        terms.update(explainer.counts(text))
    titles = "; ".join(atlas.corpus[row].title[:60] for row in rows[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    return ResolvedQuery(_vector_of_rows(atlas, rows, negative_rows), tuple(rows), terms, f"{titles}{more}",
                         "\n".join(texts))


def paper_topics(atlas: Atlas, layer: int = 0) -> tuple[np.ndarray | None, dict[int, str]]:
    """Each paper's topic id at ``layer`` (-1 = noise) and the topic names; ``(None, {})`` without topics."""
    if atlas.topics is None:
        return None, {}
    return atlas.topics.labels_at(layer), atlas.topics.names_at(layer)


def topic_mask(atlas: Atlas, topic: int | str, layer: int = 0) -> np.ndarray:
    """Which papers belong to a topic, given by id or name."""
    labels, names = paper_topics(atlas, layer)
    if labels is None:
        raise SearchError("this atlas has no topics yet; build it with topics to filter by topic")
    if isinstance(topic, str) and not topic.lstrip("-").isdigit():
        matches = [tid for tid, name in names.items() if name.casefold() == topic.casefold()]
        if not matches:
            raise SearchError(f"no topic named {topic!r} at layer {layer}")
        return np.isin(labels, matches)
    topic_id = int(topic)
    if topic_id not in names and topic_id != -1:
        raise SearchError(f"no topic {topic_id} at layer {layer}")
    return labels == topic_id


def _filter_mask(atlas: Atlas, topic, date_from, date_to, layer: int) -> np.ndarray | None:
    mask = None
    if topic is not None:
        mask = topic_mask(atlas, topic, layer=layer)
    if date_from is not None or date_to is not None:
        low, high = (parse_date(d) if d is not None else None for d in (date_from, date_to))
        for raw, parsed in ((date_from, low), (date_to, high)):
            if raw is not None and parsed is None:
                raise SearchError(f"cannot read the date {raw!r}; use YYYY-MM-DD")
        dates = np.array([date or "" for date in atlas.corpus.column("date")], dtype=object)
        in_range = dates != ""
        if low:
            in_range &= dates >= low
        if high:
            in_range &= dates <= high
        mask = in_range if mask is None else mask & in_range
    return mask


def find_similar_papers(
    atlas: Atlas,
    query: str | Sequence[str],
    k: int = 10,
    *,
    by: str = "auto",
    negative: Sequence[str] = (),
    topic: int | str | None = None,
    layer: int = 0,
    date_from: str | None = None,
    date_to: str | None = None,
    exclude_query: bool | None = None,
    mode: str = DEFAULT_MODE,
) -> SearchResults:
    """The ``k`` papers most similar to a query, best first.

    Args:
        atlas: the atlas to search.
        query: free text (a phrase or a whole abstract), a paper id, a title, or a
            list of paper ids ("more like these"). With ``by="auto"`` a string is an
            id if one matches, else a title if one matches exactly (after folding case
            and punctuation), else text. ``by="title"`` also accepts close matches.
        k: how many papers (at least 1); more than the atlas holds returns them all.
        negative: paper ids to steer away from ("less like those").
        topic: only papers of this topic (id or name) at ``layer``.
        date_from, date_to: only papers dated in this range (inclusive, YYYY-MM-DD);
            papers without a date are left out when either is given.
        exclude_query: leave the query papers out (default: yes for id/title queries).
        mode: "hybrid" (default) fuses the dense ranking (cosine similarity of the
            vectors) with the lexical one (BM25 over titles and abstracts) by weighted
            reciprocal rank fusion (``LEXICAL_WEIGHT``); "dense" or "lexical" use one.
            Negative papers steer the dense ranking only.

    Returns:
        :class:`SearchResults`: dicts with id, title, score (cosine similarity to the
        query in every mode; hits are ordered by the mode's ranking),
        topic_id, topic, date, url and why (key terms the query and the paper share).
        Text longer than the model's window is truncated by the model.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SearchError(f"k must be a whole number of at least 1, not {k!r}")
    if mode not in SEARCH_MODES:
        raise SearchError(f"unknown search mode {mode!r}; choose one of {', '.join(SEARCH_MODES)}")
    resolved = resolve_query(atlas, query, by, negative)
    if exclude_query is None:
        exclude_query = bool(resolved.rows)
    mask = _filter_mask(atlas, topic, date_from, date_to, layer)
    excluded = np.array(sorted(resolved.rows) if exclude_query else [], dtype=np.int64)
    pairs = _ranked(atlas, resolved, k, mask, excluded, mode)
    labels, names = paper_topics(atlas, layer)
    explainer = atlas.search_state.terms.for_query(resolved.terms)
    hits = []
    for (row, score), paper in zip(pairs, atlas.corpus.papers([row for row, _ in pairs])):
        topic_id = int(labels[row]) if labels is not None else None
        hits.append(
            {
                "id": paper.id,
                "title": paper.title,
                "score": round(score, 4),
                "topic_id": topic_id,
                "topic": names.get(topic_id) if topic_id is not None else None,
                "date": paper.date,
                "url": paper.url or (f"https://arxiv.org/abs/{paper.arxiv_id}" if paper.arxiv_id else None),
                "why": explainer.shared(paper.text),
            }
        )
    return SearchResults(hits, {"description": resolved.description, "k": k, "mode": mode})


def _dense(atlas: Atlas, vector: np.ndarray, n: int, mask: np.ndarray | None, excluded: np.ndarray) -> np.ndarray:
    """Rows of the ``n`` papers nearest ``vector`` (cosine), best first, ``excluded`` left out."""
    if mask is None:
        _, rows = atlas.index.search(vector, min(len(atlas), n + excluded.size))
        rows = rows[0][rows[0] >= 0]
        return rows[~np.isin(rows, excluded)][:n].astype(np.int64)
    # filtered: score the allowed rows exactly (a matrix-vector product)
    allowed = np.flatnonzero(mask)
    allowed = allowed[~np.isin(allowed, excluded)]
    scores = np.asarray(atlas.embeddings[allowed]) @ vector
    return allowed[np.argsort(-scores, kind="stable")[:n]]


def _lexical(atlas: Atlas, text: str, n: int, mask: np.ndarray | None, excluded: np.ndarray) -> np.ndarray:
    """Rows of the ``n`` best BM25 matches of ``text`` (papers sharing no word are left out)."""
    allowed = np.ones(len(atlas), dtype=bool) if mask is None else mask.copy()
    allowed[excluded] = False
    rows, _ = atlas.search_state.lexical.top(text, n, allowed)
    return rows


def fuse(rankings: Sequence[np.ndarray], weights: Sequence[float], n: int) -> np.ndarray:
    """Weighted reciprocal rank fusion of rankings (arrays of rows, best first): the ``n`` rows
    with the highest sum of ``weight / (RRF_K + rank)``; ties go to the earlier ranking's order."""
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, row in enumerate(ranking.tolist(), start=1):
            fused[row] = fused.get(row, 0.0) + weight / (RRF_K + rank)
    return np.array(sorted(fused, key=lambda row: -fused[row])[:n], dtype=np.int64)


def _ranked(atlas: Atlas, resolved: ResolvedQuery, k: int, mask: np.ndarray | None, excluded: np.ndarray,
            mode: str) -> list[tuple[int, float]]:
    """``(row, cosine similarity)`` of the best ``k`` papers by ``mode``."""
    if mode == "dense":
        rows = _dense(atlas, resolved.vector, k, mask, excluded)
    elif mode == "lexical":
        rows = _lexical(atlas, resolved.text, k, mask, excluded)
    else:
        depth = max(FUSION_DEPTH, k)
        weight = LEXICAL_WEIGHT["papers" if resolved.rows else "text"]
        rows = fuse([_dense(atlas, resolved.vector, depth, mask, excluded),
                     _lexical(atlas, resolved.text, depth, mask, excluded)], [1.0 - weight, weight], k)
    ordered = np.sort(rows)  # memory-mapped vectors are read in row order
    scores = np.asarray(atlas.embeddings[ordered]) @ resolved.vector if rows.size else np.zeros(0)
    by_row = dict(zip(ordered.tolist(), scores.tolist()))
    return [(row, float(by_row[row])) for row in rows.tolist()]
