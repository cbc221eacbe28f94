"""A damaged or hostile atlas folder is one clean error naming the file (#16 items 12-14).

Every case runs ``info`` and ``verify`` (and ``Atlas.load``): an :class:`AtlasFormatError`,
one ``error:`` line from the CLI, never a traceback. Cases "re-signed" have their checksums
updated to match the damage, as someone editing the folder would.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas import store
from paperatlas.atlas import Atlas
from paperatlas.cli import main
from paperatlas.errors import PaperatlasError
from paperatlas.store import AtlasFormatError, required_files


@pytest.fixture()
def atlas_path(keyword_atlas_path, tmp_path) -> Path:
    """A copy of the FakeEmbedder atlas with topics and a map, free to damage."""
    target = tmp_path / "atlas"
    shutil.copytree(keyword_atlas_path, target)
    return target


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest))


def resign(folder: Path) -> None:
    """Update the manifest's sizes and checksums to the files as they are now."""
    manifest = manifest_of(folder)
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    write_manifest(folder, manifest)


def edit_manifest(change):
    def damage(folder: Path) -> None:
        manifest = manifest_of(folder)
        change(manifest)
        write_manifest(folder, manifest)
    return damage


def folder_instead_of(name: str):
    def damage(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()
    return damage


def npy_header(name: str, header: bytes):
    def damage(folder: Path) -> None:
        data = bytearray((folder / name).read_bytes())
        data[10:10 + len(header)] = header
        (folder / name).write_bytes(bytes(data))
        resign(folder)
    return damage


def npy_shape(name: str, shape: str):
    """Rewrite the header's shape (same header length), then re-sign."""
    def damage(folder: Path) -> None:
        data = (folder / name).read_bytes()
        length = 10 + int.from_bytes(data[8:10], "little")
        header = data[10:length].decode("latin1")
        start = header.index("'shape': (")
        new = header[:start] + f"'shape': {shape}, }}"
        (folder / name).write_bytes(data[:10] + new.ljust(length - 11).encode("latin1") + b"\n" + data[length:])
        resign(folder)
    return damage


def topics_without(column: str):
    def damage(folder: Path) -> None:
        import pyarrow.parquet as pq

        table = pq.read_table(folder / "topics.parquet")
        pq.write_table(table.drop_columns([column]), folder / "topics.parquet")
        resign(folder)
    return damage


def deeply_nested(folder: Path) -> None:
    text = (folder / "manifest.json").read_text().rstrip()
    (folder / "manifest.json").write_text(text[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")


def vector_row(row: int, value: float):
    def damage(folder: Path) -> None:
        vectors = np.load(folder / "embeddings.npy")
        vectors[row] = value
        np.save(folder / "embeddings.npy", vectors)
        resign(folder)
    return damage


DAMAGE = {
    # item 12
    "folder instead of topics.parquet": (folder_instead_of("topics.parquet"), "topics.parquet: not a plain file"),
    "folder instead of embeddings.npy": (folder_instead_of("embeddings.npy"), "embeddings.npy: not a plain file"),
    "folder instead of manifest.json": (folder_instead_of("manifest.json"), "manifest.json: not a plain file"),
    "no corpus": (edit_manifest(lambda m: m.pop("corpus")), "manifest.json: no valid 'corpus'"),
    "corpus []": (edit_manifest(lambda m: m.update(corpus=[])), "manifest.json: no valid 'corpus'"),
    "model a string": (edit_manifest(lambda m: m.update(model="x")), "manifest.json: no valid 'model'"),
    "topics a list": (edit_manifest(lambda m: m.update(topics=[1])), "manifest.json: 'topics' must be"),
    "files []": (edit_manifest(lambda m: m.update(files=[])), "manifest.json: no 'files' entry"),
    "a file entry a string": (edit_manifest(lambda m: m["files"].update({"embeddings.npy": "x"})),
                              "manifest.json: the entry of embeddings.npy must give its bytes and sha256"),
    "a file entry without sha256": (edit_manifest(lambda m: m["files"]["papers.arrow"].pop("sha256")),
                                    "the entry of papers.arrow must give"),
    "deeply nested manifest": (deeply_nested, "manifest.json: corrupted manifest"),
    "damaged embeddings.npy header": (npy_header("embeddings.npy", b"{{{{{{"), "embeddings.npy: not a readable .npy"),
    "damaged paper_ids.npy header": (npy_header("paper_ids.npy", b"{{{{{{"), "paper_ids.npy: not a readable .npy"),
    "damaged topic_labels.npy header": (npy_header("topic_labels.npy", b"(((((("), "topic_labels.npy: not a readable"),
    "damaged search_terms.npy header": (npy_header("search_terms.npy", b"{{{{{{"), "search_terms.npy: not a readable"),
    "damaged lexical_data.npy header": (npy_header("lexical_data.npy", b"{{{{{{"), "lexical_data.npy: not a readable"),
    "paper_ids.npy claims 10^13 rows": (npy_shape("paper_ids.npy", "(10000000000000,)"), "paper_ids.npy"),
    "embeddings.npy of another shape": (npy_shape("embeddings.npy", "(350, 383)"), "embeddings of shape (350, 383)"),
    "topics.parquet without name": (topics_without("name"), "topics.parquet: no 'name' column"),
    "topics.parquet without layer": (topics_without("layer"), "topics.parquet: no 'layer' column"),
    # item 13
    "files {}": (edit_manifest(lambda m: m.update(files={})), "manifest.json: no 'files' entry"),
    "no files key": (edit_manifest(lambda m: m.pop("files")), "manifest.json: no 'files' entry"),
    "a required file left out": (edit_manifest(lambda m: m["files"].pop("embeddings.npy")),
                                 "manifest.json: does not list embeddings.npy"),
    "an extra file listed": (edit_manifest(lambda m: m["files"].update({"notes.txt": m["files"]["map_xy.npy"]})),
                             "manifest.json: lists 'notes.txt', which an atlas of format 3"),
    # item 14
    "a NaN row": (vector_row(7, np.nan), "embeddings.npy: row 7 (paper '"),
    "an infinite row": (vector_row(8, np.inf), "embeddings.npy: row 8"),
    "a zero row": (vector_row(9, 0.0), "embeddings.npy: row 9 (paper '"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_folder_is_one_clean_error_naming_the_file(atlas_path, case):
    damage, message = DAMAGE[case]
    damage(atlas_path)
    with pytest.raises(AtlasFormatError, match=_escaped(message)):
        Atlas.load(atlas_path)
    for command in ("info", "verify"):
        result = CliRunner().invoke(main, [command, str(atlas_path)])
        assert result.exit_code == 1, (command, result.output)
        assert isinstance(result.exception, SystemExit), (command, result.exception)  # not a traceback
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (command, lines)


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_an_undamaged_copy_passes_every_check(atlas_path):
    for command in ("info", "verify"):
        result = CliRunner().invoke(main, [command, str(atlas_path)])
        assert result.exit_code == 0, result.output
    assert set(manifest_of(atlas_path)["files"]) == required_files(manifest_of(atlas_path))
    summary = json.loads(CliRunner().invoke(main, ["info", str(atlas_path), "--json"]).output)
    assert "vectors finite and of unit length" in summary["checks_passed"]


def test_files_emptied_and_a_flipped_byte_are_refused(atlas_path):
    data = bytearray((atlas_path / "embeddings.npy").read_bytes())
    data[len(data) // 2] ^= 0x40
    (atlas_path / "embeddings.npy").write_bytes(bytes(data))
    edit_manifest(lambda m: m.update(files={}))(atlas_path)
    with pytest.raises(AtlasFormatError, match="no 'files' entry"):
        Atlas.load(atlas_path)


@pytest.mark.parametrize("outside", ["../../etc/hostname", "/etc/hostname", "../secret.txt", "sub/../../secret.txt",
                                     "..", ""])
def test_paths_outside_the_folder_are_refused_without_reading_them(atlas_path, monkeypatch, outside):
    secret = atlas_path.parent / "secret.txt"
    secret.write_text("not part of the atlas")
    entry = {"bytes": secret.stat().st_size, "sha256": hashlib.sha256(secret.read_bytes()).hexdigest()}
    edit_manifest(lambda m: m["files"].update({outside: entry}))(atlas_path)
    hashed: list[Path] = []
    monkeypatch.setattr(store, "sha256_file", lambda path: hashed.append(Path(path)) or "0" * 64)
    monkeypatch.setattr(store, "sampled_sha256", lambda path: hashed.append(Path(path)) or "0" * 64)
    for action in (Atlas.load, store.verify_atlas, lambda p: store.read_manifest(p, verify=False)):
        with pytest.raises(AtlasFormatError, match="which is not a plain file name inside the atlas folder"):
            action(atlas_path)
    assert hashed == []  # refused before any file was hashed


def test_a_link_to_a_file_outside_is_not_followed(atlas_path, tmp_path):
    outside = tmp_path / "elsewhere.npy"
    shutil.move(atlas_path / "embeddings.npy", outside)
    (atlas_path / "embeddings.npy").symlink_to(outside)  # same bytes: the checksum would match
    with pytest.raises(AtlasFormatError, match="embeddings.npy: not a plain file"):
        Atlas.load(atlas_path)


def test_required_files_follow_the_format_and_what_the_atlas_holds():
    base = {"format_version": 3, "index": {"kind": "exact"}, "topics": None, "search": {}}
    plain = required_files(base)
    assert plain == {"papers.arrow", "paper_ids.npy", "embeddings.npy", "search_terms.npy", "search_titles.parquet"}
    assert required_files({**base, "index": {"kind": "ivf"}}) == plain | {"index.faiss"}
    assert required_files({**base, "search": {"lexical": {}}}) >= {"lexical_words.json", "lexical_data.npy"}
    with_topics = required_files({**base, "topics": {"layers": 2}})
    assert with_topics - plain == {"topics.parquet", "topic_labels.npy", "topic_probabilities.npy", "map_xy.npy"}
    assert "map_xy.npy" not in required_files({**base, "topics": {"layers": 2, "map": False}})
    assert required_files({"format_version": 1, "index": {"kind": "exact"}, "topics": {"layers": 2}}) == {
        "papers.parquet", "embeddings.npy", "index.faiss", "topics.parquet", "assignments.parquet"}


def test_large_vectors_are_checked_by_verify_and_search_never_prints_nan(atlas_path, monkeypatch, keyword_atlas):
    """Above QUICK_HASH_BYTES a load reads no vector (its norms are checked by verify); a search
    that meets a NaN row then stops with a clean error rather than printing ``"score": NaN``."""
    vector_row(7, np.nan)(atlas_path)
    monkeypatch.setattr(store, "QUICK_HASH_BYTES", 0)  # every file "large": the load reads no vector
    Atlas.load(atlas_path)
    nan_id = keyword_atlas.corpus[7].id
    # the second query meets row 7 among its hits: the BM25 ranking of every word reaches all papers
    for arguments in (["--id", nan_id], ["--id", keyword_atlas.corpus[0].id, "-k", "350", "--mode", "lexical"]):
        result = CliRunner().invoke(main, ["similar", str(atlas_path), *arguments, "--json"])
        assert result.exit_code == 1, result.output
        assert "NaN" not in result.output
        assert result.output.strip() == (f"error: the stored vector of paper {nan_id!r} (row 7) is not finite: the "
                                         "atlas is damaged (`paperatlas verify` checks every vector)")
    result = CliRunner().invoke(main, ["verify", str(atlas_path)])
    assert result.exit_code == 1 and "row 7" in result.output


def test_json_output_is_strict_json():
    from paperatlas.cli import print_json

    with pytest.raises(PaperatlasError, match="NaN or infinity"):
        print_json({"score": float("nan")})
