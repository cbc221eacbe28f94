"""Topic key terms (class-based TF-IDF) and exemplar papers.

c-TF-IDF as in BERTopic: the papers of a topic form one class; a term's
weight in class ``c`` is ``tf(t, c) * log(1 + A / f(t))`` where ``tf`` is the
term's share of the class's words (L1-normalised counts), ``A`` the mean
number of words per class and ``f(t)`` the term's count over all classes.

Two changes make key terms say something. Counts are per paper (a paper
counts a term once, so one abstract repeating a word cannot carry it), and
each weight is multiplied by ``commonness_weight`` (paperatlas.vocabulary):
terms found in a large share of the corpus's papers ("language", "large",
"learning", or the corpus's own theme) are down-weighted however unevenly
they spread over topics, so a topic's specific words and bigrams ("reward
model" rather than "reward") come first.

Noise papers (label -1) form a class of their own when the weights are
computed, so words that are common everywhere, noise included, are damped;
noise gets no entry in the output.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from paperatlas.cluster.centroids import topic_centroids
from paperatlas.errors import PaperatlasError
from paperatlas.vocabulary import BOILERPLATE_PHRASES, TOKEN_PATTERN, commonness_weight, stopwords

def class_tfidf(class_counts: object) -> object:
    """c-TF-IDF weights of a ``(classes, terms)`` count matrix.

    Args:
        class_counts: Sparse or dense ``(c, V)`` term counts per class.

    Returns:
        A sparse CSR ``(c, V)`` float64 matrix of weights.
    """
    import scipy.sparse as sp

    counts = sp.csr_matrix(class_counts, dtype=np.float64)
    words_per_class = np.asarray(counts.sum(axis=1)).ravel()
    term_totals = np.asarray(counts.sum(axis=0)).ravel()
    mean_words = words_per_class.mean() if words_per_class.size else 0.0
    with np.errstate(divide="ignore"):
        idf = np.where(term_totals > 0, np.log1p(mean_words / np.maximum(term_totals, 1e-300)), 0.0)
    scale = np.where(words_per_class > 0, 1.0 / np.maximum(words_per_class, 1e-300), 0.0)
    return sp.diags(scale) @ counts @ sp.diags(idf)


def term_counts(
    texts: Sequence[str], *, min_df: int = 2, ngram_range: tuple[int, int] = (1, 2)
) -> tuple[object, np.ndarray]:
    """Count unigrams and bigrams per paper, for ``keyterms_from_counts``.

    Texts are lowercased; English and ``SCIENTIFIC_STOPWORDS`` are removed
    before bigrams are formed (so "state of the art" yields nothing), and
    ``BOILERPLATE_PHRASES`` are dropped. A term must occur in at least
    ``min_df`` papers (1 when there are fewer than 100 papers).

    Args:
        texts: One text per paper (title and abstract).
        min_df: Minimum number of papers containing a term.
        ngram_range: Word n-gram lengths.

    Returns:
        ``(counts, vocabulary)``: a sparse CSR ``(n, V)`` matrix and the
        ``(V,)`` terms (empty when no text holds a usable word).
    """
    from sklearn.feature_extraction.text import CountVectorizer
    import scipy.sparse as sp

    vectorizer = CountVectorizer(
        lowercase=True,
        stop_words=stopwords(),
        token_pattern=TOKEN_PATTERN,
        ngram_range=ngram_range,
        min_df=min_df if len(texts) >= 100 else 1,
        dtype=np.float64,
    )
    try:
        counts = vectorizer.fit_transform(list(texts))
    except ValueError:  # empty vocabulary: nothing but stopwords
        return sp.csr_matrix((len(texts), 0), dtype=np.float64), np.array([], dtype=object)
    vocabulary = vectorizer.get_feature_names_out()
    keep = np.flatnonzero([term not in BOILERPLATE_PHRASES for term in vocabulary])
    return counts[:, keep].tocsr(), vocabulary[keep]


def keyterms_from_counts(
    counts: object, vocabulary: np.ndarray, labels: np.ndarray, top_n: int = 10
) -> dict[int, list[tuple[str, float]]]:
    """Top terms of each topic: c-TF-IDF of paper counts × ``commonness_weight``.

    A term counts once per paper that holds it; its document frequency over
    the rows of ``counts`` (all papers, noise included) sets the corpus-wide
    down-weighting.

    Args:
        counts: Sparse ``(n, V)`` counts from ``term_counts``.
        vocabulary: ``(V,)`` terms.
        labels: ``(n,)`` topic labels, -1 for noise.
        top_n: Terms per topic.

    Returns:
        As ``topic_keyterms``.
    """
    import scipy.sparse as sp

    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or labels.shape[0] != counts.shape[0]:
        raise PaperatlasError(f"got {counts.shape[0]} texts but {labels.shape} labels: one label per text")
    if top_n < 1:
        raise PaperatlasError(f"top_n must be at least 1, got {top_n}")
    topic_ids = np.unique(labels[labels >= 0])
    result: dict[int, list[tuple[str, float]]] = {int(t): [] for t in topic_ids}
    if topic_ids.size == 0 or len(vocabulary) == 0:
        return result
    classes = np.unique(labels)  # noise, if present, is a class here
    row_class = np.searchsorted(classes, labels)
    membership = sp.csr_matrix(
        (np.ones(labels.size), (row_class, np.arange(labels.size))), shape=(classes.size, labels.size)
    )
    presence = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    presence.data = (presence.data > 0).astype(np.float64)
    common = commonness_weight(np.asarray(presence.sum(axis=0)).ravel(), presence.shape[0])
    weights = sp.csr_matrix(class_tfidf(membership @ presence) @ sp.diags(common))
    for c, topic in enumerate(classes):
        if topic < 0:
            continue
        start, stop = weights.indptr[c], weights.indptr[c + 1]
        columns, values = weights.indices[start:stop], weights.data[start:stop]
        positive = values > 0
        columns, values = columns[positive], values[positive]
        if values.size > top_n:
            # Only terms that can make the top ``top_n`` (ties included) are sorted.
            cutoff = np.partition(values, values.size - top_n)[values.size - top_n]
            keep = values >= cutoff
            columns, values = columns[keep], values[keep]
        order = np.lexsort((vocabulary[columns], -values))[:top_n]
        result[int(topic)] = [(str(vocabulary[columns[i]]), float(values[i])) for i in order]
    return result


def topic_keyterms(
    texts: Sequence[str],
    labels: np.ndarray,
    top_n: int = 10,
    *,
    min_df: int = 2,
    ngram_range: tuple[int, int] = (1, 2),
) -> dict[int, list[tuple[str, float]]]:
    """Top terms (unigrams and bigrams) of each topic, as ``keyterms_from_counts``.

    See ``term_counts`` for the tokenisation and the stopwords.

    Args:
        texts: One text per paper (title and abstract).
        labels: ``(n,)`` topic labels, -1 for noise.
        top_n: Terms per topic.
        min_df: Minimum number of papers containing a term.
        ngram_range: Word n-gram lengths.

    Returns:
        ``{topic id: [(term, weight), ...]}`` for every topic but noise,
        highest weight first (ties by term); only terms with positive weight.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or labels.shape[0] != len(texts):
        raise PaperatlasError(f"got {len(texts)} texts but {labels.shape} labels: one label per text")
    counts, vocabulary = term_counts(texts, min_df=min_df, ngram_range=ngram_range)
    return keyterms_from_counts(counts, vocabulary, labels, top_n)


def stratified_rows(labels: np.ndarray, limit: int) -> np.ndarray:
    """At most about ``limit`` row indices, the same share of every label.

    Used to bound the cost of counting terms on large corpora: each label
    (noise included) keeps ``ceil(size * limit / n)`` rows, at least one,
    spread evenly over its rows. Deterministic.

    Args:
        labels: ``(n,)`` labels.
        limit: Rows wanted in all; every row is kept when ``n <= limit``.

    Returns:
        Sorted int64 row indices.
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        take = max(1, int(np.ceil(rows.size * limit / n)))
        chosen.append(rows[np.linspace(0, rows.size - 1, take).round().astype(np.int64)])
    return np.unique(np.concatenate(chosen)).astype(np.int64)


def exemplars(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n: int = 5,
    *,
    centroids: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[int, list[int]]:
    """Row indices of each topic's papers nearest its centroid (cosine).

    Args:
        embeddings: ``(n, d)`` unit rows.
        labels: ``(n,)`` topic labels, -1 for noise.
        n: Exemplars per topic (fewer when the topic is smaller).
        centroids: ``topic_centroids(embeddings, labels)`` if already known.

    Returns:
        ``{topic id: [row, ...]}``, most central first (ties by row index).
    """
    if n < 1:
        raise PaperatlasError(f"n must be at least 1, got {n}")
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    ids, centres = topic_centroids(embeddings, labels) if centroids is None else centroids
    out: dict[int, list[int]] = {}
    rows = np.flatnonzero(labels >= 0)
    if rows.size == 0:
        return out
    position = np.searchsorted(ids, labels[rows])
    sims = np.einsum("ij,ij->i", embeddings[rows], centres[position])
    # Group by topic, then most similar first, then by row index.
    order = np.lexsort((rows, -sims, position))
    starts = np.searchsorted(position[order], np.arange(ids.size))
    for t, topic in enumerate(ids):
        block = order[starts[t] : starts[t] + n]
        block = block[position[block] == t]
        out[int(topic)] = [int(r) for r in rows[block]]
    return out


def keyterm_label(terms: Sequence[str], k: int = 3) -> str:
    """A topic label from its first ``k`` terms: "reward · preference · rlhf".

    Args:
        terms: Key terms, best first.
        k: How many to join.

    Returns:
        The joined label, or "(no terms)" when there are none.
    """
    chosen: list[str] = []
    for term in terms:
        # Skip a term already covered by a chosen one ("reward" after "reward model").
        if any(re.search(rf"\b{re.escape(term)}\b", c) or re.search(rf"\b{re.escape(c)}\b", term) for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == k:
            break
    return " · ".join(chosen) if chosen else "(no terms)"
