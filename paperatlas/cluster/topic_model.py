"""The topics record: what ``fit_topics`` found, and what an atlas keeps, saves and exports.

One record from fit to map: labels per layer, map coordinates and the topic
table, all aligned with the papers (row ``i`` is paper ``i``). Every exporter
reads these arrays; :mod:`paperatlas.store` saves and loads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from paperatlas.cluster.density import NOISE
from paperatlas.cluster.settings import TopicSettings
from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    import pandas as pd

    from paperatlas.cluster.naming import NamedTopic
    from paperatlas.corpus.model import Corpus

TOPIC_COLUMNS = ("layer", "topic_id", "size", "parent", "name", "keyterms", "keyterm_scores", "exemplars")
"""The topic table's columns; ``parent`` is the topic id one layer up (-1 in the top
layer), ``exemplars`` are paper rows."""


class _LoadedOnUse:
    """A dataclass field that may be given as a zero-argument loader, called on first access
    (a saved atlas's topic table becomes a DataFrame only when something asks for it)."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = f"_{name}_value"

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError("no default")  # the field stays required
        value = obj.__dict__[self.slot]
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class TopicModel:
    """Layered topics of a corpus.

    Attributes:
        labels: ``(n, layers)`` int64 topic id per paper and layer, layer 0
            finest; -1 is noise (in layer 0; in every layer with
            ``themes="ward"`` or ``"average"``); fitted ids are 0..t-1 by size.
        probabilities: ``(n,)`` HDBSCAN membership strength (0 for papers added later).
        coords: ``(n, 2)`` map coordinates (None when ``make_map`` is off).
        table: One row per (layer, topic): see ``TOPIC_COLUMNS`` (may be passed as a loader).
        settings: The settings used.
        named: The user's named topics the names were guided by.
        centroids: Per layer, ``(t, d)`` unit centroids, row = topic id
            (from the fit; not saved).
        reduced: ``(n, n_components)`` clustering coordinates (from the fit; not saved).
        timings: Seconds spent per fitting step (from the fit; not saved).
    """

    labels: np.ndarray
    probabilities: np.ndarray
    coords: np.ndarray | None
    table: "pd.DataFrame" = _LoadedOnUse()  # type: ignore[assignment]
    settings: TopicSettings = field(default_factory=TopicSettings)
    named: tuple["NamedTopic", ...] = ()
    centroids: list[np.ndarray] | None = None
    reduced: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)

    # access ------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_layers(self) -> int:
        return int(self.labels.shape[1])

    def check_layer(self, layer: int) -> int:
        if not 0 <= int(layer) < self.n_layers:
            raise PaperatlasError(f"no layer {layer}: this atlas has layers 0 to {self.n_layers - 1}")
        return int(layer)

    def labels_at(self, layer: int = 0) -> np.ndarray:
        """``(n,)`` topic ids of one layer."""
        return self.labels[:, self.check_layer(layer)]

    def n_topics(self, layer: int = 0) -> int:
        """Number of topics in a layer (noise excluded)."""
        return int((self.table["layer"] == self.check_layer(layer)).sum())

    def layer_nearest(self, n_topics: int) -> int:
        """The layer whose topic count is nearest ``n_topics`` (the finer one on a tie)."""
        return min(range(self.n_layers), key=lambda layer: (abs(self.n_topics(layer) - n_topics), layer))

    def layer_table(self, layer: int = 0) -> "pd.DataFrame":
        """The topics of one layer, largest first."""
        rows = self.table[self.table["layer"] == self.check_layer(layer)]
        return rows.sort_values(["size", "topic_id"], ascending=[False, True]).reset_index(drop=True)

    def names_at(self, layer: int = 0) -> dict[int, str]:
        """Topic id → name at one layer, largest topic first (a copy; computed once per record)."""
        cache = self.__dict__.setdefault("_names", {})
        if layer not in cache:
            rows = self.layer_table(layer)
            cache[layer] = dict(zip(rows["topic_id"].astype(int), rows["name"]))
        return dict(cache[layer])

    def noise_share(self, layer: int = 0) -> float:
        labels = self.labels_at(layer)
        return float(np.mean(labels == NOISE)) if len(labels) else 0.0

    def topic_records(self, layer: int, corpus: "Corpus") -> list[dict[str, Any]]:
        """Topics of a layer as JSON-ready dicts, largest first (exemplars with id and title)."""
        return [
            {
                "layer": int(row.layer),
                "topic_id": int(row.topic_id),
                "name": row.name,
                "size": int(row.size),
                "parent": int(row.parent),
                "keyterms": list(row.keyterms),
                "exemplars": [{"id": corpus[int(r)].id, "title": corpus[int(r)].title} for r in row.exemplars],
            }
            for row in self.layer_table(layer).itertuples(index=False)
        ]

    # changes (each returns a new record) --------------------------------------

    def relabelled(self, mappings: Sequence[Mapping[int, int]]) -> TopicModel:
        """A copy whose topic ids are renamed per layer (``mappings[layer][new] = old``)."""
        labels = self.labels.copy()
        table = self.table.copy()
        for layer, mapping in enumerate(mappings):
            def rename(t: int, m=mapping) -> int:
                return NOISE if t == NOISE else int(m.get(int(t), t))
            labels[:, layer] = [rename(t) for t in self.labels[:, layer]]
            in_layer = (table["layer"] == layer).to_numpy()
            below = (table["layer"] == layer - 1).to_numpy()
            table["topic_id"] = np.where(in_layer, table["topic_id"].map(rename), table["topic_id"])
            table["parent"] = np.where(below, table["parent"].map(rename), table["parent"])
        return dataclasses.replace(self, labels=labels, table=table, centroids=None)

    def extended(self, labels: np.ndarray, coords: np.ndarray) -> TopicModel:
        """A copy with rows for newly added papers (topic sizes updated)."""
        return self._with_rows(
            labels=np.concatenate([self.labels, np.asarray(labels, dtype=np.int64)]),
            probabilities=np.concatenate([self.probabilities, np.zeros(len(labels), np.float32)]),
            coords=None if self.coords is None else np.concatenate([self.coords, np.asarray(coords, np.float32)]),
            table=self.table.copy(),
        )

    def without_rows(self, keep: np.ndarray) -> TopicModel:
        """A copy without removed papers: sizes updated, exemplar rows renumbered (removed ones dropped)."""
        keep = np.asarray(keep, dtype=bool)
        new_row = np.cumsum(keep) - 1
        table = self.table.copy()
        table["exemplars"] = [[int(new_row[r]) for r in rows if keep[r]] for rows in table["exemplars"]]
        return self._with_rows(
            labels=self.labels[keep],
            probabilities=self.probabilities[keep],
            coords=None if self.coords is None else self.coords[keep],
            table=table,
        )

    def spread(self, rows: np.ndarray, n: int, labels: np.ndarray, coords: np.ndarray | None) -> TopicModel:
        """The record of ``n`` papers from one fitted on the papers ``rows`` (sorted) of them.

        The other papers, in row order, take ``labels`` and ``coords`` (e.g. from
        ``assign.vote_topics``) and membership 0; exemplar rows are renumbered.
        """
        rows = np.asarray(rows, dtype=np.int64)
        rest = np.setdiff1d(np.arange(n, dtype=np.int64), rows)
        full_labels = np.empty((n, self.n_layers), dtype=np.int64)
        full_labels[rows], full_labels[rest] = self.labels, labels
        probabilities = np.zeros(n, dtype=np.float32)
        probabilities[rows] = self.probabilities
        full_coords = None
        if self.coords is not None and coords is not None:
            full_coords = np.empty((n, 2), dtype=np.float32)
            full_coords[rows], full_coords[rest] = self.coords, coords
        table = self.table.copy()
        table["exemplars"] = [[int(rows[r]) for r in exemplars] for exemplars in table["exemplars"]]
        return self._with_rows(labels=full_labels, probabilities=probabilities, coords=full_coords, table=table)

    def _with_rows(self, **arrays: Any) -> TopicModel:
        new = dataclasses.replace(self, reduced=None, **arrays)
        counts = []
        for layer in range(new.n_layers):
            labels = np.asarray(new.labels[:, layer])
            counts.append(np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, np.int64))
        sizes = [int(counts[int(layer)][int(topic)]) if 0 <= int(topic) < len(counts[int(layer)]) else 0
                 for layer, topic in zip(new.table["layer"], new.table["topic_id"])]
        new.table["size"] = np.asarray(sizes, dtype=np.int64)
        return new

    def __repr__(self) -> str:
        """Short: papers, topics per layer and noise (never the arrays)."""
        counts = " / ".join(str(self.n_topics(layer)) for layer in range(self.n_layers))
        return (f"TopicModel({len(self)} papers, {self.n_layers} layers of {counts} topics, "
                f"{self.noise_share(0):.0%} noise)")

    def _repr_html_(self) -> str:
        frame = self.layer_table(0)[["topic_id", "name", "size", "keyterms"]].copy()
        frame["keyterms"] = frame["keyterms"].map(lambda terms: ", ".join(terms[:6]))
        return (
            f"<p><b>{len(frame)} topics</b> in {self.n_layers} layers; "
            f"{self.noise_share(0):.0%} of papers unassigned (noise)</p>" + frame.to_html(index=False, escape=True)
        )
