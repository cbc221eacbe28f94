"""The atlas folder on disk: a manifest with a format version and checksums, written atomically.

A save writes a sibling temporary folder, then swaps it in with renames, so a
crash or Ctrl-C leaves the previous atlas intact. Loading verifies the format
version and every file's sha256 before anything is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from paperatlas.errors import PaperatlasError

FORMAT_NAME = "paperatlas-atlas"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class AtlasFormatError(PaperatlasError):
    """An atlas folder is missing, corrupted, or of an unknown format."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose formats or numbers an atlas depends on."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("numpy", "pandas", "pyarrow", "faiss-cpu", "sentence-transformers", "torch", "umap-learn", "hdbscan", "scikit-learn"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


@contextmanager
def _deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C until the block ends (only possible in the main thread)."""
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atlas_folder(path: str | Path, writers: dict[str, Callable[[Path], None]], manifest: dict[str, Any]) -> None:
    """Write files (name → writer of that path) and the manifest, replacing ``path`` atomically."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise PaperatlasError(f"{target} exists and is not a folder")
    if target.exists() and any(target.iterdir()) and not (target / MANIFEST).exists():
        raise PaperatlasError(f"{target} is a folder that is not an atlas; refusing to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = target.parent / f".{target.name}.saving-{token}"
    retired = target.parent / f".{target.name}.old-{token}"
    staging.mkdir()
    try:
        files = {}
        for name, write in writers.items():
            write(staging / name)
            files[name] = {"sha256": sha256_file(staging / name), "bytes": (staging / name).stat().st_size}
        body = dict(manifest, format=FORMAT_NAME, format_version=FORMAT_VERSION, files=files)
        with open(staging / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_folder(staging)
        with _deferred_interrupt():
            if target.exists():
                os.rename(target, retired)
            os.rename(staging, target)
            _fsync_folder(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if retired.exists() and not target.exists():
            os.rename(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    for leftover in target.parent.glob(f".{target.name}.saving-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # from saves that were killed


def read_manifest(path: str | Path, verify: bool = True) -> dict[str, Any]:
    """The manifest of an atlas folder, after checking its format and (by default) checksums."""
    folder = Path(path)
    if not folder.is_dir():
        retired = sorted(folder.parent.glob(f".{folder.name}.old-*"))
        hint = f" (a save was interrupted; the previous atlas is in {retired[0]})" if retired else ""
        raise AtlasFormatError(f"{folder}: no atlas folder here{hint}")
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise AtlasFormatError(f"{folder}: not an atlas ({MANIFEST} is missing)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AtlasFormatError(f"{manifest_path}: corrupted manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise AtlasFormatError(f"{manifest_path}: not a paperatlas manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise AtlasFormatError(
            f"{manifest_path}: atlas format version {version!r} is not supported "
            f"(this paperatlas reads version {FORMAT_VERSION})"
        )
    if verify:
        for name, entry in manifest.get("files", {}).items():
            file = folder / name
            if not file.exists():
                raise AtlasFormatError(f"{file}: missing from the atlas")
            if sha256_file(file) != entry.get("sha256"):
                raise AtlasFormatError(f"{file}: corrupted (checksum does not match the manifest)")
    return manifest
