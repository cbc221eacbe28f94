"""Merge papers that share a normalised title."""

from __future__ import annotations

from typing import Iterable

from paperatlas.corpus.model import Paper, normalise_title
from paperatlas.errors import PaperatlasError

_FILLABLE = ("date", "upvotes", "byline", "url", "arxiv_id")


def merge(group: list[Paper]) -> Paper:
    """The richest record of a group, its gaps filled from the others, sources united."""
    base = max(group, key=lambda paper: paper.richness())
    changes: dict[str, object] = {}
    for name in _FILLABLE:
        if getattr(base, name) is None:
            for other in group:
                if getattr(other, name) is not None:
                    changes[name] = getattr(other, name)
                    break
    sources = list(dict.fromkeys(source for paper in group for source in paper.sources))
    metadata = {}
    for paper in group:
        for key, value in paper.metadata.items():
            metadata.setdefault(key, value)
    metadata.update(base.metadata)
    return base.with_changes(sources=tuple(sources), metadata=metadata, **changes)


def dedupe(papers: Iterable[Paper]) -> tuple[list[Paper], int]:
    """Papers with duplicates merged (first-seen order) and how many were merged away."""
    groups: dict[str, list[Paper]] = {}
    count = 0
    for paper in papers:
        groups.setdefault(normalise_title(paper.title), []).append(paper)
        count += 1
    merged = [merge(group) if len(group) > 1 else group[0] for group in groups.values()]
    seen: dict[str, str] = {}
    for paper in merged:
        if paper.id in seen:
            raise PaperatlasError(
                f"paper id {paper.id!r} is used by two different titles: "
                f"{seen[paper.id][:60]!r} and {paper.title[:60]!r}; choose another id field "
                f"with --id-field, or --id-field '' to derive ids from titles"
            )
        seen[paper.id] = paper.title
    return merged, count - len(merged)
