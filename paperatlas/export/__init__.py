"""Exports of an atlas: the interactive HTML topic map and the static PNG map.

Importing this package is cheap: plotly and matplotlib load inside the
functions that need them.
"""

from __future__ import annotations

from paperatlas.export.frames import map_frames
from paperatlas.export.html_map import render_html_map, write_html_map
from paperatlas.export.notebook import map_widget
from paperatlas.export.png_map import MapLabel, PngMap, write_png_map

__all__ = ["MapLabel", "PngMap", "map_frames", "map_widget", "render_html_map", "write_html_map", "write_png_map"]
