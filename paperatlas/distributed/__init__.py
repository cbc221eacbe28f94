"""Building on Ray (the ``ray`` extra): a corpus beyond one machine.

* :mod:`~paperatlas.distributed.session` — connect to ``RAY_ADDRESS`` or start a local Ray.
* :mod:`~paperatlas.distributed.embed` — embedding on Ray Data: an actor pool loads the model
  once per actor, each batch becomes a Parquet shard of (id, content hash, vector), the driver
  assembles them (resumable, cache-aware).
* :mod:`~paperatlas.distributed.shards` — the work folder: inputs to embed, written shards.
* :mod:`~paperatlas.distributed.index` — an IVF index trained on a sample, filled in Ray tasks, merged.
* :mod:`~paperatlas.distributed.votes` — topics fitted on a sample, the rest assigned in Ray tasks.

Nothing here imports Ray until it is used.
"""

from __future__ import annotations

from paperatlas.distributed.session import RaySettings

__all__ = ["RaySettings"]
