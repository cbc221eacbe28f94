"""The work folder of a Ray embedding: the papers to embed, and the shards written so far.

::

    WORK/<run key>/todo/part-00000.parquet     id, content_hash, text   (read by Ray Data in blocks)
    WORK/<run key>/shards/<batch key>.parquet  id, content_hash, vector (one per embedded batch)

The run key hashes the model id and the content hashes still to embed, so an interrupted
driver that runs again finds the shards already written. A shard is named by the content
hashes it holds and written to a temporary name, then renamed: a batch retried after a
worker died rewrites the same file, and a half-written one is never read. ``WORK`` is a
local folder or any ``pyarrow.fs`` URI (``s3://...``, ``gs://...``) that every node sees.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from paperatlas.errors import PaperatlasError

TODO_ROWS = 8192
"""Papers per input Parquet file of the work folder (a Ray Data read block)."""
MODEL_KEY = b"paperatlas.model"


def _filesystem(root: str):
    import pyarrow.fs as pafs

    if "://" in root:
        try:
            return pafs.FileSystem.from_uri(root)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise PaperatlasError(f"cannot open the Ray work folder {root}: {exc}") from None
    return pafs.LocalFileSystem(), os.path.abspath(root)


def run_key(model_id: str, hashes: Sequence[str]) -> str:
    """The work folder of embedding ``hashes`` with ``model_id`` (the same inputs give the same key)."""
    digest = hashlib.sha256(model_id.encode())
    for key in sorted(hashes):
        digest.update(key.encode())
    return digest.hexdigest()[:20]


def batch_key(hashes: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(hashes).encode())
    return "shard-" + digest.hexdigest()[:24]


@dataclass(frozen=True)
class WorkFolder:
    """One run's folder: ``uri`` as Ray Data and the workers see it, ``path`` inside ``filesystem``."""

    uri: str
    path: str

    @classmethod
    def open(cls, root: str, key: str) -> WorkFolder:
        _, base = _filesystem(root)
        uri = root.rstrip("/") + "/" + key if "://" in root else os.path.join(base, key)
        return cls(uri, base.rstrip("/") + "/" + key)

    @property
    def filesystem(self):
        return _filesystem(self.uri)[0]

    @property
    def todo(self) -> str:
        return self.uri.rstrip("/") + "/todo"

    @property
    def shards(self) -> str:
        """The shard folder as the workers open it (a path or a URI)."""
        return self.uri.rstrip("/") + "/shards"

    @property
    def _shard_path(self) -> str:
        return self.path + "/shards"

    def write_todo(self, ids: Sequence[str], hashes: Sequence[str], texts: Sequence[str]) -> None:
        """The papers to embed, as Parquet files of ``TODO_ROWS`` rows (replacing any earlier list)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        fs = self.filesystem
        folder = self.path + "/todo"
        fs.delete_dir_contents(folder, missing_dir_ok=True)
        fs.create_dir(folder, recursive=True)
        fs.create_dir(self._shard_path, recursive=True)
        for number, start in enumerate(range(0, len(hashes), TODO_ROWS)):
            stop = start + TODO_ROWS
            table = pa.table({"id": list(ids[start:stop]), "content_hash": list(hashes[start:stop]),
                              "text": list(texts[start:stop])})
            pq.write_table(table, f"{folder}/part-{number:05d}.parquet", filesystem=fs)

    def read_shards(self, model_id: str, dimension: int | None) -> tuple[dict[str, np.ndarray], int]:
        """Vectors by content hash from every complete shard of ``model_id``; also how many shard
        files were unreadable or of another model (left out: their papers are embedded again)."""
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        fs = self.filesystem
        found: dict[str, np.ndarray] = {}
        skipped = 0
        try:
            entries = fs.get_file_info(pafs.FileSelector(self._shard_path, allow_not_found=True))
        except OSError as exc:
            raise PaperatlasError(f"cannot list the Ray shards in {self.shards}: {exc}") from None
        for entry in sorted(entries, key=lambda item: item.path):
            if entry.type != pafs.FileType.File or not entry.base_name.endswith(".parquet"):
                continue
            try:
                table = pq.read_table(entry.path, filesystem=fs)
            except (OSError, ValueError):
                skipped += 1
                continue
            meta = table.schema.metadata or {}
            width = table.schema.field("vector").type.list_size
            if meta.get(MODEL_KEY, b"").decode() != model_id or (dimension is not None and width != dimension):
                skipped += 1
                continue
            vectors = table.column("vector").combine_chunks().values.to_numpy().reshape(-1, width)
            found.update(zip(table.column("content_hash").to_pylist(), vectors))
        return found, skipped

    def remove(self) -> None:
        self.filesystem.delete_dir(self.path)


def write_shard(shards: str, model_id: str, ids: Sequence[str], hashes: Sequence[str], vectors: np.ndarray) -> str:
    """Write one embedded batch as a shard: to a temporary name, then renamed. Returns its file name."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    fs, folder = _filesystem(shards)
    name = batch_key(hashes) + ".parquet"
    vector_column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), int(vectors.shape[1]))
    table = pa.table({"id": list(ids), "content_hash": list(hashes), "vector": vector_column})
    table = table.replace_schema_metadata({MODEL_KEY: model_id.encode()})
    partial = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, partial, filesystem=fs)
    fs.move(partial, f"{folder}/{name}")
    return name
