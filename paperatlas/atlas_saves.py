"""Saves of an atlas folder as others see them: the writer's hold, interrupted saves, consistent reads.

:func:`writing` holds the writer lock (:mod:`paperatlas.atlas_lock`) across a read-modify-write.

A save (:func:`saving` around :func:`paperatlas.store.write_atlas_folder`) writes
``.NAME.saving-TOKEN`` beside the folder, renames the folder to ``.NAME.old-TOKEN`` and the new
one to ``NAME``. A crash between
the two renames leaves no ``NAME``: the next load or save restores the previous atlas from
``.old-*`` (or, with none, a complete ``.saving-*``) and says so once on stderr. The next save
removes the ``.old-*`` and ``.saving-*`` folders of dead saves (it holds the writer lock, so no
live writer owns them). A load that overlaps a save sees the old atlas or the new one: it notes
the manifest before reading and retries when the folder was swapped under it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from paperatlas.atlas_lock import held_elsewhere, locked
from paperatlas.errors import PaperatlasError

T = TypeVar("T")
READ_ATTEMPTS = 8
"""Reads of a folder being swapped are retried this often (about 2.5 s of waiting in all)."""


@contextmanager
def writing(path: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the writer lock of the atlas folder ``path`` (waiting as :func:`~paperatlas.atlas_lock.locked`
    does) for a read-modify-write, after restoring the atlas if a save of it was interrupted."""
    with locked(path, timeout):
        restore_interrupted(path)
        yield


@contextmanager
def saving(path: str | Path, timeout: float | None = None) -> Iterator[None]:
    """:func:`writing` for one save into ``path``; once it is in, remove what dead saves left."""
    with writing(path, timeout):
        yield
        remove_leftovers(path)


def leftovers(path: str | Path) -> list[Path]:
    """The ``.NAME.old-*`` and ``.NAME.saving-*`` folders beside the atlas folder ``path``."""
    target = Path(path)
    return sorted(p for kind in ("old", "saving") for p in target.parent.glob(f".{target.name}.{kind}-*")
                  if p.is_dir() and not p.is_symlink())


def restore_interrupted(path: str | Path) -> Path | None:
    """If ``path`` is missing after an interrupted save, move the previous atlas back (the newest
    complete ``.old-*``, else the newest complete ``.saving-*``) and return where it came from.

    Does nothing (returns None) while another writer holds the lock: it may be mid-save.
    """
    target = Path(path)
    if target.exists() or target.is_symlink() or not leftovers(target):
        return None
    try:
        with locked(target, timeout=0):
            return _restore(target)
    except (PaperatlasError, OSError):  # a live writer, or a folder we cannot write: leave it be
        return None


def remove_leftovers(path: str | Path) -> None:
    """Remove the ``.old-*`` and ``.saving-*`` folders of dead saves; the caller holds the writer
    lock and ``path`` holds an atlas, so none of them is live or the only copy."""
    for folder in leftovers(path):
        shutil.rmtree(folder, ignore_errors=True)


def read_snapshot(path: str | Path, read: Callable[[Path], T], attempts: int = READ_ATTEMPTS) -> T:
    """``read(path)`` of one whole atlas: restore an interrupted save first, and read again when
    the folder was replaced during the read (its manifest changed) or a writer is swapping it."""
    folder = Path(path)
    for attempt in range(attempts):
        last = attempt + 1 == attempts
        restore_interrupted(folder)
        before = _manifest_mark(folder)
        try:
            result = read(folder)
        except PaperatlasError:
            if last or (_manifest_mark(folder) == before and not held_elsewhere(folder)):
                raise
            time.sleep(min(0.05 * 2 ** attempt, 0.5))
            continue
        if last or _manifest_mark(folder) == before:
            return result
    raise AssertionError("unreachable")


def _restore(target: Path) -> Path | None:
    from paperatlas.store import AtlasFormatError, read_manifest

    if target.exists() or target.is_symlink():
        return None
    for kind in ("old", "saving"):
        candidates = [p for p in leftovers(target) if p.name.startswith(f".{target.name}.{kind}-")]
        for candidate in sorted(candidates, key=_manifest_time, reverse=True):
            try:
                read_manifest(candidate)  # complete: every file matches its manifest
            except AtlasFormatError:
                continue
            os.rename(candidate, target)
            _fsync_folder(target.parent)
            what = "the previous atlas" if kind == "old" else "the atlas that save had written"
            print(f"paperatlas: a save of {target} was interrupted; restored {what} from {candidate.name}",
                  file=sys.stderr)
            return candidate
    return None


def _manifest_time(folder: Path) -> float:
    try:
        return os.stat(folder / "manifest.json").st_mtime
    except OSError:
        return 0.0


def _manifest_mark(folder: Path) -> object:
    """What identifies one save of ``folder``: its manifest's sha256 (each save records a
    fresh ``save_id``), or None when there is none."""
    manifest = folder / "manifest.json"
    try:
        status = os.stat(manifest)
        if status.st_size > 1 << 20:
            return (status.st_ino, status.st_size, status.st_mtime_ns)
        return hashlib.sha256(manifest.read_bytes()).hexdigest()
    except OSError:
        return None


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
