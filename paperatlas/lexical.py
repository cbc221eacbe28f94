"""The lexical ranking: BM25 over each paper's title and abstract.

Words are lowercased runs of two or more word characters holding a letter, English
stopwords dropped, a plural "s" folded ("models" → "model"). Scores follow BM25 as
Lucene (and the ``bm25s`` library, which the tests check against) computes it, k1 = 1.5,
b = 0.75: a word's idf times the paper's weight ``tf / (tf + k1·(1 − b + b·length / mean
length))``.

The index is a word-by-paper matrix in CSC arrays, built here in chunks of papers
(``bm25s.BM25.index`` holds every paper's words as Python lists: a 1M-paper build peaked
at 8 GiB with it): ``indptr`` (int64, a column a word), ``indices`` (int32 rows, ascending in
a column) and ``data``, each weight in 16 bits (uint16, ``weight · 65535``: an error ≤ 8e-6
of the word's idf). The idf is computed at query time from the column's length, so papers
added or removed in place (:meth:`LexicalIndex.appended`, :meth:`LexicalIndex.without`)
update it for every paper. Saved with the atlas as ``.npy`` arrays and a JSON vocabulary.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from paperatlas.errors import PaperatlasError

K1, B, METHOD = 1.5, 0.75, "lucene"
REBUILD_GROWTH = 1.1
"""``add`` appends new papers to the index in place, and ``remove`` drops papers in place, while the
corpus stays within this factor of its size at the last full build (above it, or below it by the
same factor); past that the index is rebuilt (fresh length statistics for every paper)."""
TOKENIZER = "words-en-plural-1"
"""Name of the tokenisation rule; an index made by another rule is refused on load."""
LAYOUT = "csc-u16-weights-1"
"""Name of the array layout (above); an index saved in another (``bm25s``'s float32 scores,
before) is rebuilt from the papers."""
SCALE = 65535
BUILD_CHUNK = 20_000
"""Papers tokenised at a time while building: their words are counted into arrays, then dropped."""


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


class Postings:
    """Word counts of a run of papers, row by row (CSR): ``indptr`` over the papers, each paper's
    word ids ``words`` (ascending) with their counts ``counts``, and each paper's ``lengths``."""

    def __init__(self, indptr: np.ndarray, words: np.ndarray, counts: np.ndarray, lengths: np.ndarray) -> None:
        self.indptr, self.words, self.counts, self.lengths = indptr, words, counts, lengths

    @classmethod
    def of_texts(cls, texts: Iterable[str], tokenize: Tokenizer, vocabulary: dict[str, int],
                 progress: bool = False, total: int | None = None) -> Postings:
        """Count the words of ``texts`` (new words join ``vocabulary``), ``BUILD_CHUNK`` papers at a time."""
        parts = [cls._of_chunk(chunk, tokenize, vocabulary) for chunk in _chunks(texts, progress, total)]
        if not parts:
            return cls(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.uint16), np.zeros(0, np.int32))
        ends = np.cumsum([part.indptr[-1] for part in parts])
        indptr = np.concatenate([[0]] + [part.indptr[1:] + start for part, start in zip(parts, [0, *ends[:-1]])])
        return cls(indptr.astype(np.int64), *(np.concatenate([getattr(part, name) for part in parts])
                                              for name in ("words", "counts", "lengths")))

    @classmethod
    def _of_chunk(cls, texts: list[str], tokenize: Tokenizer, vocabulary: dict[str, int]) -> Postings:
        ids: list[int] = []
        lengths = np.zeros(len(texts), np.int32)
        for row, text in enumerate(texts):
            words = tokenize(text)
            lengths[row] = len(words)
            ids += [vocabulary.setdefault(word, len(vocabulary)) for word in words]
        width = max(len(vocabulary), 1)
        keys = np.repeat(np.arange(len(texts), dtype=np.int64), lengths) * width + np.asarray(ids, np.int64)
        keys.sort()
        first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if keys.size else np.zeros(0, np.int64)
        counts = np.diff(np.append(first, keys.size))
        keys = keys[first]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(keys // width, minlength=len(texts)))])
        return cls(indptr.astype(np.int64), (keys % width).astype(np.int32),
                   np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16), lengths)

    def weights(self, mean_length: float) -> np.ndarray:
        """Each count's BM25 weight (see the module), quantised to uint16 (at least 1), in chunks."""
        out = np.empty(self.words.size, np.uint16)
        per_paper = np.diff(self.indptr)
        for start in range(0, len(self.lengths), BUILD_CHUNK * 5):
            rows = slice(start, start + BUILD_CHUNK * 5)
            span = slice(int(self.indptr[start]), int(self.indptr[min(start + BUILD_CHUNK * 5, len(self.lengths))]))
            length = np.repeat(self.lengths[rows].astype(np.float64), per_paper[rows])
            tf = self.counts[span].astype(np.float64)
            weight = tf / (tf + K1 * ((1 - B) + B * length / mean_length))
            out[span] = np.clip(np.rint(weight * SCALE), 1, SCALE)
        return out

    def columns(self, mean_length: float, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, data)``: the weights word by word (CSC over ``width`` words)."""
        import scipy.sparse

        rows = len(self.lengths)
        matrix = scipy.sparse.csr_matrix((self.weights(mean_length), self.words, self.indptr), shape=(rows, width))
        csc = matrix.tocsc()  # linear time (scipy's csr_tocsc); rows stay ascending in each column
        return csc.indptr.astype(np.int64), csc.indices.astype(np.int32, copy=False), csc.data


def _chunks(texts: Iterable[str], progress: bool, total: int | None) -> Iterator[list[str]]:
    iterator = iter(texts)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="BM25 index", unit="paper")
    try:
        while chunk := list(islice(iterator, BUILD_CHUNK)):
            yield chunk
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()


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


def _idf(frequency: np.ndarray, documents: int) -> np.ndarray:
    """Lucene's idf of words in ``frequency`` papers of ``documents``."""
    frequency = np.asarray(frequency, np.float64)
    return np.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


class LexicalIndex:
    """BM25 scores of every paper for a query text."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, vocabulary: dict[str, int],
                 documents: int, tokenizer: Tokenizer, mean_length: float, built_over: int) -> None:
        self._indptr, self._indices, self._data = (np.asarray(a) for a in (indptr, indices, data))  # no memmap
        self._vocabulary = vocabulary
        self.documents = documents
        self._tokenize = tokenizer
        self.mean_length = mean_length
        """Mean words a paper (BM25's average document length) at the last build or append."""
        self.built_over = built_over
        """Papers at the last full build (papers appended since are weighed with the mean length of
        their time; papers removed since may leave fewer)."""

    @classmethod
    def build(cls, texts: Iterable[str], progress: bool = False) -> LexicalIndex:
        """Index ``texts`` (one per paper, in row order), ``BUILD_CHUNK`` papers at a time."""
        tokenize, vocabulary = Tokenizer(), {}
        total = len(texts) if hasattr(texts, "__len__") else None
        postings = Postings.of_texts(texts, tokenize, vocabulary, progress, total)
        documents = len(postings.lengths)
        if not documents:
            raise PaperatlasError("no papers to index")
        mean_length = max(float(postings.lengths.mean()), 1.0)
        indptr, indices, data = postings.columns(mean_length, len(vocabulary))
        return cls(indptr, indices, data, vocabulary, documents, tokenize, mean_length, documents)

    def can_append(self, papers_after: int) -> bool:
        """Whether :meth:`appended` may serve a corpus of ``papers_after`` papers: not past
        ``REBUILD_GROWTH`` times its last full build."""
        return papers_after <= REBUILD_GROWTH * self.built_over

    def can_remove(self, papers_after: int) -> bool:
        """Whether :meth:`without` may serve a corpus of ``papers_after`` papers: at least one, and
        not below its last full build divided by ``REBUILD_GROWTH``."""
        return papers_after >= max(1.0, self.built_over / REBUILD_GROWTH)

    def without(self, keep: np.ndarray, removed_texts: Sequence[str]) -> LexicalIndex:
        """The index without the papers where ``keep`` is false (``removed_texts``: their texts, for
        the mean length), without rebuilding: the other papers keep their weights and move up to
        their new rows; every word's idf, computed at query time, no longer counts the removed ones."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.documents,):
            raise PaperatlasError(f"keep has shape {keep.shape}; the index holds {self.documents} papers")
        documents = int(keep.sum())
        if documents == 0:
            raise PaperatlasError("no papers would be left in the lexical index")
        removed_words = sum(len(self._tokenize(text)) for text in removed_texts)
        mean_length = max((self.mean_length * self.documents - removed_words) / documents, 1.0)
        kept = keep[self._indices]
        before = np.concatenate([[0], np.cumsum(kept, dtype=np.int64)])
        new_rows = (np.cumsum(keep, dtype=np.int64) - 1).astype(np.int32)
        return LexicalIndex(before[self._indptr], new_rows[self._indices[kept]], self._data[kept],
                            dict(self._vocabulary), documents, self._tokenize, mean_length, self.built_over)

    def appended(self, texts: Sequence[str]) -> LexicalIndex:
        """The index with ``texts`` appended as new papers, without rebuilding: each new paper is
        weighed as a full build of the grown corpus would weigh it (with the grown corpus's mean
        length), and every word's idf counts the new papers; the papers already indexed keep their
        weights, so their length statistics lag until the next full build."""
        vocabulary = dict(self._vocabulary)
        postings = Postings.of_texts(texts, self._tokenize, vocabulary)
        old, added = self.documents, len(postings.lengths)
        total = old + added
        mean_length = max((self.mean_length * old + float(postings.lengths.sum())) / total, 1.0)
        width, columns = len(vocabulary), len(self._indptr) - 1
        new_indptr, new_rows, new_data = postings.columns(mean_length, width)
        ends = np.concatenate([self._indptr[1:], np.full(width - columns, self._indptr[-1], np.int64)])
        places = np.repeat(ends, np.diff(new_indptr))  # after each column's postings: rows stay ascending
        before = np.zeros(width, np.int64)
        before[:columns] = np.diff(self._indptr)
        indptr = np.concatenate([[0], np.cumsum(before + np.diff(new_indptr))])
        return LexicalIndex(indptr, _spliced(self._indices, places, new_rows + np.int32(old)),
                            _spliced(self._data, places, new_data), vocabulary, total, self._tokenize,
                            mean_length, self.built_over)

    def _words(self, text: str, max_postings: int | None) -> np.ndarray:
        """Column ids of the indexed words of ``text`` (each once); with ``max_postings``, of its
        rarest words only, as many as hold that many postings together (at least one word)."""
        ids = np.array([self._vocabulary[word] for word in dict.fromkeys(self._tokenize(text))
                        if word in self._vocabulary], dtype=np.int64)
        if max_postings is not None and ids.size:
            lengths = self._indptr[ids + 1] - self._indptr[ids]
            if int(lengths.sum()) > max_postings:  # rarest first; ties keep the query's order
                order = np.argsort(lengths, kind="stable")
                keep = max(1, int(np.searchsorted(np.cumsum(lengths[order]), max_postings, side="right")))
                ids = ids[np.sort(order[:keep])]
        return ids

    def _accumulate(self, ids: np.ndarray) -> np.ndarray:
        scores = np.zeros(self.documents, np.float32)
        idf = _idf(self._indptr[ids + 1] - self._indptr[ids], self.documents) / SCALE
        for word, factor in zip(ids.tolist(), idf.astype(np.float32).tolist()):
            span = slice(int(self._indptr[word]), int(self._indptr[word + 1]))
            scores[self._indices[span]] += self._data[span] * np.float32(factor)
        return scores

    def scores(self, text: str, max_postings: int | None = None) -> np.ndarray:
        """``(documents,)`` float32 BM25 scores of ``text`` (zeros when no word of it is indexed);
        ``max_postings`` as in :meth:`top`."""
        return self._accumulate(self._words(text, max_postings))

    def top(self, text: str, n: int, allowed: np.ndarray | None = None, excluded: np.ndarray | None = None,
            max_postings: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, scores)`` of the ``n`` best papers with a positive score, best first; only rows
        where ``allowed`` (a boolean mask) is true when given, never ``excluded`` rows. With
        ``max_postings``, only the rarest words of ``text`` that hold that many (paper, word) postings
        together are scored (at least one word). Reads the words' postings, not every paper."""
        ids = self._words(text, max_postings)
        if not ids.size:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores = self._accumulate(ids)
        candidates = np.concatenate([self._indices[self._indptr[w]:self._indptr[w + 1]] for w in ids.tolist()])
        if ids.size > 1:
            candidates.sort()
            candidates = candidates[np.concatenate([[True], candidates[1:] != candidates[:-1]])]
        if allowed is not None:
            candidates = candidates[allowed[candidates]]
        if excluded is not None and len(excluded):
            candidates = candidates[~np.isin(candidates, excluded)]
        candidates = candidates[scores[candidates] > 0].astype(np.int64)
        if candidates.size > n:
            candidates = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
        order = np.lexsort((candidates, -scores[candidates]))
        return candidates[order], scores[candidates[order]]

    # persistence -------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        """The weight matrix as CSC arrays (word columns), for saving."""
        return {"data": self._data, "indices": self._indices, "indptr": self._indptr}

    def vocabulary(self) -> list[str]:
        """Words in id order."""
        words = [""] * len(self._vocabulary)
        for word, index in self._vocabulary.items():
            words[index] = word
        return words

    def entry(self) -> dict[str, Any]:
        """What the manifest records: rule, layout, parameters and statistics."""
        return {"tokenizer": TOKENIZER, "layout": LAYOUT, "k1": K1, "b": B, "method": METHOD,
                "documents": self.documents, "words": len(self._vocabulary),
                "stop_words": sorted(self._tokenize.stop_words), "mean_length": self.mean_length,
                "built_over": self.built_over}

    @classmethod
    def from_arrays(cls, entry: dict[str, Any], arrays: dict[str, np.ndarray], words: Sequence[str]) -> LexicalIndex:
        """The index saved by ``arrays``/``vocabulary``/``entry``; layout, dtypes and shapes are checked."""
        if entry.get("tokenizer") != TOKENIZER:
            raise PaperatlasError(f"lexical index made by tokenizer {entry.get('tokenizer')!r}, "
                                  f"this version reads {TOKENIZER!r}")
        if not readable(entry):
            raise PaperatlasError(f"lexical index in layout {entry.get('layout')!r}, this version reads {LAYOUT!r}")
        if (float(entry["k1"]), float(entry["b"]), entry["method"]) != (K1, B, METHOD):
            raise PaperatlasError(f"lexical index with k1={entry['k1']}, b={entry['b']}, method {entry['method']!r}; "
                                  f"this version scores k1={K1}, b={B}, {METHOD!r}")
        documents, mean_length = int(entry["documents"]), float(entry["mean_length"])
        built_over = int(entry["built_over"])
        indptr, indices, data = arrays["indptr"], arrays["indices"], arrays["data"]
        if (indptr.dtype != np.int64 or indices.dtype != np.int32 or data.dtype != np.uint16
                or indptr.shape != (len(words) + 1,) or data.shape != indices.shape or int(indptr[0]) != 0
                or int(indptr[-1]) != data.size or (indices.size and int(indices.max()) >= documents)):
            raise PaperatlasError("lexical index arrays do not fit together")
        if not (mean_length > 0 and built_over > 0):
            raise PaperatlasError(f"lexical index statistics out of range: mean length {mean_length}, "
                                  f"built over {built_over} papers")
        vocabulary = {word: i for i, word in enumerate(words)}
        if len(vocabulary) != len(words):
            raise PaperatlasError("lexical index vocabulary repeats a word")
        return cls(indptr, indices, data, vocabulary, documents, Tokenizer(frozenset(entry["stop_words"])),
                   mean_length, built_over)


def readable(entry: dict[str, Any]) -> bool:
    """Whether a saved index's manifest entry is in this version's layout (older ones are rebuilt)."""
    return entry.get("layout") == LAYOUT
