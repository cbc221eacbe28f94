"""A small corpus whose input repeats papers under other ids, for the alias tests."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HYBRID_A = ("We propose a hybrid Monte Carlo sampler that combines Hamiltonian dynamics with a Metropolis "
            "acceptance step to simulate lattice field theories with dynamical fermions.")
HYBRID_B = ("Bayesian neural networks are trained by sampling their weights with gradient information; "
            "our sampler improves posterior estimates on regression benchmarks.")


def ocr_noise(text: str) -> str:
    """OCR-like damage: m read as rn, a ligature, hyphenated line breaks, a dropped letter."""
    return text.replace("m", "rn", 3).replace("fi", "\ufb01").replace("ing ", "ing-\n", 2).replace("the", "tbe", 1)


def aliased_records() -> tuple[list[dict], dict[str, str]]:
    """40 bundled papers with explicit ids ``p0``..``p39``, two of them again under other ids
    (``dup-3`` with an "Abstract:" prefix, ``dup-7`` with OCR noise), and two different papers
    titled "Hybrid Monte Carlo" (``hmc-a``, ``hmc-b``). Returns the records and alias → id."""
    lines = (REPO / "data" / "papers.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    records = [{"id": f"p{i}", "title": r["title"], "abstract": r["abstract"], "date": r["date"]}
               for i, r in enumerate(map(json.loads, lines))]
    records.append({"id": "dup-3", "title": records[3]["title"].upper(), "abstract": "Abstract: " + records[3]["abstract"]})
    records.append({"id": "dup-7", "title": records[7]["title"] + ".", "abstract": ocr_noise(records[7]["abstract"])})
    records.append({"id": "hmc-a", "title": "Hybrid Monte Carlo", "abstract": HYBRID_A})
    records.append({"id": "hmc-b", "title": "Hybrid Monte Carlo", "abstract": HYBRID_B})
    return records, {"dup-3": "p3", "dup-7": "p7"}


def write_aliased_input(folder: Path) -> tuple[Path, dict[str, str]]:
    """The records of :func:`aliased_records` as a JSONL file in ``folder``."""
    records, aliases = aliased_records()
    path = folder / "aliased.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path, aliases


def aliased_atlas(folder: Path):
    """An atlas (FakeEmbedder, no topics) of the aliased input: 42 papers, aliases dup-3 and dup-7."""
    from paperatlas.atlas import Atlas
    from paperatlas.corpus import read_papers
    from paperatlas.embed import FakeEmbedder

    path, _ = write_aliased_input(folder)
    corpus, _ = read_papers([path])
    return Atlas.build(corpus, FakeEmbedder(), cache=None)
