"""Exports of an atlas: paper tables and trends, the interactive HTML map and the static PNG map.

Importing this package is cheap: pandas and matplotlib load inside the
functions that need them.
"""

from __future__ import annotations

from paperatlas.export.html_map import render_html_map, write_html_map
from paperatlas.export.map_data import MapData
from paperatlas.export.notebook import map_widget
from paperatlas.export.png_map import MapLabel, PngMap, write_png_map
from paperatlas.export.tables import paper_table, topic_trends, write_frame, write_papers

__all__ = [
    "MapData",
    "MapLabel",
    "PngMap",
    "map_widget",
    "paper_table",
    "render_html_map",
    "topic_trends",
    "write_frame",
    "write_html_map",
    "write_papers",
    "write_png_map",
]
