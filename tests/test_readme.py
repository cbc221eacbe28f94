"""Every example in the README runs.

The README's code blocks run in order, as a reader would follow them, in one folder that
holds a copy of ``data/`` (the bundled corpus, its named topics and new papers):

* a ```bash block runs each of its ``paperatlas ...`` commands (the first block's
  ``.venv/bin/paperatlas ...`` steps too; install and test commands are not run) in this
  process through the command-line entry point, and each must exit with status 0;
* a ```python block is executed, all of them in one namespace (later blocks use what earlier
  ones made, as in the README).

A block whose fence is preceded by ``<!-- readme-test: skip (reason) -->`` is not run: for
examples that need what a reader has and the tests do not (a GPU, a model of their own, a
long-running server), each covered by its own test elsewhere.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SKIP = re.compile(r"<!-- readme-test: skip \((.+)\) -->")
COMMAND = re.compile(r"^(?:\.venv/bin/)?paperatlas\s")


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    body: str
    skip: str | None

    def commands(self) -> list[str]:
        """The ``paperatlas`` commands of a bash block (``&&`` chains split)."""
        found = []
        for line in self.body.splitlines():
            for part in line.split("&&"):
                part = part.strip()
                if COMMAND.match(part):
                    found.append(part)
        return found


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        blocks.append(Block(text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2),
                            skip.group(1) if skip else None))
    return blocks


def runnable(block: Block) -> bool:
    return block.skip is None and (block.language == "python" or bool(block.commands()))


RUN = [block for block in readme_blocks() if runnable(block)]


@pytest.fixture(scope="module")
def readme_folder(tmp_path_factory, real_atlas_path) -> Path:
    """A reader's folder: a copy of data/ (the embedding cache is warm from the session's atlas)."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "data", folder / "data")
    return folder


@pytest.fixture(scope="module")
def namespace() -> dict:
    return {"__name__": "readme"}


def run_command(command: str) -> None:
    from click.testing import CliRunner

    from paperatlas.cli import main

    args = shlex.split(command, comments=True)[1:]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, f"`{command}` exited with {result.exit_code}:\n{result.output}"


def test_the_readme_has_examples_and_skips_give_reasons():
    blocks = readme_blocks()
    assert len(RUN) >= 10, "the README's examples were not found"
    assert RUN[0].commands()[:1] == ["paperatlas ingest data/seeds/ -o data/papers.jsonl"] or \
        RUN[0].commands()[0].startswith(".venv/bin/paperatlas ingest"), "the first command is not run first"
    for block in blocks:
        if block.skip is not None:
            assert block.skip.strip(), f"README.md:{block.line}: a skip without a reason"


@pytest.mark.parametrize("block", RUN, ids=[f"README.md:{block.line}" for block in RUN])
def test_readme_example(block: Block, readme_folder: Path, namespace: dict, monkeypatch):
    monkeypatch.chdir(readme_folder)
    if block.language == "python":
        exec(compile(block.body, f"README.md:{block.line}", "exec"), namespace)
        return
    for command in block.commands():
        run_command(command.removeprefix(".venv/bin/"))


def test_every_figure_names_the_benchmark_script_that_printed_it_and_when():
    """Each block of figures in Performance (a paragraph opening in bold) names its script in
    benchmarks/ and the date it ran; every script the README names exists."""
    text = README.read_text(encoding="utf-8")
    for script in set(re.findall(r"benchmarks/(\w+\.py)", text)):
        assert (REPO / "benchmarks" / script).exists(), f"the README names a missing benchmarks/{script}"
    section = text[text.index("## Performance"): text.index("\n## ", text.index("## Performance") + 1)]
    blocks = [block for block in section.split("\n\n") if block.startswith("**")]
    assert len(blocks) >= 6
    for block in blocks:
        head = block[:700]
        assert re.search(r"benchmarks/\w+\.py", head), f"no script named for: {block[:60]}"
        assert re.search(r"20\d\d-\d\d-\d\d", head), f"no date for: {block[:60]}"
