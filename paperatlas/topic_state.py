"""The topics an atlas holds: labels per layer, map coordinates, the topic table.

This is the persisted form of a fitted :class:`paperatlas.cluster.TopicModel`,
with exemplars stored as paper ids so they survive added and removed papers.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    import pandas as pd

    from paperatlas.cluster.naming import NamedTopic
    from paperatlas.cluster.topics import TopicModel
    from paperatlas.corpus.model import Corpus

NOISE = -1
TOPIC_TABLE_COLUMNS = ("layer", "topic_id", "size", "parent", "name", "keyterms", "keyterm_scores", "exemplars")


@dataclass
class AtlasTopics:
    """Topic state aligned with an atlas's papers (row ``i`` is paper ``i``).

    Attributes:
        labels: ``(n, layers)`` topic id per paper and layer; -1 is noise; layer 0 is finest.
        probabilities: ``(n,)`` HDBSCAN membership strength (0 for papers added later).
        coords: ``(n, 2)`` map coordinates.
        table: one row per (layer, topic): see ``TOPIC_TABLE_COLUMNS``; exemplars are paper ids.
        settings: the topic settings used, as plain values.
        named: the user's named topics the names were guided by.
    """

    labels: np.ndarray
    probabilities: np.ndarray
    coords: np.ndarray
    table: "pd.DataFrame"
    settings: dict[str, Any] = field(default_factory=dict)
    named: list["NamedTopic"] = field(default_factory=list)

    # access ------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        return int(self.labels.shape[1])

    def check_layer(self, layer: int) -> int:
        if not 0 <= int(layer) < self.n_layers:
            raise PaperatlasError(f"no layer {layer}: this atlas has layers 0 to {self.n_layers - 1}")
        return int(layer)

    def labels_at(self, layer: int = 0) -> np.ndarray:
        return self.labels[:, self.check_layer(layer)]

    def layer_table(self, layer: int = 0) -> "pd.DataFrame":
        rows = self.table[self.table["layer"] == self.check_layer(layer)]
        return rows.sort_values(["size", "topic_id"], ascending=[False, True]).reset_index(drop=True)

    def names_at(self, layer: int = 0) -> dict[int, str]:
        rows = self.layer_table(layer)
        return dict(zip(rows["topic_id"].astype(int), rows["name"]))

    def noise_share(self, layer: int = 0) -> float:
        labels = self.labels_at(layer)
        return float(np.mean(labels == NOISE)) if len(labels) else 0.0

    def topic_records(self, layer: int, corpus: "Corpus") -> list[dict[str, Any]]:
        """Topics of a layer as JSON-ready dicts, largest first."""
        records = []
        for row in self.layer_table(layer).itertuples(index=False):
            records.append(
                {
                    "layer": int(row.layer),
                    "topic_id": int(row.topic_id),
                    "name": row.name,
                    "size": int(row.size),
                    "parent": int(row.parent),
                    "keyterms": list(row.keyterms),
                    "exemplars": [
                        {"id": pid, "title": corpus.get(pid).title} for pid in row.exemplars if pid in corpus
                    ],
                }
            )
        return records

    def trends(self, dates: Sequence[str | None], layer: int = 0) -> "pd.DataFrame":
        """Papers per month (rows, ``YYYY-MM``) and topic name (columns); undated papers left out."""
        import pandas as pd

        names = self.names_at(layer)
        names[NOISE] = "(noise)"
        frame = pd.DataFrame({"month": [d[:7] if d else None for d in dates], "topic": [names[int(t)] for t in self.labels_at(layer)]})
        frame = frame.dropna(subset=["month"])
        counts = frame.groupby(["month", "topic"]).size().unstack("topic", fill_value=0).sort_index()
        ordered = [names[t] for t in names if t != NOISE and names[t] in counts.columns]
        if "(noise)" in counts.columns:
            ordered.append("(noise)")
        return counts[ordered].astype("int64")

    # construction ---------------------------------------------------------------

    @classmethod
    def from_model(cls, model: "TopicModel", ids: Sequence[str], named: Sequence["NamedTopic"] = ()) -> AtlasTopics:
        """Persistable topics from a fitted model (exemplar rows become paper ids)."""
        table = model.topics.copy()
        table["exemplars"] = [[ids[int(r)] for r in rows] for rows in table["exemplars"]]
        coords = model.coords_2d if model.coords_2d is not None else np.zeros((len(ids), 2), np.float32)
        return cls(
            labels=np.stack(model.labels, axis=1).astype(np.int64),
            probabilities=np.asarray(model.probabilities, dtype=np.float32),
            coords=np.asarray(coords, dtype=np.float32),
            table=table[list(TOPIC_TABLE_COLUMNS)].reset_index(drop=True),
            settings=_plain(dataclasses.asdict(model.settings)),
            named=list(named),
        )

    def relabelled(self, mappings: Sequence[Mapping[int, int]]) -> AtlasTopics:
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
        return dataclasses.replace(self, labels=labels, table=table)

    def extended(self, labels: np.ndarray, coords: np.ndarray) -> AtlasTopics:
        """A copy with rows for newly added papers (topic sizes updated)."""
        new = dataclasses.replace(
            self,
            labels=np.concatenate([self.labels, labels.astype(np.int64)]),
            probabilities=np.concatenate([self.probabilities, np.zeros(len(labels), np.float32)]),
            coords=np.concatenate([self.coords, coords.astype(np.float32)]),
        )
        new.table = new.table.copy()
        new.refresh_sizes()
        return new

    def without_rows(self, keep: np.ndarray) -> AtlasTopics:
        """A copy without removed papers (topic sizes updated)."""
        new = dataclasses.replace(
            self, labels=self.labels[keep], probabilities=self.probabilities[keep], coords=self.coords[keep], table=self.table.copy()
        )
        new.refresh_sizes()
        return new

    def refresh_sizes(self) -> None:
        sizes = []
        for layer, topic in zip(self.table["layer"], self.table["topic_id"]):
            sizes.append(int(np.sum(self.labels[:, int(layer)] == int(topic))))
        self.table["size"] = sizes

    # persistence -----------------------------------------------------------------

    def writers(self, ids: Sequence[str]) -> dict[str, Callable[[Path], None]]:
        """Files for the atlas folder: the topic table and per-paper assignments."""
        import pandas as pd

        assignments = pd.DataFrame({"id": list(ids)})
        for layer in range(self.n_layers):
            assignments[f"layer_{layer}"] = self.labels[:, layer]
        assignments["probability"] = self.probabilities
        assignments["x"] = self.coords[:, 0]
        assignments["y"] = self.coords[:, 1]
        return {
            "topics.parquet": lambda p: self.table.to_parquet(p, index=False),
            "assignments.parquet": lambda p: assignments.to_parquet(p, index=False),
        }

    def manifest(self) -> dict[str, Any]:
        return {
            "layers": self.n_layers,
            "settings": self.settings,
            "named_topics": [{"name": t.name, "description": t.description} for t in self.named],
        }

    @classmethod
    def load(cls, folder: Path, ids: Sequence[str], entry: Mapping[str, Any]) -> AtlasTopics:
        import pandas as pd

        from paperatlas.cluster.naming import NamedTopic

        table = pd.read_parquet(folder / "topics.parquet")
        assignments = pd.read_parquet(folder / "assignments.parquet")
        if list(assignments["id"]) != list(ids):
            raise PaperatlasError(f"{folder}: assignments.parquet does not list the atlas's papers in order")
        layers = int(entry["layers"])
        table["keyterms"] = table["keyterms"].map(list)
        table["keyterm_scores"] = table["keyterm_scores"].map(list)
        table["exemplars"] = table["exemplars"].map(list)
        return cls(
            labels=assignments[[f"layer_{i}" for i in range(layers)]].to_numpy(np.int64),
            probabilities=assignments["probability"].to_numpy(np.float32),
            coords=assignments[["x", "y"]].to_numpy(np.float32),
            table=table,
            settings=dict(entry.get("settings", {})),
            named=[NamedTopic(t["name"], t["description"]) for t in entry.get("named_topics", [])],
        )

    def _repr_html_(self) -> str:
        frame = self.layer_table(0)[["topic_id", "name", "size", "keyterms"]].copy()
        frame["keyterms"] = frame["keyterms"].map(lambda terms: ", ".join(terms[:6]))
        return (
            f"<p><b>{len(frame)} topics</b> in {self.n_layers} layers; "
            f"{self.noise_share(0):.0%} of papers unassigned (noise)</p>" + frame.to_html(index=False)
        )


def _plain(value: Any) -> Any:
    """Settings as JSON-safe values (tuples become lists)."""
    return json.loads(json.dumps(value, default=lambda v: list(v) if isinstance(v, tuple) else str(v)))
