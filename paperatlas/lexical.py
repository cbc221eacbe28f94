"""The lexical ranking: BM25 over each paper's title and abstract (the ``bm25s`` library).

Words are lowercased runs of two or more word characters holding a letter, English
stopwords dropped, a plural "s" folded ("models" → "model"). BM25 (Lucene's variant,
k1 = 1.5, b = 0.75) scores are precomputed per (word, paper) by ``bm25s``; the index
is saved with the atlas as ``.npy`` arrays and a JSON vocabulary, and rebuilt when
papers are added or removed (its statistics cover the whole corpus).
"""

from __future__ import annotations

from sys import intern
from typing import Any, Iterable, Sequence

import numpy as np

from paperatlas.errors import PaperatlasError

K1, B, METHOD = 1.5, 0.75, "lucene"
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


class LexicalIndex:
    """BM25 scores of every paper for a query text."""

    def __init__(self, retriever: Any, documents: int, tokenizer: Tokenizer) -> None:
        self._bm25 = retriever
        self.documents = documents
        self._tokenize = tokenizer

    @classmethod
    def build(cls, texts: Iterable[str], progress: bool = False) -> LexicalIndex:
        """Index ``texts`` (one per paper, in row order)."""
        import bm25s

        tokenize = Tokenizer()
        # one string object per distinct word: 1M abstracts hold ~85M words, ~5 GB as separate strings
        tokens = [[intern(word) for word in tokenize(text)] or [""] for text in texts]
        if not tokens:
            raise PaperatlasError("no papers to index")
        retriever = bm25s.BM25(k1=K1, b=B, method=METHOD)
        retriever.index(tokens, show_progress=progress)
        return cls(retriever, len(tokens), tokenize)

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
            lengths = np.diff(np.asarray(indptr))[ids]
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
        return {"tokenizer": TOKENIZER, "k1": K1, "b": B, "method": METHOD, "documents": self.documents,
                "words": len(self._bm25.vocab_dict), "stop_words": sorted(self._tokenize.stop_words)}

    @classmethod
    def from_arrays(cls, entry: dict[str, Any], arrays: dict[str, np.ndarray], words: Sequence[str]) -> LexicalIndex:
        """The index saved by ``arrays``/``vocabulary``/``entry``; shapes are checked."""
        import bm25s

        if entry.get("tokenizer") != TOKENIZER:
            raise PaperatlasError(f"lexical index made by tokenizer {entry.get('tokenizer')!r}, "
                                  f"this version reads {TOKENIZER!r}")
        documents = int(entry["documents"])
        indptr, indices, data = arrays["indptr"], arrays["indices"], arrays["data"]
        # bm25s appends the empty word "" to the vocabulary after the score columns
        if (indptr.ndim != 1 or not 0 < indptr.size <= len(words) + 1 or data.shape != indices.shape
                or int(indptr[-1]) != data.size or (indices.size and int(indices.max()) >= documents)):
            raise PaperatlasError("lexical index arrays do not fit together")
        retriever = bm25s.BM25(k1=float(entry["k1"]), b=float(entry["b"]), method=str(entry["method"]))
        retriever.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": documents}
        retriever.vocab_dict = {word: i for i, word in enumerate(words)}
        retriever.unique_token_ids_set = set(range(len(words)))
        retriever.nonoccurrence_array = None
        return cls(retriever, documents, Tokenizer(frozenset(entry["stop_words"])))
