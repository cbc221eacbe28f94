"""What ``paperatlas info`` tells: an atlas folder summarised as JSON-ready values and as text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperatlas.text_table import plural

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas


def atlas_summary(atlas: Atlas, path: str | Path) -> dict[str, Any]:
    """:meth:`Atlas.info` of an atlas loaded from ``path``, with its dates (first, last, undated),
    its files (count, bytes, format version) and the checks its load passed."""
    from paperatlas.store import QUICK_HASH_BYTES, read_manifest

    manifest = read_manifest(path, verify=False)
    files = manifest.get("files", {})
    dates = sorted(d for d in atlas.corpus.column("date") if d)
    sampled = sum("sampled_sha256" in entry for entry in files.values())
    checks = ["manifest", f"format version {manifest['format_version']}", f"sizes of {plural(len(files), 'file')}",
              f"checksums of {plural(len(files) - sampled, 'file')}"]
    if sampled:
        checks.append(f"sampled checksums of {plural(sampled, 'file')} over {QUICK_HASH_BYTES >> 20} MiB")
    checks.append("row counts agree")  # papers, vectors and topics: one row a paper in each
    if files["embeddings.npy"]["bytes"] <= QUICK_HASH_BYTES:  # larger ones: `paperatlas verify`
        checks.append("vectors finite and of unit length")
    return dict(
        atlas.info(),
        dates={"first": dates[0] if dates else None, "last": dates[-1] if dates else None,
               "dated": len(dates), "undated": len(atlas) - len(dates)},
        files=len(files),
        bytes=sum(int(entry.get("bytes", 0)) for entry in files.values()),
        format_version=manifest["format_version"],
        checks_passed=checks,
    )


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return plural(n, "byte")


def format_summary(summary: dict[str, Any], path: str | Path | None = None) -> str:
    """``summary`` (of :func:`atlas_summary`) as ``key: value`` lines a person reads."""
    if summary["external_embeddings"]:
        model = f"{summary['model']} vectors ({summary['dimension']} dimensions, given with --embeddings)"
    else:
        backend = f", {summary['backend']} backend" if summary.get("backend") else ""
        model = f"{summary['model']} ({summary['dimension']} dimensions{backend})"
    topics = summary.get("topics")
    if topics:
        counts = ", ".join(f"layer {key.removeprefix('layer_')}: {plural(n, 'topic')}" for key, n in topics.items())
        noise = f"{summary['noise_share']:.1%} of papers in no topic (layer 0)"
    else:
        counts, noise = "none (built without topics)", None
    dates = summary["dates"]
    span = f"{dates['first']} to {dates['last']}" if dates["dated"] else "no paper has a date"
    lines = [
        *([f"atlas: {path}"] if path is not None else []),
        f"papers: {summary['papers']}",
        f"model: {model}",
        f"index: {summary['index']}",
        f"topics: {counts}",
        *([f"noise: {noise}"] if noise else []),
        f"dates: {span}; {dates['undated']} undated",
        f"files: {plural(summary['files'], 'file')}, {_size(summary['bytes'])} "
        f"(atlas format {summary['format_version']})",
        f"checks passed: {', '.join(summary['checks_passed'])}",
    ]
    return "\n".join(lines)
