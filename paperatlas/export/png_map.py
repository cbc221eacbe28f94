"""A static PNG topic map drawn with matplotlib (Agg, no display needed)."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paperatlas.errors import PaperatlasError
from paperatlas.export.map_colours import NOISE_COLOUR, topic_colours
from paperatlas.export.map_topics import MapLayer, map_layers

if TYPE_CHECKING:
    from paperatlas.export.map_data import MapData

_MAX_PIXELS = 20000


@dataclass(frozen=True)
class MapLabel:
    """A topic name drawn on the PNG.

    ``x, y`` is the topic centre in map coordinates; ``box`` the label's
    pixel box ``(left, top, right, bottom)`` in the image (origin top-left).
    """

    text: str
    topic_id: int
    layer: int
    x: float
    y: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class PngMap:
    """What ``write_png_map`` drew: the file, its pixel size and its labels.

    Usable as a path (``os.fspath(result)``); ``dropped`` names topics whose
    label found no free spot.
    """

    path: Path
    width: int
    height: int
    labels: tuple[MapLabel, ...]
    dropped: tuple[str, ...] = ()
    legend: tuple[str, ...] = ()
    """The topics the legend lists (the largest fine topics, with their colours)."""

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def _label_layer(layers: list[MapLayer], layer: int | None, max_labels: int) -> MapLayer:
    if layer is not None:
        for candidate in layers:
            if candidate.layer == layer:
                return candidate
        raise PaperatlasError(f"no layer {layer} to label; the papers have {[c.layer for c in layers]}")
    for candidate in layers:
        if len(candidate.topics) <= max_labels:
            return candidate
    return layers[-1]


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def write_png_map(
    data: MapData,
    path: str | Path,
    *,
    width: int = 1600,
    height: int = 1200,
    dpi: int = 100,
    title: str = "paperatlas topic map",
    layer: int | None = None,
    max_labels: int = 40,
) -> PngMap:
    """Draw the topic map as a PNG of exactly ``width`` x ``height`` pixels.

    Papers are points coloured by fine topic (noise grey and smaller); topic
    names sit at topic centres in white boxes, largest topics first; a label
    that would overlap a placed one moves to a nearby free spot (with a
    leader line) or is dropped.

    Args:
        data: The papers and topics, as for ``write_html_map``.
        path: The PNG file to write; its folder is created.
        width: Image width in pixels.
        height: Image height in pixels.
        dpi: Dots per inch stored in the file; sizes in pixels do not change with it.
        title: Drawn at the top.
        layer: Layer whose topics are labelled; None: the finest layer with
            at most ``max_labels`` topics (else the coarsest).
        max_labels: Most labels drawn.

    Returns:
        A ``PngMap`` with the path and the labels drawn.

    Raises:
        PaperatlasError: Bad input or size, matplotlib missing, or the file
            cannot be written.
    """
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or not 16 <= value <= _MAX_PIXELS:
            raise PaperatlasError(f"{name} must be a whole number of pixels from 16 to {_MAX_PIXELS}, got {value!r}")
    if not isinstance(dpi, (int, float)) or not 10 <= dpi <= 1200:
        raise PaperatlasError(f"dpi must be from 10 to 1200, got {dpi!r}")
    if max_labels < 0:
        raise PaperatlasError(f"max_labels must not be negative, got {max_labels}")
    try:
        from matplotlib import patheffects
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise PaperatlasError(f"the PNG map needs matplotlib (pip install matplotlib): {error}") from None
    import numpy as np

    path = Path(path)
    if path.is_dir():
        raise PaperatlasError(f"cannot write the map to {path}: it is a folder")
    layers = map_layers(data)
    fine = layers[0]
    colours = topic_colours(fine)
    labelled = _label_layer(layers, layer, max_labels)
    x, y = data.coords[:, 0], data.coords[:, 1]
    n = len(data)

    # sizes are given in pixels and converted, so the image looks the same at any dpi
    px = 72.0 / dpi  # points per pixel
    scale = min(width / 1600, height / 1200) ** 0.5
    fig = Figure(figsize=((width + 0.01) / dpi, (height + 0.01) / dpi), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    top = 1 - 56 * scale / height
    ax = fig.add_axes((0.01, 0.01, 0.98, top - 0.01))
    ax.set_axis_off()
    pad_x = (x.max() - x.min()) * 0.04 or 1.0
    pad_y = (y.max() - y.min()) * 0.04 or 1.0
    ax.set_xlim(x.min() - pad_x, x.max() + pad_x)
    ax.set_ylim(y.min() - pad_y, y.max() + pad_y)

    diameter = float(np.clip(110 / np.sqrt(n), 3.0, 9.0)) * scale  # pixels
    noise = fine.labels < 0
    ax.scatter(x[noise], y[noise], s=(diameter * 0.7 * px) ** 2, c=NOISE_COLOUR, alpha=0.5, linewidths=0, zorder=1)
    point_colours = [colours.get(int(t), NOISE_COLOUR) for t in fine.labels[~noise]]
    ax.scatter(x[~noise], y[~noise], s=(diameter * px) ** 2, c=point_colours, alpha=0.85, linewidths=0, zorder=2)

    n_topics = len(fine.topics)
    fig.text(0.01, 1 - 12 * scale / height, title, ha="left", va="top", parse_math=False,
             fontsize=22 * scale * px, fontweight="bold", color="#1d1d1f")
    fig.text(0.99, 1 - 16 * scale / height, f"{n:,} papers · {n_topics:,} topics · grey: no topic",
             ha="right", va="top", fontsize=13 * scale * px, color="#555555")

    renderer = canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list[tuple[float, float, float, float]] = []
    legend = _legend(ax, fine, colours, scale * px, LEGEND_TOPICS)
    if legend is not None:  # labels keep clear of it
        box = legend.get_window_extent(renderer)
        placed.append((box.x0, box.y0, box.x1, box.y1))
    labels: list[MapLabel] = []
    dropped: list[str] = []
    theme_colour = "#444444"
    to_data = ax.transData.inverted()
    ordered = sorted(labelled.topics, key=lambda t: (-t.size, t.topic_id))
    biggest = max((t.size for t in ordered), default=1)
    for topic in ordered:
        if len(labels) >= max_labels:
            dropped.append(topic.name)
            continue
        size_px = (11 + 5 * (topic.size / biggest) ** 0.5) * scale
        if labelled.layer > 0:
            size_px += 2 * scale
        text = "\n".join(textwrap.wrap(topic.name, 24)) or topic.name
        edge = colours.get(topic.topic_id, theme_colour) if labelled.layer == 0 else theme_colour
        artist = ax.text(
            topic.x, topic.y, text, ha="center", va="center", zorder=5, parse_math=False,
            fontsize=size_px * px, fontweight="bold" if labelled.layer > 0 else "bold", color="#111111",
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": edge, "lw": 1.5 * scale * px, "alpha": 0.88},
        )
        artist.set_path_effects([patheffects.withStroke(linewidth=2.5 * scale * px, foreground="white")])
        cx, cy = ax.transData.transform((topic.x, topic.y))
        extent = artist.get_window_extent(renderer)
        w, h = extent.width + 0.7 * size_px + 4, extent.height + 0.7 * size_px + 4
        spot = None
        for step in (0.0, 0.8, 1.6, 2.6):
            for dx, dy in ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)):
                if step == 0 and (dx or dy):
                    continue
                if step > 0 and not (dx or dy):
                    continue
                lx, ly = cx + dx * step * w * 0.6, cy + dy * step * h
                box = (lx - w / 2, ly - h / 2, lx + w / 2, ly + h / 2)
                inside = box[0] >= frame.x0 and box[2] <= frame.x1 and box[1] >= frame.y0 and box[3] <= frame.y1
                if inside and not any(_overlaps(box, other) for other in placed):
                    spot = (lx, ly, box)
                    break
            if spot:
                break
        if spot is None:
            artist.remove()
            dropped.append(topic.name)
            continue
        lx, ly, box = spot
        placed.append(box)
        artist.set_position(tuple(to_data.transform((lx, ly))))
        if (lx, ly) != (cx, cy):
            ax.plot([topic.x, artist.get_position()[0]], [topic.y, artist.get_position()[1]],
                    color=edge, lw=1.3 * scale * px, zorder=4)
        labels.append(
            MapLabel(
                text=topic.name, topic_id=topic.topic_id, layer=labelled.layer, x=float(topic.x), y=float(topic.y),
                box=(float(box[0]), float(height - box[3]), float(box[2]), float(height - box[1])),
            )
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, format="png", facecolor="white")
    except OSError as error:
        raise PaperatlasError(f"cannot write the map to {path}: {error.strerror or error}") from None
    listed = tuple(t.get_text() for t in legend.get_texts()) if legend is not None else ()
    return PngMap(path=path, width=width, height=height, labels=tuple(labels), dropped=tuple(dropped), legend=listed)


LEGEND_TOPICS = 12
"""Most topics the PNG's legend lists."""


def _legend(ax, fine: MapLayer, colours: dict[int, str], unit: float, most: int):
    """A legend of the largest fine topics (coloured dots) in the lower left, or None without topics."""
    from matplotlib.lines import Line2D

    shown = fine.topics[:most]
    if not shown:
        return None
    handles = [Line2D([], [], marker="o", linestyle="", markersize=9 * unit, markerfacecolor=colours[t.topic_id],
                      markeredgewidth=0, label=textwrap.shorten(t.name, 40, placeholder="…")) for t in shown]
    more = len(fine.topics) - len(shown)
    return ax.legend(handles=handles, loc="lower left", fontsize=11 * unit, frameon=True, framealpha=0.9,
                     title=f"largest topics (of {len(fine.topics):,})" if more > 0 else "topics",
                     title_fontsize=11 * unit, borderpad=0.6, labelspacing=0.3, handletextpad=0.3)
