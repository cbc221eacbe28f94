"""The atlas folder on disk: every reader and writer of it, one codec per artefact.

``manifest.json`` holds the format name and version, library versions, the
model, and each file's sha256. The artefacts:

* papers — ``papers.arrow`` (Arrow IPC; nested or mixed metadata as JSON text),
  memory-mapped into a :class:`Corpus` that makes Paper objects on demand, and
  ``paper_ids.npy`` (rows in id order, for finding an id without a dict). A
  corpus whose papers have aliases (ids of merged records) stores them in an
  ``aliases`` list column; it is optional, so atlases written before it (which
  have none) load unchanged and the format version stays 3;
* vectors — ``embeddings.npy`` (unit rows: float32, or float16 beside an ``ivf`` index;
  memory-mapped on load), the one copy;
* index — ``index.faiss`` (FAISS's own format), only for approximate indexes;
* topics — ``topics.parquet`` (one row per layer and topic) and
  ``assignments.parquet`` (labels per layer, membership, map position);
* search state — ``search_terms.npy`` (hashed document frequencies) and
  ``search_titles.parquet`` (normalised titles), and the BM25 index
  (``lexical_*.npy``, ``lexical_words.json``; see :mod:`paperatlas.lexical`), read on first use.

A save writes a sibling temporary folder, then swaps it in with renames, so a
crash or Ctrl-C leaves the previous atlas intact. :meth:`Atlas.save` holds the atlas's writer
lock meanwhile, and a crash between the renames is undone by the next load or save
(:mod:`paperatlas.atlas_saves`). Loading verifies the format
version, every file's size, and the sha256 of each file up to 16 MiB (of 64
sampled blocks for larger ones), so opening a million-paper atlas reads no
vector; :func:`verify_atlas` (``paperatlas verify``) checks every byte.
The manifest must list exactly the files its format requires (:func:`required_files`),
each a plain name inside the folder, so it cannot switch these checks off.
Formats 1 and 2 are read too (format 1 is migrated: it lacks the search state).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    from paperatlas.cluster.topic_model import TopicModel
    from paperatlas.corpus.model import Corpus
    from paperatlas.embed.base import ModelInfo
    from paperatlas.index import PaperIndex
    from paperatlas.search_state import SearchState

FORMAT_NAME = "paperatlas-atlas"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
"""Format 1 lacks the saved search state (and names exemplars by id); it is migrated on load.
Formats 1-2 keep papers in Parquet and a flat copy of the vectors in ``index.faiss``."""
MANIFEST = "manifest.json"
Writers = dict[str, Callable[[Path], None]]


class AtlasFormatError(PaperatlasError):
    """An atlas folder is missing, corrupted, or of an unknown format."""


QUICK_HASH_BYTES = 16 << 20
"""Files up to this size are checked in full on every load; larger ones by size and sampled blocks."""
SAMPLED_BLOCKS, SAMPLED_BLOCK_BYTES = 64, 1 << 16


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sampled_sha256(path: Path) -> str:
    """sha256 of the size and ``SAMPLED_BLOCKS`` evenly spaced blocks: catches a truncated,
    replaced or rewritten file in milliseconds (a full check is :func:`verify_atlas`)."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        for offset in np.linspace(0, max(0, size - SAMPLED_BLOCK_BYTES), SAMPLED_BLOCKS).astype(np.int64):
            handle.seek(int(offset))
            digest.update(handle.read(SAMPLED_BLOCK_BYTES))
    return digest.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    """A manifest entry: size, sha256, and for large files the sampled sha256 that loads check."""
    entry: dict[str, Any] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    if entry["bytes"] > QUICK_HASH_BYTES:
        entry["sampled_sha256"] = sampled_sha256(path)
    return entry


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
    """Write files (name → writer of that path) and the manifest, replacing ``path`` atomically.
    The caller holds the atlas's writer lock (:func:`paperatlas.atlas_saves.saving`)."""
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
            files[name] = file_entry(staging / name)
        body = dict(manifest, format=FORMAT_NAME, format_version=FORMAT_VERSION, files=files, save_id=token)
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


def read_manifest(path: str | Path, verify: bool = True) -> dict[str, Any]:
    """The manifest of an atlas folder, after checking its format and (by default) its files (``_verify``)."""
    folder = Path(path)
    if not folder.is_dir():
        retired = sorted(folder.parent.glob(f".{folder.name}.old-*"))
        hint = f" (a save was interrupted; the previous atlas is in {retired[0]})" if retired else ""
        raise AtlasFormatError(f"{folder}: no atlas folder here{hint}")
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise AtlasFormatError(f"{folder}: not an atlas ({MANIFEST} is missing)")
    manifest = _parse_manifest(manifest_path)
    version = manifest.get("format_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise AtlasFormatError(
            f"{manifest_path}: atlas format version {version!r} is not supported "
            f"(this paperatlas reads versions {', '.join(map(str, READABLE_VERSIONS))}); "
            "rebuild the atlas with `paperatlas build`"
        )
    check_manifest(manifest, manifest_path)
    if verify:
        for name in manifest["files"]:
            _verify(folder, manifest, name)
    return manifest


MAX_MANIFEST_BYTES = 64 << 20
"""A manifest is a few kB (its named topics and settings at most a few MB); a larger one is refused unread."""


def _parse_manifest(manifest_path: Path) -> dict[str, Any]:
    """The manifest's JSON object; any unreadable, damaged or hostile file is an :class:`AtlasFormatError`."""
    import stat

    try:
        mode = os.lstat(manifest_path).st_mode
        if not stat.S_ISREG(mode):
            raise AtlasFormatError(f"{manifest_path}: not a plain file")
        if os.lstat(manifest_path).st_size > MAX_MANIFEST_BYTES:
            raise AtlasFormatError(f"{manifest_path}: over {MAX_MANIFEST_BYTES >> 20} MiB; not a paperatlas manifest")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise AtlasFormatError(f"{manifest_path}: corrupted manifest ({exc})") from None
    except RecursionError:
        raise AtlasFormatError(f"{manifest_path}: corrupted manifest (nested too deeply)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise AtlasFormatError(f"{manifest_path}: not a paperatlas manifest")
    return manifest


INDEX_FILE_KINDS = ("exact", "ivf", "hnsw")
"""Index kinds an atlas records; every kind but ``exact`` keeps a FAISS structure in ``index.faiss``."""


def required_files(manifest: dict[str, Any]) -> set[str]:
    """The files an atlas of this manifest's format version must hold, by what it holds (topics
    and their map, a lexical index, the index kind): the manifest must list exactly these."""
    version = manifest["format_version"]
    topics, search = manifest.get("topics"), manifest.get("search")
    if version in (1, 2):  # papers in Parquet, a flat copy of the vectors in index.faiss
        files = {LEGACY_PAPERS, VECTORS, INDEX}
        if search is not None:
            files |= {SEARCH_TERMS, SEARCH_TITLES}
        if topics:
            files |= {TOPICS, ASSIGNMENTS}
        return files
    files = {PAPERS, PAPER_IDS, VECTORS, SEARCH_TERMS, SEARCH_TITLES}
    if manifest["index"]["kind"] != "exact":
        files.add(INDEX)
    if "lexical" in search:
        files |= {*LEXICAL_ARRAYS.values(), LEXICAL_WORDS}
    if topics:
        files |= {TOPICS, TOPIC_LABELS, TOPIC_PROBABILITIES}
        if topics.get("map", True):
            files.add(MAP_XY)
    return files


def _plain_name(name: object) -> bool:
    """A file name inside the folder: no separator, no ``..``, not absolute, nothing odd."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and not os.path.isabs(name))


def _is_count(value: object, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def check_manifest(manifest: dict[str, Any], manifest_path: Path) -> None:
    """Check the manifest's structure before anything it names is opened: corpus, model, index,
    topics and search entries of the right types, and ``files`` listing exactly the files the
    format requires (:func:`required_files`), each a plain name with its size and sha256.
    The manifest cannot switch its own checks off: a missing or empty ``files`` is refused."""

    def bad(what: str) -> AtlasFormatError:
        return AtlasFormatError(f"{manifest_path}: {what}")

    corpus, model, index = manifest.get("corpus"), manifest.get("model"), manifest.get("index", {"kind": "exact"})
    if not isinstance(corpus, dict) or not _is_count(corpus.get("papers")) or not _is_sha256(corpus.get("content_hash")):
        raise bad("no valid 'corpus' entry (papers and content_hash)")
    json_columns = corpus.get("json_columns", manifest.get("json_columns", []))
    if not isinstance(json_columns, list) or not all(isinstance(c, str) for c in json_columns):
        raise bad("'json_columns' must be a list of column names")
    if not isinstance(model, dict) or not isinstance(model.get("id"), str) or not _is_count(model.get("dimension"), 1):
        raise bad("no valid 'model' entry (id and dimension)")
    if not isinstance(index, dict) or index.get("kind", "exact") not in INDEX_FILE_KINDS:
        raise bad(f"'index' must name a kind: {', '.join(INDEX_FILE_KINDS)}")
    manifest["index"] = {"kind": "exact", **index}
    topics = manifest.get("topics")
    if topics is not None and not (isinstance(topics, dict) and _is_count(topics.get("layers"), 1)):
        raise bad("'topics' must be null or an entry with a number of layers")
    search = manifest.get("search")
    if manifest["format_version"] >= 3 and search is None:
        raise bad(f"no 'search' entry (format {manifest['format_version']} saves the search state)")
    if search is not None and not (isinstance(search, dict) and _is_count(search.get("documents"))
                                   and _is_count(search.get("buckets"), 1)):
        raise bad("'search' must be an entry with documents and buckets")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise bad("no 'files' entry listing the atlas's files with their checksums")
    for name in files:
        if not _plain_name(name):
            raise bad(f"lists {name!r}, which is not a plain file name inside the atlas folder")
    required = required_files(manifest)
    if missing := sorted(required - set(files)):
        raise bad(f"does not list {', '.join(missing)}, which an atlas of format {manifest['format_version']} "
                  "like this one holds")
    if extra := sorted(set(files) - required):
        raise bad(f"lists {', '.join(map(repr, extra))}, which an atlas of format {manifest['format_version']} "
                  "like this one does not hold")
    for name, entry in files.items():
        if not (isinstance(entry, dict) and _is_count(entry.get("bytes")) and _is_sha256(entry.get("sha256"))
                and ("sampled_sha256" not in entry or _is_sha256(entry["sampled_sha256"]))):
            raise bad(f"the entry of {name} must give its bytes and sha256")


# papers ----------------------------------------------------------------------

PAPERS = "papers.arrow"
PAPER_IDS = "paper_ids.npy"
LEGACY_PAPERS = "papers.parquet"
"""Formats 1 and 2 kept the papers in Parquet (read whole on load)."""


def corpus_hash(corpus: Corpus) -> str:
    """A hash of the papers' ids and texts, in order: sha256 of ``id\tcontent_hash\n`` per paper."""
    digest = hashlib.sha256()
    table = corpus.arrow_table
    if table is not None and table.column("id").null_count == 0 and table.column("content_hash").null_count == 0:
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pa.large_string()
        lines = pc.binary_join_element_wise(table.column("id").cast(text), pa.scalar("\t", text),
                                            table.column("content_hash").cast(text), pa.scalar("\n", text),
                                            pa.scalar("", text))
        for chunk in lines.chunks:  # the same bytes as below, joined by Arrow
            offsets = np.frombuffer(chunk.buffers()[1], np.int64)[chunk.offset:chunk.offset + len(chunk) + 1]
            digest.update(memoryview(chunk.buffers()[2])[offsets[0]:offsets[-1]])
        return digest.hexdigest()
    for paper_id, content in zip(corpus.ids, corpus.column("content_hash")):
        digest.update(f"{paper_id}\t{content}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _needs_json(values: list[Any]) -> bool:
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if any(isinstance(v, (list, tuple, dict)) for v in present):
        return True
    return len({type(v) for v in present}) > 1


def corpus_table(corpus: Corpus):
    """``(pyarrow.Table, json_columns)``: the papers as stored (nested or mixed metadata as JSON text)."""
    if corpus.arrow_table is not None:  # read from an atlas or a columnar reader: stored as it is
        return corpus.arrow_table, list(corpus.json_columns)
    import pyarrow as pa

    from paperatlas.corpus.model import ALIASES, PAPER_COLUMNS

    frame = corpus.to_frame()
    json_columns = []
    for column in frame.columns:
        if column not in (*PAPER_COLUMNS, ALIASES) and _needs_json(values := frame[column].tolist()):
            json_columns.append(column)
            frame[column] = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    return pa.Table.from_pandas(frame, preserve_index=False), json_columns


def _write_arrow(table, path: Path) -> None:
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=65_536)


def id_order(table) -> np.ndarray:
    """Rows sorted by paper id (code-point order): a binary search finds an id without a dict of all."""
    import pyarrow.compute as pc

    return pc.sort_indices(table.column("id")).to_numpy().astype(np.int64)


def papers_writers(corpus: Corpus) -> tuple[Writers, dict[str, Any]]:
    """The papers file (Arrow IPC, memory-mapped on load), its id order, and their manifest entry."""
    table, json_columns = corpus_table(corpus)
    entry = {"papers": len(corpus), "content_hash": corpus_hash(corpus), "json_columns": json_columns}
    return {
        PAPERS: lambda p: _write_arrow(table, p),
        PAPER_IDS: lambda p: np.save(p, id_order(table), allow_pickle=False),
    }, entry


def read_papers(folder: Path, manifest: dict[str, Any]) -> Corpus:
    """The papers, memory-mapped (format 3) or read from Parquet (formats 1-2, checked against the corpus hash)."""
    import pyarrow as pa

    from paperatlas.corpus.model import Corpus

    json_columns = manifest["corpus"].get("json_columns", manifest.get("json_columns", []))
    n = int(manifest["corpus"]["papers"])
    if PAPERS not in manifest.get("files", {}):
        import pyarrow.parquet as pq

        corpus = Corpus.from_arrow(pq.read_table(folder / LEGACY_PAPERS), json_columns)
        if len(corpus) != n or corpus_hash(corpus) != manifest["corpus"]["content_hash"]:
            raise AtlasFormatError(f"{folder}: papers do not match the manifest's corpus hash")
        return corpus
    try:
        table = pa.ipc.open_file(pa.memory_map(str(folder / PAPERS))).read_all()
    except pa.ArrowInvalid as exc:
        raise AtlasFormatError(f"{folder / PAPERS}: not a readable Arrow file ({exc})") from None
    if table.num_rows != n:
        raise AtlasFormatError(f"{folder}: {PAPERS} holds {table.num_rows} papers; the manifest says {n}")

    def ids_in_order() -> np.ndarray:
        _verify(folder, manifest, PAPER_IDS)  # again: the folder may have been replaced since the load
        return np.array(_array(folder, PAPER_IDS, (n,), np.int64))

    _array(folder, PAPER_IDS, (n,), np.int64)  # its header now: a damaged one fails the load, not a query

    return Corpus.from_arrow(table, json_columns, id_order=ids_in_order)


# vectors and index -------------------------------------------------------------

VECTORS = "embeddings.npy"
INDEX = "index.faiss"


def _save_vectors(path: Path, vectors: np.ndarray, chunk: int = 65_536) -> None:
    """``np.save`` in chunks, so a memory-mapped source is streamed rather than read whole."""
    vectors = np.asarray(vectors) if not isinstance(vectors, np.memmap) else vectors
    out = np.lib.format.open_memmap(path, mode="w+", dtype=vectors.dtype, shape=vectors.shape)
    for start in range(0, len(vectors), chunk):
        out[start:start + chunk] = vectors[start:start + chunk]
    out.flush()
    del out


def vectors_writers(index: PaperIndex) -> Writers:
    """The vectors, and the index's search structure when it has one (an exact index has none)."""
    writers: Writers = {VECTORS: lambda p: _save_vectors(p, index.vectors())}
    if index.kind != "exact":
        writers[INDEX] = index.save
    return writers


def read_vectors(folder: Path, manifest: dict[str, Any], model: ModelInfo, n: int) -> PaperIndex:
    """The index over the vectors (memory-mapped, read-only), checked against the model and paper count."""
    from paperatlas.index import HALF_PRECISION_KINDS, PaperIndex

    vectors = read_npy(folder / VECTORS)
    kind = manifest.get("index", {}).get("kind", "exact")
    if vectors.dtype != np.float32 and not (vectors.dtype == np.float16 and kind in HALF_PRECISION_KINDS):
        raise AtlasFormatError(f"{folder}: embeddings of dtype {vectors.dtype}; an atlas with a {kind!r} index "
                               f"holds float32{' or float16' if kind in HALF_PRECISION_KINDS else ''} vectors")
    if vectors.ndim != 2 or vectors.shape != (n, model.dimension):
        raise AtlasFormatError(
            f"{folder}: embeddings of shape {vectors.shape} do not match {n} papers of the manifest's "
            f"{model.dimension}-d model {model.id!r}"
        )
    structure = None if kind == "exact" else _verify(folder, manifest, INDEX)
    try:
        return PaperIndex.load(structure, vectors)
    except PaperatlasError as exc:
        raise AtlasFormatError(str(exc)) from None


# topics ----------------------------------------------------------------------------

TOPICS = "topics.parquet"
TOPIC_LABELS, TOPIC_PROBABILITIES, MAP_XY = "topic_labels.npy", "topic_probabilities.npy", "map_xy.npy"
ASSIGNMENTS = "assignments.parquet"
"""Formats 1-2 kept the labels, memberships and map positions in one Parquet table."""


def topics_writers(topics: TopicModel) -> tuple[Writers, dict[str, Any]]:
    import dataclasses

    from paperatlas.cluster.topic_model import TOPIC_COLUMNS

    table = topics.table[list(TOPIC_COLUMNS)].copy()
    table["exemplars"] = [[int(r) for r in rows] for rows in table["exemplars"]]
    entry = {
        "layers": topics.n_layers,
        "settings": json.loads(json.dumps(dataclasses.asdict(topics.settings), default=list)),
        "named_topics": [{"name": t.name, "description": t.description} for t in topics.named],
        "exemplars": "rows",
        "map": topics.coords is not None,
    }
    writers: Writers = {
        TOPICS: lambda p: table.to_parquet(p, index=False),
        TOPIC_LABELS: lambda p: np.save(p, np.asarray(topics.labels, np.int64), allow_pickle=False),
        TOPIC_PROBABILITIES: lambda p: np.save(p, np.asarray(topics.probabilities, np.float32), allow_pickle=False),
    }
    if topics.coords is not None:
        writers[MAP_XY] = lambda p: np.save(p, np.asarray(topics.coords, np.float32), allow_pickle=False)
    return writers, entry


def read_topics(folder: Path, manifest: dict[str, Any], corpus: Corpus) -> TopicModel:
    """The saved topics. Read with pyarrow alone: the topic table becomes a DataFrame (importing
    pandas) only when something asks for it; the names a query shows are ready without it."""
    import pyarrow.parquet as pq

    from paperatlas.cluster.naming import NamedTopic
    from paperatlas.cluster.settings import TopicSettings
    from paperatlas.cluster.topic_model import TopicModel

    entry = manifest["topics"]
    topics = _topic_table(folder / TOPICS)
    layers, n = int(entry["layers"]), len(corpus)
    row_of: dict[str, int] | None = None
    if ASSIGNMENTS in manifest.get("files", {}):  # formats 1-2
        assignments = pq.ParquetFile(folder / ASSIGNMENTS).read()
        if assignments.num_rows != n:
            raise AtlasFormatError(f"{folder}: {ASSIGNMENTS} has {assignments.num_rows} rows for {n} papers")
        if entry.get("exemplars") != "rows":  # format 1: exemplars by paper id, and an id column in the assignments
            if assignments.column("id").to_pylist() != corpus.ids:
                raise AtlasFormatError(f"{folder}: {ASSIGNMENTS} does not list the atlas's papers in order")
            row_of = {paper_id: row for row, paper_id in enumerate(corpus.ids)}

        def column(name: str, dtype) -> np.ndarray:
            return assignments.column(name).to_numpy().astype(dtype)

        labels = np.stack([column(f"layer_{i}", np.int64) for i in range(layers)], axis=1).reshape(-1, layers)
        probabilities = column("probability", np.float32)
        coords = np.stack([column("x", np.float32), column("y", np.float32)], axis=1)
    else:
        labels = _array(folder, TOPIC_LABELS, (n, layers), np.int64)
        probabilities = _array(folder, TOPIC_PROBABILITIES, (n,), np.float32)
        coords = _array(folder, MAP_XY, (n, 2), np.float32) if entry.get("map", True) else None

    def table():
        frame = topics.to_pandas()
        if row_of is None:
            frame["exemplars"] = frame["exemplars"].map(lambda rows: [int(r) for r in rows])
        else:
            frame["exemplars"] = frame["exemplars"].map(lambda ids: [row_of[i] for i in ids if i in row_of])
        for column in ("keyterms", "keyterm_scores"):
            frame[column] = frame[column].map(list)
        return frame

    model = TopicModel(
        labels=labels,
        probabilities=probabilities,
        coords=coords if entry.get("map", True) else None,
        table=table,
        settings=TopicSettings.from_plain(entry.get("settings", {})),
        named=tuple(NamedTopic(t["name"], t["description"]) for t in entry.get("named_topics", [])),
    )
    model.__dict__["_names"] = _names_by_layer(topics, layers)
    return model


def _array(folder: Path, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A saved ``.npy`` array, memory-mapped, checked for shape and type."""
    array = read_npy(folder / name)
    if array.shape != shape or array.dtype != dtype:
        raise AtlasFormatError(f"{folder / name}: {array.dtype} array of shape {array.shape}; expected {shape} {np.dtype(dtype)}")
    return array


def read_npy(file: Path) -> np.ndarray:
    """A saved ``.npy`` array, memory-mapped (only its header is read); a damaged header or an
    array of Python objects is an :class:`AtlasFormatError` naming the file."""
    try:
        return np.load(file, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, SyntaxError, tokenize errors... on a damaged header
        raise AtlasFormatError(f"{file}: not a readable .npy array ({type(exc).__name__}: {exc})") from None


UNIT_TOLERANCE = 1e-2
"""A stored vector's squared norm may differ from 1 by this much (they are saved normalised)."""


def check_unit_rows(vectors: np.ndarray, file: Path, corpus: Corpus | None = None, chunk: int = 65_536) -> None:
    """Refuse vectors that are not finite unit rows (NaN, infinite, zero or scaled), naming the first
    such row (and its paper); read in chunks, so memory-mapped vectors are streamed."""
    for start in range(0, len(vectors), chunk):
        block = np.asarray(vectors[start:start + chunk], dtype=np.float32)
        with np.errstate(all="ignore"):
            squared = np.einsum("ij,ij->i", block, block)
        bad = np.flatnonzero(~(np.abs(squared - 1.0) <= UNIT_TOLERANCE))  # NaN fails every comparison
        if bad.size:
            row = start + int(bad[0])
            finite = bool(np.isfinite(block[bad[0]]).all())
            what = f"norm {float(np.sqrt(squared[bad[0]])):.3g}" if finite else "NaN or infinite values"
            paper = f" (paper {corpus[row].id!r})" if corpus is not None else ""
            raise AtlasFormatError(f"{file}: row {row}{paper} has {what}; every vector must be finite and of "
                                   f"unit length")


TOPIC_TYPES = {"layer": "integer", "topic_id": "integer", "size": "integer", "parent": "integer", "name": "string",
               "keyterms": "list", "keyterm_scores": "list", "exemplars": "list"}


def _topic_table(file: Path):
    """``topics.parquet`` as an Arrow table, checked for the columns and types of ``TOPIC_COLUMNS``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(file).read()  # read_table would import pandas
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise AtlasFormatError(f"{file}: not a readable Parquet file ({exc})") from None
    kinds = {"integer": pa.types.is_integer, "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
             "list": lambda t: pa.types.is_list(t) or pa.types.is_large_list(t)}
    for column, kind in TOPIC_TYPES.items():
        if column not in table.column_names:
            raise AtlasFormatError(f"{file}: no {column!r} column")
        if not kinds[kind](table.schema.field(column).type) or table.column(column).null_count:
            raise AtlasFormatError(f"{file}: the {column!r} column must hold {kind}s, without gaps")
    return table


def _names_by_layer(topics, layers: int) -> dict[int, dict[int, str]]:
    """``TopicModel.names_at``'s cache, from the topic table as Arrow: largest topic first."""
    columns = {name: topics.column(name).to_pylist() for name in ("layer", "topic_id", "size", "name")}
    names: dict[int, dict[int, str]] = {layer: {} for layer in range(layers)}
    rows = sorted(range(topics.num_rows), key=lambda r: (columns["layer"][r], -columns["size"][r],
                                                          columns["topic_id"][r]))
    for row in rows:
        names.setdefault(int(columns["layer"][row]), {})[int(columns["topic_id"][row])] = columns["name"][row]
    return names


def read_topic_labels(path: str | Path) -> tuple[list[str], np.ndarray]:
    """``(ids, labels (n, layers))`` of a saved atlas's topics."""
    saved = read_saved_topics(path)
    return saved.ids, saved.labels


@dataclass(frozen=True)
class SavedTopics:
    """All a refit reads of the previous atlas: paper ids and titles, topic labels and names.

    Attributes:
        ids: paper ids, row order.
        titles: their titles.
        labels: ``(n, layers)`` topic ids (-1 noise).
        names: per layer, topic id → name.
    """

    ids: list[str]
    titles: list[str]
    labels: np.ndarray
    names: dict[int, dict[int, str]]

    def __repr__(self) -> str:
        return f"SavedTopics({len(self.ids)} papers, {self.labels.shape[1]} layers)"


def read_saved_topics(path: str | Path) -> SavedTopics:
    """The :class:`SavedTopics` of an atlas folder; its vectors, index and abstracts are not read."""
    import pyarrow.parquet as pq

    folder = Path(path)
    manifest = read_manifest(folder, verify=False)
    if not manifest.get("topics"):
        raise AtlasFormatError(f"{folder}: the atlas has no topics to keep ids from")
    if PAPERS in manifest.get("files", {}):
        import pyarrow as pa

        reader = pa.ipc.open_file(pa.memory_map(str(_verify(folder, manifest, PAPERS))))
        papers = reader.read_all().select(["id", "title"])
    else:
        papers = pq.read_table(_verify(folder, manifest, LEGACY_PAPERS), columns=["id", "title"])
    ids, titles = papers.column("id").to_pylist(), papers.column("title").to_pylist()
    layers = int(manifest["topics"]["layers"])
    if ASSIGNMENTS in manifest.get("files", {}):
        table = pq.read_table(_verify(folder, manifest, ASSIGNMENTS), columns=[f"layer_{i}" for i in range(layers)])
        labels = np.stack([table.column(i).to_numpy() for i in range(layers)], axis=1).astype(np.int64)
    else:
        _verify(folder, manifest, TOPIC_LABELS)
        labels = np.array(_array(folder, TOPIC_LABELS, (len(ids), layers), np.int64))
    names = _names_by_layer(_topic_table(_verify(folder, manifest, TOPICS)), layers)
    return SavedTopics(ids, [title or "" for title in titles], labels, names)


# search state ----------------------------------------------------------------------

SEARCH_TERMS, SEARCH_TITLES = "search_terms.npy", "search_titles.parquet"
LEXICAL_ARRAYS = {name: f"lexical_{name}.npy" for name in ("data", "indices", "indptr")}
LEXICAL_WORDS = "lexical_words.json"


def search_writers(state: SearchState) -> tuple[Writers, dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    terms = state.terms
    titles = pa.table({"title_key": pa.array(state.title_keys, pa.string())})
    lexical = state.lexical
    arrays = lexical.arrays()
    entry = {"documents": terms.documents, "buckets": int(terms.document_frequency.size),
             "analyzer": terms.analyzer.to_json(), "lexical": lexical.entry()}
    writers: Writers = {
        SEARCH_TERMS: lambda p: np.save(p, terms.document_frequency.astype(np.int32), allow_pickle=False),
        SEARCH_TITLES: lambda p: pq.write_table(titles, p),
        LEXICAL_WORDS: lambda p: p.write_text(json.dumps(lexical.vocabulary(), ensure_ascii=False), encoding="utf-8"),
    }
    for name, file in LEXICAL_ARRAYS.items():
        writers[file] = lambda p, array=arrays[name]: np.save(p, array, allow_pickle=False)
    return writers, entry


def read_search_state(folder: Path, manifest: dict[str, Any], corpus: Corpus) -> SearchState:
    """The saved search state; its files are read (and their checksums checked again, in case
    the folder was replaced since it was loaded) on the first query that needs them."""
    entry = manifest["search"]
    n = len(corpus)
    from paperatlas.search_state import SearchState, lexical_of
    from paperatlas.why import N_BUCKETS, TermAnalyzer, TermStats

    def terms() -> TermStats:
        frequency = np.asarray(read_npy(_verify(folder, manifest, SEARCH_TERMS)))
        if frequency.shape != (N_BUCKETS,) or int(entry["buckets"]) != N_BUCKETS:
            raise AtlasFormatError(f"{folder}: {SEARCH_TERMS} has shape {frequency.shape}, expected ({N_BUCKETS},)")
        return TermStats(TermAnalyzer.from_json(entry["analyzer"]), frequency.astype(np.int32), int(entry["documents"]))

    def titles() -> list[str]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        file = _verify(folder, manifest, SEARCH_TITLES)
        try:
            keys = pq.ParquetFile(file).read().column("title_key").to_pylist()
        except (pa.ArrowException, OSError, KeyError, ValueError) as exc:
            raise AtlasFormatError(f"{file}: no readable title_key column ({exc})") from None
        if len(keys) != n:
            raise AtlasFormatError(f"{folder}: {SEARCH_TITLES} has {len(keys)} titles for {n} papers")
        return keys

    def lexical():
        from paperatlas.lexical import LexicalIndex

        arrays = {name: read_npy(_verify(folder, manifest, file)) for name, file in LEXICAL_ARRAYS.items()}
        try:
            words = json.loads(_verify(folder, manifest, LEXICAL_WORDS).read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:
            raise AtlasFormatError(f"{folder / LEXICAL_WORDS}: not readable JSON ({exc})") from None
        try:
            index = LexicalIndex.from_arrays(entry["lexical"], arrays, words)
        except (KeyError, TypeError, ValueError, PaperatlasError) as exc:
            raise AtlasFormatError(f"{folder}: unreadable lexical index ({exc})") from None
        if index.documents != n:
            raise AtlasFormatError(f"{folder}: the lexical index has {index.documents} papers for {n}")
        return index

    from paperatlas.lexical import readable

    for file in (SEARCH_TERMS, *(LEXICAL_ARRAYS.values() if "lexical" in entry else ())):
        read_npy(folder / file)  # the headers now (cheap): a damaged one fails the load, not a query
    if "lexical" not in entry:  # saved before the lexical index existed: built on first use
        return SearchState(terms, titles, _announced(lexical_of(corpus), folder, "without a lexical index"))
    if not readable(entry["lexical"]):  # bm25s's float32 score arrays, before: rebuilt on first use
        return SearchState(terms, titles, _announced(lexical_of(corpus), folder, "with an older lexical index"))
    return SearchState(terms, titles, lexical)


def _announced(build: Callable[[], Any], folder: Path, why: str) -> Callable[[], Any]:
    def run():
        start = time.perf_counter()
        index = build()
        print(f"paperatlas: {folder} was saved {why}; built it in "
              f"{time.perf_counter() - start:.1f} s (saving the atlas again keeps it)", file=sys.stderr)
        return index

    return run


# the whole folder --------------------------------------------------------------------


@dataclass
class AtlasParts:
    """What an atlas folder holds, as read by :func:`read_atlas`."""

    corpus: Corpus
    index: PaperIndex
    model: ModelInfo
    topics: TopicModel | None
    search_state: SearchState


def write_atlas(path: str | Path, parts: AtlasParts) -> None:
    """Write an atlas folder atomically: every artefact through its codec, then the manifest."""
    from paperatlas._version import __version__

    writers, corpus_entry = papers_writers(parts.corpus)
    writers.update(vectors_writers(parts.index))
    search_files, search_entry = search_writers(parts.search_state)
    writers.update(search_files)
    topics_entry = None
    if parts.topics is not None:
        topic_files, topics_entry = topics_writers(parts.topics)
        writers.update(topic_files)
    manifest = {
        "paperatlas_version": __version__,
        "libraries": library_versions(),
        "model": {"id": parts.model.id, "dimension": parts.model.dimension, "external": parts.model.external,
                  "backend": parts.model.backend},
        "index": {"kind": parts.index.kind, "metric": "inner_product"},
        "corpus": corpus_entry,
        "topics": topics_entry,
        "search": search_entry,
    }
    write_atlas_folder(path, writers, manifest)


def read_atlas(path: str | Path) -> AtlasParts:
    """Read and verify an atlas folder (format, checksums, shapes, model); migrate format 1."""
    from paperatlas.embed.base import ModelInfo

    folder = Path(path)
    manifest = read_manifest(folder)
    try:
        model = ModelInfo(
            str(manifest["model"]["id"]),
            int(manifest["model"]["dimension"]),
            bool(manifest["model"].get("external", False)),
        )
        recorded = manifest["model"].get("backend", model.backend)
        if recorded != model.backend:
            raise ValueError(f"model {model.id!r} is recorded with backend {recorded!r}")
        corpus = read_papers(folder, manifest)
        index = read_vectors(folder, manifest, model, len(corpus))
        if manifest["files"][VECTORS]["bytes"] <= QUICK_HASH_BYTES:  # read whole for its checksum already
            check_unit_rows(index.vectors(), folder / VECTORS, corpus)
        topics = read_topics(folder, manifest, corpus) if manifest.get("topics") else None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, NotImplementedError, OSError) as exc:
        raise AtlasFormatError(f"{folder}: unreadable atlas ({type(exc).__name__}: {exc})") from None
    if manifest.get("search") is None:
        state = _migrated_search_state(folder, corpus, manifest)
    else:
        state = read_search_state(folder, manifest, corpus)
    return AtlasParts(corpus, index, model, topics, state)


def _migrated_search_state(folder: Path, corpus: Corpus, manifest: dict[str, Any]) -> SearchState:
    from paperatlas.search_state import SearchState

    start = time.perf_counter()
    state = SearchState.of_corpus(corpus)
    print(
        f"paperatlas: {folder} is atlas format {manifest.get('format_version')}; computed its search state "
        f"in {time.perf_counter() - start:.1f} s; `paperatlas upgrade {folder}` saves it as format {FORMAT_VERSION}",
        file=sys.stderr,
    )
    return state


def _verify(folder: Path, manifest: dict[str, Any], name: str, full: bool = False) -> Path:
    """Check one file against the manifest: its size, and its sha256 (of sampled blocks only for
    files above ``QUICK_HASH_BYTES``, unless ``full``)."""
    import stat

    entry = manifest["files"].get(name) if _plain_name(name) else None
    file = folder / str(name)
    try:
        status = os.lstat(file) if entry is not None else None
    except FileNotFoundError:
        status = None
    except OSError as exc:
        raise AtlasFormatError(f"{file}: unreadable ({exc.strerror})") from None
    if status is None:
        raise AtlasFormatError(f"{file}: missing from the atlas")
    if not stat.S_ISREG(status.st_mode):  # a folder, a link (perhaps to outside the atlas), a device...
        raise AtlasFormatError(f"{file}: not a plain file")
    if status.st_size != entry["bytes"]:
        raise AtlasFormatError(f"{file}: corrupted ({status.st_size} bytes; the manifest says {entry['bytes']})")
    try:
        if not full and "sampled_sha256" in entry:
            matches = sampled_sha256(file) == entry["sampled_sha256"]
        else:
            matches = sha256_file(file) == entry["sha256"]
    except OSError as exc:
        raise AtlasFormatError(f"{file}: unreadable ({exc.strerror})") from None
    if not matches:
        raise AtlasFormatError(f"{file}: corrupted (checksum does not match the manifest)")
    return file


def verify_atlas(path: str | Path) -> dict[str, Any]:
    """Check every file of an atlas in full: the sha256 of each, every check of a load, the papers
    against the corpus hash, every vector (finite, unit length) and the parts a query reads later.

    Loading checks large files by size and sampled blocks only (and the vectors' norms only up
    to ``QUICK_HASH_BYTES``); this reads everything.
    Returns the manifest; raises :class:`AtlasFormatError` at the first mismatch.
    """
    folder = Path(path)
    manifest = read_manifest(folder, verify=False)
    for name in manifest["files"]:
        _verify(folder, manifest, name, full=True)
    parts = read_atlas(folder)  # every check of a load: shapes, headers, tables
    if corpus_hash(parts.corpus) != manifest["corpus"]["content_hash"]:
        raise AtlasFormatError(f"{folder}: papers do not match the manifest's corpus hash")
    check_unit_rows(parts.index.vectors(), folder / VECTORS, parts.corpus)  # every row, at any size
    if len(parts.corpus):
        parts.corpus.row(parts.corpus[0].id)  # reads the id order
    state = parts.search_state
    state.terms, state.title_keys  # what the first query would read
    if "lexical" in (manifest.get("search") or {}):
        state.lexical
    return manifest
