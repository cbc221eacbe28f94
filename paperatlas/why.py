"""Explain a search hit: the key terms a query and a paper share.

A shared term scores ``min(count in query, count in paper) × idf``, bigrams
counting 1.5×, so words both texts dwell on rank first. Document frequencies
are hashed (crc32, 2**20 buckets) over the corpus when an atlas is built,
updated as papers are added or removed, and saved with it; a query only reads
them. Terms are the unigrams and bigrams left after English and scientific
stopwords, as the topic key terms use; the analyzer's settings are saved too,
so a query needs neither scikit-learn nor a pass over the corpus.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from paperatlas.errors import PaperatlasError

N_BUCKETS = 2**20
BIGRAM_WEIGHT = 1.5
BATCH = 2_000


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
        from paperatlas.cluster.keyterms import BOILERPLATE_PHRASES, TOKEN_PATTERN, stopwords

        return cls(TOKEN_PATTERN, frozenset(stopwords()), frozenset(BOILERPLATE_PHRASES))

    def __call__(self, text: str) -> list[str]:
        stop = self.stop_words
        words = [w for w in _compiled(self.token_pattern).findall(text.lower()) if w not in stop]
        pairs = [f"{a} {b}" for a, b in zip(words, words[1:])]
        if not self.dropped:
            return words + pairs
        return [w for w in words if w not in self.dropped] + [p for p in pairs if p not in self.dropped]

    def to_json(self) -> dict[str, Any]:
        return {"token_pattern": self.token_pattern, "stop_words": sorted(self.stop_words),
                "dropped": sorted(self.dropped)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> TermAnalyzer:
        return cls(str(value["token_pattern"]), frozenset(value["stop_words"]), frozenset(value.get("dropped", ())))


_PATTERNS: dict[str, re.Pattern] = {}


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
        """Up to ``top`` terms in both, most telling first; a word inside a shared bigram is left to the bigram."""
        hit = self.counts(text)
        common = [term for term in query if term in hit]
        if not common:
            return []
        frequency = self.document_frequency[[bucket(term) for term in common]]
        idf = np.log((1 + self.documents) / (1 + frequency)) + 1.0
        weights = {
            term: min(query[term], hit[term]) * idf[i] * (BIGRAM_WEIGHT if " " in term else 1.0)
            for i, term in enumerate(common)
        }
        in_bigrams = {word for term in common if " " in term for word in term.split()}
        ranked = sorted(common, key=lambda t: (-weights[t], t))
        return [term for term in ranked if " " in term or term not in in_bigrams][:top]
