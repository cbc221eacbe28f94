"""The topics a map labels: per layer, each topic's name, size, key terms and centre."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paperatlas.export.map_data import display_text

if TYPE_CHECKING:
    import numpy as np

    from paperatlas.export.map_data import MapData


@dataclass(frozen=True)
class MapTopic:
    """One topic (or theme) of one layer, with its centre on the map."""

    topic_id: int
    name: str
    size: int
    x: float
    y: float
    keyterms: tuple[str, ...] = ()


@dataclass(frozen=True)
class MapLayer:
    """One hierarchy layer: each paper's topic id there, and the topics."""

    layer: int
    labels: np.ndarray
    topics: tuple[MapTopic, ...] = field(default=())


def _keyterms(value: Any) -> tuple[str, ...]:
    if value is None or isinstance(value, float):
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    try:
        return tuple(str(t) for t in value)
    except TypeError:
        return ()


def map_layers(data: MapData) -> list[MapLayer]:
    """The layers to label, finest first, from the map's label arrays and topic table.

    A topic's name is ``"Topic <id>"`` (``"Theme <id>"`` above layer 0) where the
    table has none; its centre is the median position of its papers. Noise (-1)
    is never a topic. Grouped in one pass per layer, so a million papers with a
    thousand topics take a second, not an hour.

    Returns:
        One ``MapLayer`` per layer, topics sorted by size (largest first).
    """
    import pandas as pd

    table = data.topics
    layers = []
    for layer in range(data.labels.shape[1]):
        labels = data.labels[:, layer]
        info: dict[int, dict[str, Any]] = {}
        if len(table):
            for row in table[table["layer"].astype(int) == layer].to_dict("records"):
                info[int(row["topic_id"])] = {
                    "name": display_text(row.get("name")),
                    "size": row.get("size"),
                    "keyterms": _keyterms(row.get("keyterms")),
                }
        kept = labels >= 0
        frame = pd.DataFrame({"t": labels[kept], "x": data.coords[kept, 0], "y": data.coords[kept, 1]})
        grouped = frame.groupby("t", sort=True)
        centres, counts = grouped[["x", "y"]].median(), grouped.size()
        entries = []
        word = "Topic" if layer == 0 else "Theme"
        for tid, (cx, cy) in zip(centres.index.tolist(), centres.to_numpy().tolist()):
            meta = info.get(int(tid), {})
            try:
                size = int(meta["size"])
            except (KeyError, TypeError, ValueError):  # absent, None, NaN, NA
                size = int(counts[tid])
            entries.append(
                MapTopic(
                    topic_id=int(tid),
                    name=meta.get("name") or f"{word} {int(tid)}",
                    size=size,
                    x=float(cx),
                    y=float(cy),
                    keyterms=tuple(meta.get("keyterms", ()))[:8],
                )
            )
        entries.sort(key=lambda t: (-t.size, t.topic_id))
        layers.append(MapLayer(layer=layer, labels=labels, topics=tuple(entries)))
    return layers
