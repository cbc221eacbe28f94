"""Explain a search hit: the key terms a query and a paper share.

A shared term scores ``min(count in query, count in paper) × idf ×
commonness_weight`` (paperatlas.vocabulary, as the topic key terms), bigrams
counting 1.5×, so words both texts dwell on rank first, and words that run
through the whole corpus ("language", "learning") last. Document frequencies
are hashed (crc32, 2**20 buckets) over the corpus when an atlas is built,
updated as papers are added or removed, and saved with it; a query only reads
them. Terms are the unigrams and bigrams left after English and scientific
stopwords, as the topic key terms use; the analyzer's settings are saved too,
so a query needs neither scikit-learn nor a pass over the corpus.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from paperatlas.errors import PaperatlasError
from paperatlas.vocabulary import TOKEN_PATTERN, commonness_weight

N_BUCKETS = 2**20
BIGRAM_WEIGHT = 1.5
BATCH = 2_000
_WORD_RUNS = re.compile(r"\w\w+")
_ASCII_WORD_RUNS = re.compile(r"[a-z0-9_]{2,}")  # the same runs in lowercased ASCII text, a third faster


@dataclass(frozen=True)
class TermAnalyzer:
    """Lowercase, tokenise, drop stopwords, then unigrams and adjacent-word bigrams.

    The same steps as scikit-learn's ``CountVectorizer(ngram_range=(1, 2))``
    analyzer with these settings, in plain Python.
    """

    token_pattern: str
    stop_words: frozenset[str]
    dropped: frozenset[str] = frozenset()

    @classmethod
    def default(cls) -> TermAnalyzer:
        """The topic key terms' settings (English + scientific stopwords)."""
        from paperatlas.vocabulary import BOILERPLATE_PHRASES, stopwords

        return cls(TOKEN_PATTERN, frozenset(stopwords()), frozenset(BOILERPLATE_PHRASES))

    def words(self, text: str) -> list[str]:
        """The lowercased words of ``text`` that match the token pattern."""
        return self._words(text, frozenset())

    def _words(self, text: str, stop: frozenset[str]) -> list[str]:
        if self.token_pattern != TOKEN_PATTERN:
            return [w for w in _compiled(self.token_pattern).findall(text.lower()) if w not in stop]
        # TOKEN_PATTERN, twice as fast: whole runs of 2+ word characters, kept when a letter follows the digits
        text = text.lower()
        runs = (_ASCII_WORD_RUNS if text.isascii() else _WORD_RUNS).findall(text)
        return [w for w in runs if w not in stop and (w.isalpha() or _letter_after_digits(w))]

    def __call__(self, text: str) -> list[str]:
        words = self._words(text, self.stop_words)
        pairs = [f"{a} {b}" for a, b in zip(words, words[1:])]
        if not self.dropped:
            return words + pairs
        return [w for w in words if w not in self.dropped] + [p for p in pairs if p not in self.dropped]

    def counts_among(self, text: str, unigrams: set[str] | frozenset[str], bigrams: set[str] | frozenset[str]) -> Counter[str]:
        """``Counter(self(text))`` restricted to the given terms (cheaper: other pairs are never made)."""
        words = self._words(text, self.stop_words)
        counts = Counter([w for w in words if w in unigrams])
        counts.update([pair for a, b in zip(words, words[1:])
                       if a in unigrams and b in unigrams and (pair := f"{a} {b}") in bigrams])
        return counts

    def to_json(self) -> dict[str, Any]:
        return {"token_pattern": self.token_pattern, "stop_words": sorted(self.stop_words),
                "dropped": sorted(self.dropped)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> TermAnalyzer:
        return cls(str(value["token_pattern"]), frozenset(value["stop_words"]), frozenset(value.get("dropped", ())))


_PATTERNS: dict[str, re.Pattern] = {}


def _letter_after_digits(word: str) -> bool:
    for char in word:
        if not char.isdecimal():
            return char != "_"
    return False


def _compiled(pattern: str) -> re.Pattern:
    if pattern not in _PATTERNS:
        _PATTERNS[pattern] = re.compile(pattern)
    return _PATTERNS[pattern]


def bucket(term: str) -> int:
    """The document-frequency bucket of a term (stable across processes and versions)."""
    return zlib.crc32(term.encode("utf-8", "surrogatepass")) % N_BUCKETS


@dataclass
class TermStats:
    """Document frequencies of hashed terms over a corpus, and the analyzer that made them."""

    analyzer: TermAnalyzer
    document_frequency: np.ndarray  # (N_BUCKETS,) int32
    documents: int

    @classmethod
    def of_texts(cls, texts: Iterable[str], analyzer: TermAnalyzer | None = None) -> TermStats:
        stats = cls(analyzer or TermAnalyzer.default(), np.zeros(N_BUCKETS, dtype=np.int32), 0)
        stats.count(texts, +1)
        return stats

    def count(self, texts: Iterable[str], sign: int) -> None:
        """Add (``sign=+1``) or subtract (``-1``) the documents of ``texts``."""
        texts = list(texts)
        for start in range(0, len(texts), BATCH):
            buckets = [bucket(term) for text in texts[start:start + BATCH] for term in set(self.analyzer(text))]
            self.document_frequency += sign * np.bincount(buckets, minlength=N_BUCKETS).astype(np.int32)
        self.documents += sign * len(texts)
        if self.documents < 0 or self.document_frequency.min(initial=0) < 0:
            raise PaperatlasError("term statistics went negative: removed texts that were never counted")

    def counts(self, text: str) -> Counter[str]:
        return Counter(self.analyzer(text))

    def shared(self, query: Counter[str], text: str, top: int = 5) -> list[str]:
        """Up to ``top`` terms of ``query`` (term counts) also in ``text``; see :class:`QueryTerms`."""
        return self.for_query(query).shared(text, top)

    def for_query(self, query: Counter[str]) -> QueryTerms:
        """The query's terms weighted once, to explain many hits."""
        return QueryTerms(self, query)


class QueryTerms:
    """A query's terms, weighted once (idf × commonness, bigrams 1.5×) to explain each of its hits."""

    def __init__(self, stats: TermStats, query: Counter[str]) -> None:
        self.stats = stats
        terms = list(query)
        frequencies = stats.document_frequency[[bucket(term) for term in terms]].tolist() if terms else []
        documents, log = 1 + stats.documents, math.log
        common = commonness_weight(frequencies, stats.documents).tolist() if terms else []
        self._terms: dict[str, tuple[int, float]] = {}  # term -> (count in the query, weight)
        self._bigrams_of: dict[str, list[str]] = {}  # word -> the query's bigrams that hold it
        for term, frequency, damping in zip(terms, frequencies, common):
            idf = (log(documents / (1 + frequency)) + 1.0) * damping
            if " " in term:
                self._terms[term] = (query[term], idf * BIGRAM_WEIGHT)
                for word in term.split():
                    self._bigrams_of.setdefault(word, []).append(term)
            else:
                self._terms[term] = (query[term], idf)
        self._unigrams = frozenset(term for term in terms if " " not in term)
        self._bigrams = frozenset(term for term in terms if " " in term)

    def shared(self, text: str, top: int = 5) -> list[str]:
        """Up to ``top`` terms in both, most telling first: ``min(count in query, count in text) × weight``.

        A word inside a shared bigram is left to the bigram.
        """
        query = self._terms
        counts = self.stats.analyzer.counts_among(text, self._unigrams, self._bigrams)
        scored = []
        for term, count in counts.items():
            found = query.get(term)
            if found is not None:
                scored.append((-(found[0] if found[0] < count else count) * found[1], term))
        scored.sort()
        out: list[str] = []
        for _, term in scored:
            if " " in term or not any(bigram in counts for bigram in self._bigrams_of.get(term, ())):
                out.append(term)
                if len(out) == top:
                    break
        return out
