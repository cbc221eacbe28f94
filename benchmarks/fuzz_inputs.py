"""The long run of the ingest/build fuzz test (tests/test_fuzz_inputs.py): N mutated inputs (default 10,000)
from the same seeded generator (tests/fuzz_cases.py), each through ``paperatlas ingest``, a re-ingest of
what it wrote, and for every tenth case ``build`` with the fake embedder. Prints the date, the machine
and the counts: cases, successes, clean errors (exit 1, one ``error:`` line) and failures (a traceback,
another exit, a hang past the limit, or output that does not read back), then the first failures.

Usage: python benchmarks/fuzz_inputs.py [--cases 10000] [--seed 16] [--limit 20]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine

from tests.fuzz_cases import make_case, run_case


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--limit", type=float, default=20.0, help="seconds a case may take")
    args = parser.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="paperatlas-fuzz-") as folder:
        for number in range(args.cases):
            case = make_case(number, args.seed)
            verdict = run_case(case, Path(folder) / str(number), seconds=args.limit)
            kind = verdict.split(":", 1)[0]
            counts[kind] += 1
            if kind == "failure":
                failures.append(f"case {number} ({case.name}, {', '.join(case.mutations)}): {verdict}")
            if (number + 1) % 1000 == 0:
                print(f"... {number + 1} cases, {counts['failure']} failures", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    print(f"fuzz_inputs {datetime.datetime.now().isoformat(timespec='seconds')} on {machine()}")
    print(f"seed {args.seed}: {args.cases} cases in {seconds:.0f} s: {counts['ok']} successes, "
          f"{counts['error']} clean errors, {counts['failure']} failures "
          f"({sum(make_case(n, args.seed).build for n in range(args.cases))} of the cases also built)")
    for line in failures[:20]:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
