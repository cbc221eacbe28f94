"""The lexical ranking: BM25 over each paper's title and abstract (the ``bm25s`` library).

Words are lowercased runs of two or more word characters holding a letter, English
stopwords dropped, a plural "s" folded ("models" → "model"). BM25 (Lucene's variant,
k1 = 1.5, b = 0.75) scores are precomputed per (word, paper) by ``bm25s``; the index
is saved with the atlas as ``.npy`` arrays and a JSON vocabulary, and rebuilt when
papers are added or removed (its statistics cover the whole corpus).
"""

from __future__ import annotations

from collections import Counter
from sys import intern
from typing import Any, Iterable, Sequence

import numpy as np

from paperatlas.errors import PaperatlasError

K1, B, METHOD = 1.5, 0.75, "lucene"
REBUILD_GROWTH = 1.1
"""``add`` appends new papers to the index in place until the corpus outgrows its last full build
by this factor; then the index is rebuilt (fresh statistics for every paper)."""
TOKENIZER = "words-en-plural-1"
"""Name of the tokenisation rule; an index made by another rule is refused on load."""


def _stopwords() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def _fold(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-3] + "y" if word.endswith("ies") and len(word) > 4 else word[:-1]
    return word


class Tokenizer:
    """Text → BM25 words (see the module); the stopwords are saved with the index, so a query
    never imports scikit-learn."""

    def __init__(self, stop_words: frozenset[str] | None = None) -> None:
        from paperatlas.vocabulary import TOKEN_PATTERN
        from paperatlas.why import TermAnalyzer

        self._analyzer = TermAnalyzer(TOKEN_PATTERN, _stopwords() if stop_words is None else frozenset(stop_words))

    @property
    def stop_words(self) -> frozenset[str]:
        return self._analyzer.stop_words

    def __call__(self, text: str) -> list[str]:
        return [_fold(word) for word in self._analyzer.words(text) if word not in self._analyzer.stop_words]

    def documents(self, texts: Iterable[str]) -> list[list[str]]:
        """The words of each text as BM25 indexes them: ``[""]`` for a text with none, and one
        string object per distinct word (1M abstracts hold ~85M words, ~5 GB as separate strings)."""
        return [[intern(word) for word in self(text)] or [""] for text in texts]


def _retriever(k1: float, b: float, method: str, scores: dict[str, Any], vocabulary: dict[str, int]) -> Any:
    """A bm25s retriever over precomputed score columns (CSC arrays) and their vocabulary."""
    import bm25s

    retriever = bm25s.BM25(k1=k1, b=b, method=method)
    retriever.scores = scores
    retriever.vocab_dict = vocabulary
    retriever.unique_token_ids_set = set(range(len(vocabulary)))
    retriever.nonoccurrence_array = None
    return retriever


def _spliced(old: np.ndarray, places: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``old`` with ``values`` inserted before the positions ``places`` (non-decreasing), as
    ``np.insert`` does, by one concatenation of slices (``np.insert`` masks every element:
    3.7 s for two 70M-element arrays, against a fraction of a second)."""
    cuts, starts = np.unique(places, return_index=True)
    stops = np.append(starts[1:], len(places))
    pieces, previous = [], 0
    for cut, start, stop in zip(cuts.tolist(), starts.tolist(), stops.tolist()):
        pieces += [old[previous:cut], values[start:stop]]
        previous = cut
    pieces.append(old[previous:])
    return np.concatenate(pieces)


class LexicalIndex:
    """BM25 scores of every paper for a query text."""

    def __init__(self, retriever: Any, documents: int, tokenizer: Tokenizer, mean_length: float | None = None,
                 built_over: int | None = None) -> None:
        self._bm25 = retriever
        self.documents = documents
        self._tokenize = tokenizer
        self.mean_length = mean_length
        """Mean words a paper (BM25's average document length); ``None`` for an index saved without it."""
        self.built_over = built_over
        """Papers at the last full build (papers appended since are scored with the statistics of their time)."""

    @classmethod
    def build(cls, texts: Iterable[str], progress: bool = False) -> LexicalIndex:
        """Index ``texts`` (one per paper, in row order)."""
        import bm25s

        tokenize = Tokenizer()
        tokens = tokenize.documents(texts)
        if not tokens:
            raise PaperatlasError("no papers to index")
        retriever = bm25s.BM25(k1=K1, b=B, method=METHOD)
        retriever.index(tokens, show_progress=progress)
        mean_length = sum(map(len, tokens)) / len(tokens)
        return cls(retriever, len(tokens), tokenize, mean_length, len(tokens))

    def can_append(self, papers_after: int) -> bool:
        """Whether :meth:`appended` may serve a corpus of ``papers_after`` papers: the index records its
        statistics and the corpus has not grown past ``REBUILD_GROWTH`` times its last full build."""
        return (self.mean_length is not None and self.built_over is not None
                and papers_after <= REBUILD_GROWTH * self.built_over)

    def appended(self, texts: Sequence[str]) -> LexicalIndex:
        """The index with ``texts`` appended as new papers, without rebuilding: each new paper is
        scored as a full build of the grown corpus would score it (the words' document frequencies,
        the paper count and the mean length include the new papers); the papers already indexed
        keep their scores, so their statistics lag until the next full build."""
        if self.mean_length is None or self.built_over is None:
            raise PaperatlasError("this lexical index was saved without its statistics: rebuild it")
        indptr, indices, data = (np.asarray(self._bm25.scores[name]) for name in ("indptr", "indices", "data"))
        columns, old = len(indptr) - 1, self.documents
        tokens = self._tokenize.documents(texts)
        total = old + len(tokens)
        lengths = np.array([len(doc) for doc in tokens], dtype=np.float64)
        mean_length = (self.mean_length * old + float(lengths.sum())) / total
        vocabulary = dict(self._bm25.vocab_dict)
        homeless = sorted((i, w) for w, i in vocabulary.items() if i >= columns)  # words with no score column
        for _, word in homeless:
            del vocabulary[word]
        cols, rows, counts = [], [], []
        for row, doc in enumerate(tokens, start=old):
            for word, count in Counter(doc).items():
                cols.append(vocabulary.setdefault(word, len(vocabulary)))
                rows.append(row)
                counts.append(count)
        width = len(vocabulary)
        for _, word in homeless:
            vocabulary.setdefault(word, len(vocabulary))
        cols_a, rows_a = np.array(cols, dtype=np.int64), np.array(rows, dtype=np.int64)
        counts_a = np.array(counts, dtype=np.float32)
        before = np.zeros(width, dtype=np.int64)
        before[:columns] = np.diff(indptr)
        added = np.bincount(cols_a, minlength=width)
        frequency = (before + added)[cols_a].astype(np.float64)
        idf = np.log(1 + (total - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        paper_length = lengths[rows_a - old]
        weight = (counts_a / (K1 * ((1 - B) + B * paper_length / mean_length) + counts_a)).astype(np.float32)
        order = np.lexsort((rows_a, cols_a))
        cols_a, rows_a, scores = cols_a[order], rows_a[order], (idf * weight)[order]
        ends = np.concatenate([indptr[1:], np.full(width - columns, indptr[-1], dtype=indptr.dtype)])
        places = ends[cols_a]  # after each column's postings: rows stay sorted within a column
        retriever = _retriever(K1, B, METHOD, {
            "data": _spliced(data, places, scores.astype(data.dtype)),
            "indices": _spliced(indices, places, rows_a.astype(indices.dtype)),
            "indptr": np.concatenate([[0], np.cumsum(before + added)]).astype(indptr.dtype), "num_docs": total,
        }, vocabulary)
        return LexicalIndex(retriever, total, self._tokenize, mean_length, self.built_over)

    def scores(self, text: str, max_postings: int | None = None) -> np.ndarray:
        """``(documents,)`` float32 BM25 scores of ``text`` (zeros when no word of it is indexed);
        with ``max_postings``, of its rarest words only, as many as hold that many (paper, word)
        scores together (at least one word)."""
        vocabulary, indptr = self._bm25.vocab_dict, self._bm25.scores["indptr"]
        ids = [vocabulary[word] for word in dict.fromkeys(self._tokenize(text))
               if word in vocabulary and vocabulary[word] < len(indptr) - 1]
        if not ids:
            return np.zeros(self.documents, np.float32)
        if max_postings is not None:
            at = np.asarray(ids)
            lengths = np.asarray(indptr[at + 1]) - np.asarray(indptr[at])
            if int(lengths.sum()) > max_postings:  # rarest first; ties keep the query's order
                order = np.argsort(lengths, kind="stable")
                keep = max(1, int(np.searchsorted(np.cumsum(lengths[order]), max_postings, side="right")))
                ids = [ids[i] for i in np.sort(order[:keep])]
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def top(self, text: str, n: int, allowed: np.ndarray | None = None, excluded: np.ndarray | None = None,
            max_postings: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, scores)`` of the ``n`` best papers with a positive score, best first;
        only rows where ``allowed`` (a boolean mask) is true when given, never ``excluded`` rows;
        ``max_postings`` as in :meth:`scores`."""
        scores = self.scores(text, max_postings)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        if excluded is not None and len(excluded):
            scores[excluded] = 0.0
        candidates = np.flatnonzero(scores > 0)
        if candidates.size > n:
            candidates = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
        order = np.lexsort((candidates, -scores[candidates]))
        return candidates[order], scores[candidates[order]]

    # persistence -------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        """The score matrix as CSC arrays (word columns), for saving."""
        scores = self._bm25.scores
        return {name: np.asarray(scores[name]) for name in ("data", "indices", "indptr")}

    def vocabulary(self) -> list[str]:
        """Words in id order."""
        words = [""] * len(self._bm25.vocab_dict)
        for word, index in self._bm25.vocab_dict.items():
            words[index] = word
        return words

    def entry(self) -> dict[str, Any]:
        """What the manifest records: rule, parameters and size."""
        entry = {"tokenizer": TOKENIZER, "k1": K1, "b": B, "method": METHOD, "documents": self.documents,
                 "words": len(self._bm25.vocab_dict), "stop_words": sorted(self._tokenize.stop_words)}
        if self.mean_length is not None and self.built_over is not None:
            entry |= {"mean_length": self.mean_length, "built_over": self.built_over}
        return entry

    @classmethod
    def from_arrays(cls, entry: dict[str, Any], arrays: dict[str, np.ndarray], words: Sequence[str]) -> LexicalIndex:
        """The index saved by ``arrays``/``vocabulary``/``entry``; shapes are checked."""
        if entry.get("tokenizer") != TOKENIZER:
            raise PaperatlasError(f"lexical index made by tokenizer {entry.get('tokenizer')!r}, "
                                  f"this version reads {TOKENIZER!r}")
        documents = int(entry["documents"])
        indptr, indices, data = arrays["indptr"], arrays["indices"], arrays["data"]
        # bm25s appends the empty word "" to the vocabulary after the score columns
        if (indptr.ndim != 1 or not 0 < indptr.size <= len(words) + 1 or data.shape != indices.shape
                or int(indptr[-1]) != data.size or (indices.size and int(indices.max()) >= documents)):
            raise PaperatlasError("lexical index arrays do not fit together")
        retriever = _retriever(float(entry["k1"]), float(entry["b"]), str(entry["method"]),
                               {"data": data, "indices": indices, "indptr": indptr, "num_docs": documents},
                               {word: i for i, word in enumerate(words)})
        mean_length, built_over = entry.get("mean_length"), entry.get("built_over")
        if mean_length is not None and built_over is not None:
            mean_length, built_over = float(mean_length), int(built_over)
            if not (mean_length > 0 and 0 < built_over <= documents):
                raise PaperatlasError(f"lexical index statistics out of range: mean length {mean_length}, "
                                      f"built over {built_over} of {documents} papers")
        else:
            mean_length = built_over = None
        return cls(retriever, documents, Tokenizer(frozenset(entry["stop_words"])), mean_length, built_over)
