"""Topics: reduce (UMAP), cluster (HDBSCAN), layer, describe and name.

Each stage is a plain function in its own module; ``fit_topics`` runs them
all. Heavy libraries load inside the functions, so importing is cheap.
"""

from __future__ import annotations

from paperatlas.cluster.naming import NamedTopic, load_named_topics, name_topics
from paperatlas.cluster.settings import TopicSettings
from paperatlas.cluster.topic_model import TopicModel
from paperatlas.cluster.topics import apply_names, fit_topics

__all__ = [
    "NamedTopic",
    "TopicModel",
    "TopicSettings",
    "apply_names",
    "fit_topics",
    "load_named_topics",
    "name_topics",
]
