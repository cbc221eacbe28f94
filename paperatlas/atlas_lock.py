"""The writer lock of an atlas folder: one writer at a time, across processes and threads.

A writer (``build -o``, ``add``, ``upgrade``, :meth:`Atlas.save`) holds an exclusive lock on
``.NAME.lock``, a small file beside the folder ``NAME`` that records the holder's pid. The
lock is never deleted (deleting a lock file lets two writers hold two different files), and
the operating system releases it when its holder ends, however it ends. Locks are
reentrant within a thread, so a command that holds the lock for its whole read-modify-write
can save through :meth:`Atlas.save`, which takes it again (:func:`paperatlas.atlas_saves.writing`
holds it and restores an interrupted save first).

POSIX uses ``fcntl.flock``; Windows locks a byte of the file with ``msvcrt``.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from paperatlas.errors import PaperatlasError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

DEFAULT_TIMEOUT_S = 600.0
"""How long a writer waits for another one by default; ``PAPERATLAS_LOCK_TIMEOUT`` (seconds) overrides it."""
_WINDOWS_LOCK_OFFSET = 1 << 20
"""Windows locks a byte range that readers of the pid (at offset 0) never touch."""


class AtlasBusyError(PaperatlasError):
    """Another process (or thread) is writing the atlas, and waiting for it timed out."""


@dataclass
class _Held:
    fd: int
    depth: int


_guard = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}
_held: dict[str, _Held] = {}
_owners: dict[str, int] = {}


def lock_file(path: str | Path) -> Path:
    """The lock file of the atlas folder ``path``: ``.NAME.lock`` beside it."""
    target = Path(os.path.abspath(path))
    return target.parent / f".{target.name}.lock"


def lock_timeout() -> float:
    """Seconds a writer waits for another: ``PAPERATLAS_LOCK_TIMEOUT`` or 10 minutes."""
    value = os.environ.get("PAPERATLAS_LOCK_TIMEOUT", "")
    try:
        seconds = float(value)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return seconds if math.isfinite(seconds) and seconds >= 0 else DEFAULT_TIMEOUT_S


@contextmanager
def locked(path: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive writer lock of the atlas folder ``path``, waiting up to ``timeout``
    seconds (default :func:`lock_timeout`) for another writer; then :class:`AtlasBusyError`."""
    timeout = lock_timeout() if timeout is None else max(0.0, timeout)
    file = lock_file(path)
    key = str(file)
    deadline = time.monotonic() + timeout
    with _guard:
        thread_lock = _thread_locks.setdefault(key, threading.RLock())
    if not (thread_lock.acquire(timeout=timeout) if timeout > 0 else thread_lock.acquire(blocking=False)):
        raise _busy(path, os.getpid(), timeout)
    try:
        held = _held.get(key)
        if held is None:
            held = _held[key] = _Held(_acquire(file, path, deadline, timeout), 0)
            _owners[key] = threading.get_ident()
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0:
                del _held[key], _owners[key]
                _release(held.fd)
    finally:
        thread_lock.release()


def held_elsewhere(path: str | Path) -> bool:
    """Whether another process, or another thread of this one, holds the writer lock of ``path``."""
    key = str(lock_file(path))
    owner = _owners.get(key)
    if owner is not None:
        return owner != threading.get_ident()
    try:
        fd = os.open(key, os.O_RDONLY)
    except OSError:
        return False  # no lock file: no writer has ever locked it
    try:
        if fcntl is None:
            return False  # Windows: byte locks are per handle; a reader cannot probe them cheaply
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def writer_pid(path: str | Path) -> int | None:
    """The pid the lock file of ``path`` records (its holder's, if it is held), or None."""
    try:
        with open(lock_file(path), "rb") as handle:
            text = handle.read(32).decode("ascii").strip()
        return int(text) if text.isdigit() and len(text) < 12 else None
    except (OSError, ValueError):
        return None


def _acquire(file: Path, path: str | Path, deadline: float, timeout: float) -> int:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise PaperatlasError(f"cannot write atlas {path}: its lock file {file} cannot be opened "
                              f"({exc.strerror or exc})") from None
    announced = False
    try:
        while not _try_lock(fd):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _busy(path, writer_pid(path), timeout)
            if not announced:
                pid = writer_pid(path)
                print(f"paperatlas: {path} is being written by another process"
                      f"{f' (pid {pid})' if pid else ''}; waiting up to {_duration(timeout)} for it",
                      file=sys.stderr)
                announced = True
            time.sleep(min(0.1, remaining))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
    os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _release(fd: int) -> None:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)


def _busy(path: str | Path, pid: int | None, timeout: float) -> AtlasBusyError:
    holder = f"pid {pid}" if pid else "pid unknown"
    waited = f"; waited {_duration(timeout)} (PAPERATLAS_LOCK_TIMEOUT sets how long)" if timeout > 0 else ""
    return AtlasBusyError(f"atlas {path} is being written by another process ({holder}){waited}")


def _duration(seconds: float) -> str:
    if seconds >= 60:
        minutes = seconds / 60
        return f"{minutes:g} min" if minutes == int(minutes) else f"{minutes:.1f} min"
    return f"{seconds:g} s"
