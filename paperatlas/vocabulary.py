"""What counts as a term: the token pattern and the stopwords shared by topic key terms and search's "why"."""

from __future__ import annotations

SCIENTIFIC_STOPWORDS: frozenset[str] = frozenset(
    """
    paper papers propose proposes proposed proposing present presents presented
    introduce introduces introduced approach approaches novel method methods
    model models result results show shows shown showing demonstrate demonstrates
    demonstrated based using use used uses existing framework frameworks
    performance experiment experiments experimental task tasks work works new
    extensive extensively study studies studied achieve achieves achieved
    significantly significant outperform outperforms outperforming effective
    effectively effectiveness efficient efficiently state art sota furthermore
    moreover addition additionally specifically particular particularly
    respectively various recent recently previous prior improve improves improved
    improvement improvements problem problems paradigm leverage leverages
    leveraging challenge challenges challenging address addresses
    different given able provide provides providing investigate investigates
    consider considered obtain obtained et al ie eg via including
    datasets dataset benchmark benchmarks code available github com https http
    www publicly release released remarkable superior compared comparison
    """.split()
)
"""Words that say little about a topic in paper abstracts, on top of English stopwords."""

BOILERPLATE_PHRASES: frozenset[str] = frozenset(
    {"large scale", "real world", "wide range", "best knowledge", "extensive experiments"}
)
"""Bigrams (after stopword removal) dropped from the vocabulary."""

TOKEN_PATTERN = r"(?u)\b(?=\w{2,}\b)\d*[^\W\d_]\w*\b"
"""Tokens of two or more characters that contain a letter (so "3d" but not "2019")."""


def stopwords() -> list[str]:
    """English stopwords (scikit-learn's list) plus ``SCIENTIFIC_STOPWORDS``, sorted."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(set(ENGLISH_STOP_WORDS) | SCIENTIFIC_STOPWORDS)


RARE_SHARE = 0.01
"""Share of papers at or below which a term is not down-weighted for being common."""

COMMON_POWER = 2.5
"""How steeply ``commonness_weight`` falls as a term's share of papers grows."""


def commonness_weight(document_frequency: object, documents: int) -> object:
    """Corpus-wide down-weighting of common terms: a factor in ``[0, 1]`` per term.

    ``min(1, log(1 / s) / log(1 / RARE_SHARE)) ** COMMON_POWER`` where
    ``s = (df + 1) / (documents + 1)`` is the term's (smoothed) share of the
    corpus's papers. Terms in at most 1% of papers keep their weight; a term
    in 15% of papers keeps about a tenth, one in every paper nothing. So words
    that run through the whole corpus ("language", "learning", or the
    corpus's own theme) give way to terms specific to a topic, whichever
    corpus it is, with no word list to tune.

    Args:
        document_frequency: Papers containing each term (scalar or array).
        documents: Papers in the corpus.

    Returns:
        float64 factors, the shape of ``document_frequency``.
    """
    import numpy as np

    share = (np.asarray(document_frequency, dtype=np.float64) + 1.0) / (max(documents, 0) + 1.0)
    ratio = np.log(1.0 / np.minimum(share, 1.0)) / np.log(1.0 / RARE_SHARE)
    return np.minimum(ratio, 1.0) ** COMMON_POWER
