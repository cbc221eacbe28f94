"""Explain a search hit: the key terms a query and a paper share.

A shared term scores ``min(count in query, count in paper) × idf``, bigrams
counting 1.5×, so words both texts dwell on rank first. Document frequencies are
hashed (2**20 buckets) over the corpus once, which stays small at 100k papers;
a hit's terms are read from its text when it is returned.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Callable, Iterable

import numpy as np

N_BUCKETS = 2**20
BIGRAM_WEIGHT = 1.5


@lru_cache(maxsize=1)
def term_analyzer() -> Callable[[str], list[str]]:
    """Unigrams and bigrams after English and scientific stopwords, as the keyterms use."""
    from sklearn.feature_extraction.text import CountVectorizer

    from paperatlas.cluster.keyterms import BOILERPLATE_PHRASES, TOKEN_PATTERN, stopwords

    analyze = CountVectorizer(
        lowercase=True, stop_words=stopwords(), token_pattern=TOKEN_PATTERN, ngram_range=(1, 2)
    ).build_analyzer()
    return lambda text: [term for term in analyze(text) if term not in BOILERPLATE_PHRASES]


def _hasher(analyzer: Callable[[str], list[str]]):
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer=analyzer, n_features=N_BUCKETS, alternate_sign=False, norm=None, binary=True)


@lru_cache(maxsize=1)
def _text_hasher():
    """Hashes a text's terms (for document frequencies)."""
    return _hasher(term_analyzer())


@lru_cache(maxsize=1)
def _term_hasher():
    """Hashes one term as it is, to the same bucket the text hasher gave it."""
    return _hasher(lambda term: [term])


class TermExplainer:
    """Shared terms between a query and a paper, weighted by corpus rarity."""

    def __init__(self, corpus_texts: Iterable[str]) -> None:
        self._df = np.zeros(N_BUCKETS, dtype=np.int32)
        self._n = 0
        self.add_texts(list(corpus_texts))

    def add_texts(self, texts: list[str]) -> None:
        """Count the documents of new papers (after papers were added to an atlas)."""
        if texts:
            matrix = _text_hasher().transform(texts).tocsc()
            self._df += np.diff(matrix.indptr).astype(np.int32)
            self._n += len(texts)

    def counts(self, text: str) -> Counter[str]:
        return Counter(term_analyzer()(text))

    def shared(self, query: Counter[str], text: str, top: int = 5) -> list[str]:
        """Up to ``top`` terms in both, most telling first; a word inside a shared bigram is left to the bigram."""
        hit = self.counts(text)
        common = [term for term in query if term in hit]
        if not common:
            return []
        buckets = _term_hasher().transform(common).indices  # one bucket per term, in order
        idf = np.log((1 + self._n) / (1 + self._df[buckets])) + 1.0
        weights = {
            term: min(query[term], hit[term]) * idf[i] * (BIGRAM_WEIGHT if " " in term else 1.0)
            for i, term in enumerate(common)
        }
        in_bigrams = {word for term in common if " " in term for word in term.split()}
        ranked = sorted(common, key=lambda t: (-weights[t], t))
        return [term for term in ranked if " " in term or term not in in_bigrams][:top]
