"""The messages of scripts/bench.py, generated once per invocation from fixed seeds.

- simple: the acceptance generator's messages (tests/acceptance/generator.py), one specimen,
  so one case, each: no case is read or locked twice;
- realistic: a laboratory's feed as the soak sends it (tests/soak/plan.py): IHC and ISH of a
  case in separate messages, about 10 % re-sent, some amended IHC sent after the first report,
  roughly chronological (no bursts, no bad messages);
- v2: an ORU^R01 carrying the IHC score and the plain ISH numbers of a simple message's case.
"""

from __future__ import annotations

import random

from tests.acceptance.generator import Spec, build, dumps, random_spec
from tests.soak.plan import make_plan

SEED = 20260601


def messages(count: int) -> list[tuple[Spec, str]]:
    """`count` seeded generator messages, one specimen (one case) each: no case lock contention."""
    rng = random.Random(SEED)
    out = []
    for n in range(count):
        spec = random_spec(rng)
        out.append((spec, dumps(build(spec, n, rng))))
    return out


def v2_message(spec: Spec, n: int) -> str | None:
    """An ORU^R01 for the IHC score and plain ISH numbers of `spec`, or None when it has none."""
    score = (spec.ihc or "").split()[0] if spec.ihc else None
    obx = []
    if score in ("0", "1+", "2+", "3+"):
        obx.append(f"85319-2^HER2 IHC^LN||{score}")
    for code, name, value in (
        ("49683-6", "HER2/CEP17 ratio", spec.ratio),
        ("74860-8", "HER2 signals per cell", spec.her2),
        ("74861-6", "CEP17 signals per cell", spec.cep17),
    ):
        if value is not None and value.replace(".", "").isdigit():
            obx.append(f"{code}^{name}^LN||{value}")
    if not obx:
        return None
    kinds = ["ST" if s.startswith("85319") else "NM" for s in obx]
    segments = [
        f"MSH|^~\\&|LIS|BENCH_LAB|EHR|HOSP|20260601120000+0000||ORU^R01^ORU_R01|B{n}|P|2.5.1",
        f"PID|1||MRN{n}^^^HOSP^MR||BENCH^PATIENT",
        f"OBR|1|PL-{n}|ACC-{n}|HER2^HER2 IHC and ISH panel|||20260531",
        f"SPM|1|^SPEC-{n}||TISS^Tissue^HL70487||||76752008^Breast structure^SCT",
    ]
    segments += [
        f"OBX|{i}|{k}|{o}||||||F" for i, (k, o) in enumerate(zip(kinds, obx, strict=True), 1)
    ]
    return "\r".join(segments) + "\r"


def realistic(count: int) -> list[str]:
    """About `count` bodies of a realistic feed, in sending order."""
    return [m.body for m in make_plan(count, SEED, bursts=0, bad=0).messages]
