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
from paperatlas.text_table import cut

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
HYBRID_QUERY_POSTINGS = 100_000
"""In hybrid mode the BM25 ranking reads the query's rarest words only, as many as hold this
many (paper, word) scores together (at least one word). A paper's abstract as the query holds
about 90 words; in a large atlas its common words, whose scores are small, touch nearly every
paper (1M papers: 21.7 ms an id query with every word). On the public labelled sets (up to
10,000 papers) every word still fits and their figures are unchanged (benchmarks/bench_hybrid.py
--max-postings); ``mode="lexical"`` always reads every word."""
FUSION_DEPTH = 100
"""Candidates taken from each ranking before fusion (at least k)."""
NEGATIVE_WEIGHT = 0.5
TITLE_CUTOFF = 0.8
SUGGESTIONS = 3
"""Close titles or topic names an error about an unknown one lists."""
SNIPPET_CHARS = 300
"""A hit's ``snippet``: the abstract's start, cut at a word boundary to at most this many characters."""
RESULT_FIELDS = ("id", "title", "score", "topic_id", "topic", "date", "url", "why", "snippet")


class SearchError(PaperatlasError):
    """A query that cannot be answered as asked (empty, unknown ids, bad k, ...)."""


class SearchResults(list):
    """Hits as a list of dicts (best first), with :meth:`to_frame` for a DataFrame.

    ``query`` holds the query's ``description`` (which paper a title or id query took),
    ``k`` (papers requested), ``mode``, ``filtered`` (whether a topic, date or score
    filter applied) and ``excluded`` (query papers left out); :attr:`note` says why fewer
    than ``k`` came back.
    """

    def __init__(self, hits: Sequence[dict[str, Any]], query: dict[str, Any]) -> None:
        super().__init__(hits)
        self.query = query

    @property
    def note(self) -> str | None:
        """Why fewer papers than requested came back ("7 of 10 requested passed the filters"), else None."""
        k = self.query.get("k")
        if k is None or len(self) >= k:
            return None
        if self.query.get("filtered"):
            reason = "passed the filters"
        elif self.query.get("mode") == "lexical":
            reason = "share a word with the query"
        else:
            reason = "are in the atlas" + (" besides the query papers" if self.query.get("excluded") else "")
        return f"{len(self)} of {k} requested {reason}"

    def to_json(self) -> dict[str, Any]:
        """The results as one JSON-ready record (the CLI's ``--json`` and the agent tool's result):
        query (its description), requested, returned, note and results."""
        return {"query": self.query.get("description", ""), "requested": self.query.get("k"),
                "returned": len(self), "note": self.note, "results": list(self)}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(list(self), columns=list(RESULT_FIELDS))

    def __repr__(self) -> str:
        """Short: how many, like what, and the first three hits (score, id, title cut)."""
        from paperatlas.text_table import cut, plural

        shown = [f"{hit.get('score', 0):.2f} {hit.get('id')} {cut(str(hit.get('title', '')), 50)!r}" for hit in self[:3]]
        if len(self) > 3:
            shown.append(f"… {len(self) - 3} more")
        like = cut(str(self.query.get("description", "")), 80)
        return f"SearchResults({plural(len(self), 'paper')} like {like}: {'; '.join(shown) or 'none'})"

    def _repr_html_(self) -> str:
        from html import escape

        from paperatlas.text_table import plural

        frame = self.to_frame()
        frame["why"] = frame["why"].map(", ".join)
        note = f" ({escape(self.note)})" if self.note else ""
        return (f"<p><b>{plural(len(self), 'paper')} like</b> {escape(self.query.get('description', ''))}{note}</p>"
                + frame.to_html(index=False, escape=True))  # every cell escaped


def snippet(abstract: str, width: int = SNIPPET_CHARS) -> str:
    """The start of ``abstract``, whitespace collapsed, cut at a word boundary to at most
    ``width`` characters (ending in '…' when cut)."""
    from paperatlas.text_table import shorten

    return shorten(abstract or "", width)


@dataclass(frozen=True)
class ResolvedQuery:
    vector: np.ndarray
    rows: tuple[int, ...]  # the query papers, for id/title queries
    terms: Counter
    description: str
    text: str  # what the lexical ranking searches for: the query text or the query papers' texts


def _vector_of_rows(atlas: Atlas, positive: list[int], negative: list[int]) -> np.ndarray:
    vector = atlas.vectors_of(positive).mean(axis=0)
    if negative:
        vector = vector - NEGATIVE_WEIGHT * atlas.vectors_of(negative).mean(axis=0)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm):
        raise _damaged_vector_error(atlas, [*positive, *negative])
    if norm < 1e-6:
        raise SearchError("the positive and negative papers cancel out; nothing is left to search for")
    return (vector / norm).astype(np.float32)


def _damaged_vector_error(atlas: Atlas, rows: Sequence[int]) -> PaperatlasError:
    """The error for a stored vector that is not finite (an atlas damaged after its checksums were
    updated): names the first such paper; ``paperatlas verify`` checks every vector."""
    from paperatlas.store import AtlasFormatError

    bad = next((row for row in rows if not np.isfinite(np.asarray(atlas.embeddings[row])).all()), rows[0])
    return AtlasFormatError(f"the stored vector of paper {atlas.corpus[bad].id!r} (row {bad}) is not finite: the "
                            "atlas is damaged (`paperatlas verify` checks every vector)")


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


def _unknown_title_error(atlas: Atlas, title: str) -> SearchError:
    """"No paper titled like ...", naming the closest titles (their start or the whole title, spelled alike)."""
    wanted = normalise_title(title)
    titles = atlas.search_state.title_rows()
    words = max(len(wanted.split()), 1)
    heads: dict[str, str] = {}
    for key in titles:
        heads.setdefault(" ".join(key.split()[:words]), key)
    scored: dict[str, float] = {}
    for head in difflib.get_close_matches(wanted, list(heads), n=SUGGESTIONS, cutoff=0.5):
        scored[heads[head]] = difflib.SequenceMatcher(None, wanted, head).ratio()
    for key in difflib.get_close_matches(wanted, list(titles), n=SUGGESTIONS, cutoff=0.5):
        scored[key] = max(scored.get(key, 0.0), difflib.SequenceMatcher(None, wanted, key).ratio())
    closest = sorted(scored, key=lambda key: -scored[key])[:SUGGESTIONS]
    if not closest:
        return SearchError(f"no paper titled like {title!r}, and no title is close")
    shown = "; ".join(f"{atlas.corpus[titles[key]].title[:80]!r} ({atlas.corpus[titles[key]].id})" for key in closest)
    return SearchError(f"no paper titled like {title!r}; the closest titles: {shown}")


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
                raise _unknown_title_error(atlas, text)
        if not rows and by == "auto" and (mistyped := _unknown_id_error(atlas, text)) is not None:
            raise mistyped
        if not rows:
            vector = atlas.search_state.embedder(atlas.model).encode([text])[0]
            if negative_rows:
                vector = vector - NEGATIVE_WEIGHT * atlas.vectors_of(negative_rows).mean(axis=0)
                vector = (vector / max(float(np.linalg.norm(vector)), 1e-6)).astype(np.float32)
                if not np.isfinite(vector).all():
                    raise _damaged_vector_error(atlas, negative_rows)
            return ResolvedQuery(vector, (), explainer.counts(text), f"text {cut(' '.join(text.split()), 80)!r}",
                                 text)
    terms: Counter = Counter()
    texts = [atlas.corpus[row].text for row in rows]
    for text in texts:
        terms.update(explainer.counts(text))
    titles = "; ".join(cut(atlas.corpus[row].title, 80 if len(rows) == 1 else 60) for row in rows[:3])
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
    if isinstance(topic, str) and not topic.strip().lstrip("-").isdigit():
        matches = [tid for tid, name in names.items() if name.casefold() == topic.strip().casefold()]
        if not matches:
            raise _unknown_topic_error(atlas, topic, layer)
        return np.isin(labels, matches)
    topic_id = int(topic)
    if topic_id not in names and topic_id != -1:
        ids = sorted(names)
        known = f"topic ids there run from {ids[0]} to {ids[-1]} (-1: noise)" if ids else "it has no topics"
        raise SearchError(f"no topic {topic_id} at layer {layer}; {known}")
    return labels == topic_id


def _unknown_topic_error(atlas: Atlas, name: str, layer: int) -> SearchError:
    """"No topic named ...", listing the close topic names of every layer with their ids and layers."""
    topics = atlas.require_topics()
    wanted = " ".join(name.casefold().split())
    scored: list[tuple[float, int, int, str, int]] = []
    for at in range(topics.n_layers):
        for topic_id, topic_name in topics.names_at(at).items():
            folded = topic_name.casefold()
            ratio = difflib.SequenceMatcher(None, wanted, folded).ratio()
            if wanted and (wanted in folded or folded in wanted):
                ratio = max(ratio, 0.7)
            if ratio >= 0.6:
                scored.append((-ratio, abs(at - layer), topic_id, topic_name, at))
    scored.sort()
    shown = "; ".join(f"{topic_name!r} (topic {topic_id}, layer {at})" for _, _, topic_id, topic_name, at
                      in scored[:SUGGESTIONS])
    close = f"close names: {shown}" if shown else "no topic name is close; list the topics to see them"
    return SearchError(f"no topic named {name!r} at layer {layer}; {close}")


def _filter_mask(atlas: Atlas, topic, date_from, date_to, layer: int, min_score: float | None = None,
                 vector: np.ndarray | None = None) -> np.ndarray | None:
    """Which papers pass the topic, date and score filters (None: no filter)."""
    mask = None
    if min_score is not None and vector is not None:
        mask = _scores_at_least(atlas, vector, min_score)
    if topic is not None:
        in_topic = topic_mask(atlas, topic, layer=layer)
        mask = in_topic if mask is None else mask & in_topic
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


SCORE_CHUNK = 65_536


def _scores_at_least(atlas: Atlas, vector: np.ndarray, min_score: float) -> np.ndarray:
    """Which papers have a cosine similarity of at least ``min_score`` to ``vector`` (read in chunks)."""
    mask = np.zeros(len(atlas), dtype=bool)
    for start in range(0, len(atlas), SCORE_CHUNK):
        mask[start:start + SCORE_CHUNK] = atlas.vectors_of(slice(start, start + SCORE_CHUNK)) @ vector >= min_score
    return mask


def _is_whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _ids_or_text(value: object) -> bool:
    """A string, or a list/tuple of strings."""
    return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))


def _shown(value: object) -> str:
    """A value for an error message: its type, and its text when short."""
    text = repr(value)
    return f"{type(value).__name__} {text}" if len(text) <= 40 else type(value).__name__


def check_arguments(query: object, k: object, *, by: object = "auto", negative: object = (), topic: object = None,
                    layer: object = 0, date_from: object = None, date_to: object = None,
                    exclude_query: object = None, mode: object = DEFAULT_MODE, min_score: object = None) -> None:
    """Check the types and ranges of :func:`find_similar_papers`' arguments; a :class:`SearchError`
    names the first wrong one."""
    if not _ids_or_text(query):
        raise SearchError(f"query must be text (a phrase, a paper id or a title) or a list of paper ids, "
                          f"not {_shown(query)}")
    if not _is_whole(k) or k < 1:
        raise SearchError(f"k must be a whole number of at least 1, not {_shown(k)}")
    if not isinstance(by, str) or by not in QUERY_KINDS:
        raise SearchError(f"by must be one of {', '.join(QUERY_KINDS)}, not {_shown(by)}")
    if not _ids_or_text(negative):
        raise SearchError(f"negative must be a paper id or a list of paper ids, not {_shown(negative)}")
    if topic is not None and not (isinstance(topic, str) or _is_whole(topic)):
        raise SearchError(f"topic must be a topic id (a whole number) or a topic name, not {_shown(topic)}")
    if not _is_whole(layer) or layer < 0:
        raise SearchError(f"layer must be a whole number of at least 0, not {_shown(layer)}")
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value is not None and not isinstance(value, str):
            raise SearchError(f"{name} must be a date as text (YYYY-MM-DD), not {_shown(value)}")
    if exclude_query is not None and not isinstance(exclude_query, bool):
        raise SearchError(f"exclude_query must be true, false or None, not {_shown(exclude_query)}")
    if not isinstance(mode, str) or mode not in SEARCH_MODES:
        raise SearchError(f"unknown search mode {_shown(mode)}; mode must be one of {', '.join(SEARCH_MODES)}")
    if min_score is not None and (isinstance(min_score, (bool, np.bool_))
                                  or not isinstance(min_score, (int, float, np.number))
                                  or not -1.0 <= float(min_score) <= 1.0):
        raise SearchError(f"min_score must be a number from -1 to 1, not {_shown(min_score)}")


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
    min_score: float | None = None,
) -> SearchResults:
    """The k papers most similar to a query (free text, a title, or paper ids), best first,
    each with its topic, date, a snippet of its abstract and the key terms it shares with the query.

    Args:
        atlas: the atlas to search.
        query: free text (a phrase or a whole abstract), a paper id, a title, or a
            list of paper ids ("more like these").
        k: how many papers to return (at least 1); asking for more than the atlas holds returns them all.
        by: how to read a text query: "auto" takes it as a paper id if one matches, else as
            a title if one matches exactly (ignoring case and punctuation), else as free text;
            "title" also accepts the start of a title or a close spelling; "id" and "text"
            take it only as that.
        negative: paper ids to steer away from ("less like those").
        topic: only papers of this topic, given by its id or its name.
        layer: the topic layer the topic filter and the topic of each hit refer to:
            0 for fine topics, 1 and up for coarser themes.
        date_from, date_to: only papers dated in this range (inclusive, YYYY-MM-DD);
            papers without a date are left out when either is given.
        exclude_query: leave the query papers out of the results (default: yes for id
            and title queries, no for text).
        mode: "hybrid" (default) fuses the ranking by vector similarity with a keyword
            ranking (BM25 over titles and abstracts); "dense" or "lexical" use one of them.
            Negative papers steer the vector ranking only.
        min_score: only papers whose score (cosine similarity to the query, from -1 to 1)
            is at least this.

    Returns:
        SearchResults: dicts with id, title, score (cosine similarity to the query in
        every mode; hits are ordered by the mode's ranking), topic_id, topic (None for
        noise, topic_id -1), date, url, why (key terms the query and the paper share) and
        snippet (the abstract's first 300 characters or so). Its ``note`` says when fewer
        than k papers passed the filters. Text longer than the model's window is truncated
        by the model.
    """
    check_arguments(query, k, by=by, negative=negative, topic=topic, layer=layer, date_from=date_from,
                    date_to=date_to, exclude_query=exclude_query, mode=mode, min_score=min_score)
    resolved = resolve_query(atlas, query, by, negative)
    if exclude_query is None:
        exclude_query = bool(resolved.rows)
    mask = _filter_mask(atlas, topic, date_from, date_to, layer,
                        None if min_score is None else float(min_score), resolved.vector)
    excluded = np.array(sorted(resolved.rows) if exclude_query else [], dtype=np.int64)
    pairs = _ranked(atlas, resolved, k, mask, excluded, mode)
    labels, names = paper_topics(atlas, layer)
    explainer = atlas.search_state.terms.for_query(resolved.terms)
    hits = []
    if not all(np.isfinite(score) for _, score in pairs):
        raise _damaged_vector_error(atlas, [row for row, score in pairs if not np.isfinite(score)])
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
                "url": paper.link,
                "why": explainer.shared(paper.text),
                "snippet": snippet(paper.abstract),
            }
        )
    filtered = topic is not None or date_from is not None or date_to is not None or min_score is not None
    return SearchResults(hits, {"description": resolved.description, "k": k, "mode": mode, "filtered": filtered,
                                "excluded": int(excluded.size)})


def _dense(atlas: Atlas, vector: np.ndarray, n: int, mask: np.ndarray | None, excluded: np.ndarray) -> np.ndarray:
    """Rows of the ``n`` papers nearest ``vector`` (cosine), best first, ``excluded`` left out."""
    if mask is None:
        _, rows = atlas.index.search(vector, min(len(atlas), n + excluded.size))
        rows = rows[0][rows[0] >= 0]
        return rows[~np.isin(rows, excluded)][:n].astype(np.int64)
    # filtered: score the allowed rows exactly (a matrix-vector product)
    allowed = np.flatnonzero(mask)
    allowed = allowed[~np.isin(allowed, excluded)]
    scores = atlas.vectors_of(allowed) @ vector
    return allowed[np.argsort(-scores, kind="stable")[:n]]


def _lexical(atlas: Atlas, text: str, n: int, mask: np.ndarray | None, excluded: np.ndarray,
             max_postings: int | None = None) -> np.ndarray:
    """Rows of the ``n`` best BM25 matches of ``text`` (papers sharing no word are left out)."""
    rows, _ = atlas.search_state.lexical.top(text, n, mask, excluded, max_postings)
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
                     _lexical(atlas, resolved.text, depth, mask, excluded, HYBRID_QUERY_POSTINGS)],
                    [1.0 - weight, weight], k)
    ordered = np.sort(rows)  # memory-mapped vectors are read in row order
    scores = atlas.vectors_of(ordered) @ resolved.vector if rows.size else np.zeros(0)
    by_row = dict(zip(ordered.tolist(), scores.tolist()))
    return [(row, float(by_row[row])) for row in rows.tolist()]
