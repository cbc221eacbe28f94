"""Topic names: from a user's list of named topics, else from key terms.

The user's list is a TOML file::

    [[topic]]
    name = "reward modeling"
    description = "Learning reward models from human or AI preference data ..."

The caller embeds each named topic as ``"name: description"`` and passes the
unit vectors to ``name_topics``, which works in three passes:

1. **Threshold.** Each discovered topic whose centroid has cosine similarity
   ``>= threshold`` with its most similar named topic takes that name.
2. **Coverage.** Each named topic that named nothing in pass 1 (most similar
   pairs first) goes to its most similar discovered topic that is still
   unnamed, if their similarity is ``>= coverage_threshold``. So each named
   topic names at least one discovered topic when a reasonable match exists.
3. **Key terms.** Every other topic is named by its top three key terms
   ("reward · preference · rlhf").

Names are then made unique. When several topics share a named topic's name,
the most similar keeps it bare and each other gets its first key term that is
not part of the name nor used by a sibling ("reward modeling: math reasoning"). Any name
still repeated gets " (2)", " (3)", ... in topic-id order.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from paperatlas.cluster.keyterms import keyterm_label
from paperatlas.errors import PaperatlasError

DEFAULT_THRESHOLD = 0.55
"""Cosine similarity (all-MiniLM-L6-v2 scale) at which a named topic names a discovered one.

On the bundled corpus true matches score 0.60-0.74 and loose ones (a Shapley
data-valuation topic against "value alignment") about 0.46."""

DEFAULT_COVERAGE_THRESHOLD = 0.30
"""Lower similarity at which an otherwise unused named topic still names its best match."""


@dataclass(frozen=True)
class NamedTopic:
    """A topic the user expects, with a description used to recognise it."""

    name: str
    description: str

    def text(self) -> str:
        """The text to embed: ``"name: description"``."""
        return f"{self.name}: {self.description}"


def _toml_loads(text: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    try:  # pragma: no cover - Python 3.10 only
        import tomli
    except ImportError:  # pragma: no cover
        raise PaperatlasError(
            "reading named topics needs Python 3.11+ (tomllib) or the 'tomli' package on Python 3.10"
        ) from None
    return tomli.loads(text)  # pragma: no cover


def load_named_topics(path: str | Path) -> list[NamedTopic]:
    """Read named topics from a TOML file of ``[[topic]]`` tables.

    Args:
        path: The TOML file.

    Returns:
        The topics in file order (none if the file has no ``[[topic]]``).

    Raises:
        PaperatlasError: naming the file, if it cannot be read, is not valid
            TOML, or a topic lacks a non-empty string ``name`` or
            ``description``, or a name is repeated.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PaperatlasError(f"{path}: cannot read named topics: {exc}") from None
    try:
        data = _toml_loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError subclasses ValueError
        raise PaperatlasError(f"{path}: not valid TOML: {exc}") from None
    entries = data.get("topic", [])
    if not isinstance(entries, list):
        raise PaperatlasError(f"{path}: 'topic' must be an array of tables, written [[topic]]")
    topics: list[NamedTopic] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise PaperatlasError(f"{path}: topic {number} is not a table")
        fields = {}
        for key in ("name", "description"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise PaperatlasError(f"{path}: topic {number} needs a non-empty string '{key}'")
            fields[key] = " ".join(value.split())
        if fields["name"] in seen:
            raise PaperatlasError(f"{path}: topic name {fields['name']!r} appears twice")
        seen.add(fields["name"])
        topics.append(NamedTopic(**fields))
    return topics


def name_topics(
    centroids: np.ndarray,
    keyterms: Mapping[int, Sequence[tuple[str, float]]],
    named: Sequence[NamedTopic] = (),
    named_vectors: np.ndarray | None = None,
    *,
    topic_ids: Sequence[int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    coverage_threshold: float = DEFAULT_COVERAGE_THRESHOLD,
) -> dict[int, str]:
    """Name discovered topics (see the module docstring for the scheme).

    Args:
        centroids: ``(t, d)`` unit centroids of the discovered topics.
        keyterms: ``{topic id: [(term, weight), ...]}``, best first.
        named: The user's named topics (may be empty).
        named_vectors: ``(m, d)`` unit embeddings of ``named[i].text()``.
        topic_ids: Topic id of each centroid row; ``0..t-1`` if None.
        threshold: Similarity at which a named topic names a discovered one.
        coverage_threshold: Lower similarity for the coverage pass.

    Returns:
        ``{topic id: name}``, names unique.
    """
    centroids = np.asarray(centroids, dtype=np.float32)
    if centroids.ndim != 2:
        raise PaperatlasError(f"centroids must be 2-D (t, d), got shape {centroids.shape}")
    t = centroids.shape[0]
    ids = list(range(t)) if topic_ids is None else [int(i) for i in topic_ids]
    if len(ids) != t:
        raise PaperatlasError(f"{len(ids)} topic ids for {t} centroids")
    terms = {i: [term for term, _ in keyterms.get(i, [])] for i in ids}

    chosen: dict[int, int] = {}  # row -> named index
    similarity = np.zeros((t, 0), dtype=np.float32)
    if named:
        if named_vectors is None:
            raise PaperatlasError("named topics given without their vectors")
        named_vectors = np.asarray(named_vectors, dtype=np.float32)
        if named_vectors.shape != (len(named), centroids.shape[1]):
            raise PaperatlasError(
                f"named_vectors must have shape {(len(named), centroids.shape[1])}, got {named_vectors.shape}"
            )
        similarity = centroids @ named_vectors.T
    if similarity.size:
        best = np.argmax(similarity, axis=1)
        for row in range(t):
            if similarity[row, best[row]] >= threshold:
                chosen[row] = int(best[row])
        unused = [j for j in range(len(named)) if j not in set(chosen.values())]
        unused.sort(key=lambda j: (-float(similarity[:, j].max()), j))
        for j in unused:
            free = [row for row in range(t) if row not in chosen]
            if not free:
                break
            row = max(free, key=lambda r: (float(similarity[r, j]), -r))
            if similarity[row, j] >= coverage_threshold:
                chosen[row] = j

    names: dict[int, str] = {}
    by_named: dict[int, list[int]] = {}
    for row, j in chosen.items():
        by_named.setdefault(j, []).append(row)
    for j, rows in by_named.items():
        rows.sort(key=lambda r: (-float(similarity[r, j]), r))
        base = named[j].name
        names[ids[rows[0]]] = base
        used: set[str] = set()
        for row in rows[1:]:
            extra = next(
                (term for term in terms[ids[row]] if term.lower() not in base.lower() and term not in used),
                None,
            )
            if extra:
                used.add(extra)
            names[ids[row]] = f"{base}: {extra}" if extra else base
    for row, topic in enumerate(ids):
        if topic not in names:
            names[topic] = keyterm_label(terms[topic])
    return _unique(names)


def _unique(names: dict[int, str]) -> dict[int, str]:
    """Append " (2)", " (3)", ... to repeated names, in topic-id order."""
    out: dict[int, str] = {}
    taken: set[str] = set()
    for topic in sorted(names):
        name = names[topic]
        candidate, number = name, 2
        while candidate in taken:
            candidate = f"{name} ({number})"
            number += 1
        taken.add(candidate)
        out[topic] = candidate
    return out
