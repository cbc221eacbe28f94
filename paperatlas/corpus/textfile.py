"""Load an input file's bytes and text with clear errors (gzip, binary, UTF-8, empty)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from paperatlas.errors import InputError

_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip-compressed."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, "is a folder, expected a file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from None
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(path, f"corrupt gzip data ({exc})") from None
    elif path.suffix == ".gz":
        raise InputError(path, "named .gz but is not gzip-compressed")
    return data


def read_text(path: Path) -> str:
    """The file as UTF-8 text; refuses empty, binary and non-UTF-8 files."""
    data = read_bytes(path)
    if not data.strip():
        raise InputError(path, "file is empty")
    if b"\x00" in data[:65536]:
        raise InputError(path, "binary file, expected UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise InputError(path, f"not UTF-8 text (byte 0x{bad})", line=line) from None
    return text.removeprefix("\ufeff")
