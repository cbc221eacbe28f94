"""Fuzzed inputs: ``ingest`` (and, for every tenth case, ``build`` with the fake embedder) of mutated seed
pages and lines of data/papers.jsonl ends in success or one clean ``error:`` line, never a traceback or a
hang, and what ingest writes reads back (issue #16). Seeded and bounded: the same few hundred cases each
run, each under a time limit; ``benchmarks/fuzz_inputs.py`` runs the same generator for longer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz_cases import make_case, run_case

CASES = 300
SEED = 16  # the number; benchmarks/fuzz_inputs.py takes --seed


def test_generator_is_seeded_and_varied():
    assert make_case(7, SEED) == make_case(7, SEED)
    cases = [make_case(number, SEED) for number in range(CASES)]
    assert {case.name for case in cases} == {"page.txt", "papers.jsonl", "papers.json", "papers.csv"}
    assert sum(case.build for case in cases) == CASES // 10
    kinds = {what for case in cases for what in case.mutations}
    assert {"byte flips", "truncated", "odd field", "arxiv record", "page date line"} <= kinds


@pytest.mark.parametrize("block", range(6))
def test_fuzzed_inputs_end_cleanly(tmp_path: Path, block: int):
    size = CASES // 6
    verdicts = {}
    for number in range(block * size, (block + 1) * size):
        case = make_case(number, SEED)
        verdicts[number] = run_case(case, tmp_path / str(number), seconds=20)
    failures = {number: (make_case(number, SEED).mutations, verdict)
                for number, verdict in verdicts.items() if verdict.startswith("failure")}
    assert not failures
    assert set(verdicts.values()) <= {"ok", "error"}
