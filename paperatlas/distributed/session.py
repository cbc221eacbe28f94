"""Where a Ray build runs: ``RAY_ADDRESS`` when set, else a Ray started on this machine."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from paperatlas.errors import PaperatlasError

INSTALL_HINT = "Ray is not installed: pip install 'paperatlas[ray]'"


@dataclass(frozen=True)
class RaySettings:
    """How a build uses Ray.

    Args:
        actors: embedding actors (default: one per GPU when the cluster has GPUs, else
            one per ``cpus_per_actor`` CPUs).
        cpus_per_actor: CPUs (torch threads) of a CPU actor (default: ``min(4, cluster CPUs)``).
        batch_size: papers an actor embeds, and writes as one shard, at a time.
        work_dir: where the inputs to embed and the written shards go: a folder (or a
            ``pyarrow.fs`` URI such as ``s3://bucket/path``) that the driver and every worker
            see. Default: ``ray-work`` in the embedding cache folder, which only a Ray on this
            machine can use.
        tasks: Ray tasks that fill the index and assign topics (default: cluster CPUs).
    """

    actors: int | None = None
    cpus_per_actor: float | None = None
    batch_size: int = 1024
    work_dir: str | None = None
    tasks: int | None = None

    def check(self) -> None:
        for name in ("actors", "tasks"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise PaperatlasError(f"Ray {name} must be at least 1, got {value}")
        if self.cpus_per_actor is not None and self.cpus_per_actor <= 0:
            raise PaperatlasError(f"Ray cpus_per_actor must be above 0, got {self.cpus_per_actor}")
        if self.batch_size < 1:
            raise PaperatlasError(f"Ray batch_size must be at least 1, got {self.batch_size}")


def require_ray():
    """The ``ray`` module, or an error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the extra installs ray[data])
    except ImportError:
        raise PaperatlasError(INSTALL_HINT) from None
    return ray


@contextmanager
def ray_session() -> Iterator[object]:
    """Ray, connected: an existing connection is reused; else ``RAY_ADDRESS`` is joined, or a local Ray
    started (and stopped again on the way out). Ray's own progress bars and logs stay quiet."""
    import logging

    ray = require_ray()
    started = False
    if not ray.is_initialized():
        # Ray's C++ core logs warnings meant for its developers (Ray Data's actors always trigger one);
        # "fatal" keeps them off the terminal, and the one line saying so is swallowed with init's output
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        try:
            with _stderr_silenced():
                ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                         log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = os.environ.get("RAY_ADDRESS")
            raise PaperatlasError(f"cannot {'reach Ray at ' + where if where else 'start Ray'}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        started = True
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # our own bar, not Ray Data's lines
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 points at /dev/null for a moment (C++ code writes there directly)."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def cluster_resources(ray) -> tuple[float, float, int]:
    """CPUs, GPUs and alive nodes of the connected cluster."""
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return float(resources.get("CPU", 0)), float(resources.get("GPU", 0)), nodes


def task_count(ray, settings: RaySettings) -> int:
    """Ray tasks to split index filling and topic votes into."""
    cpus, _, _ = cluster_resources(ray)
    return settings.tasks or max(1, int(cpus))
