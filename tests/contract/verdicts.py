"""One verdict per case per door, and the tally the long form prints.

right: status, next step, ISH group, category and site-assumed equal the oracle's and the
invariant holds. unsafe: Positive and Negative swapped, or a decided status (Positive,
Negative) where the oracle says Pending, or the reverse. wrong: any other status mismatch.
detail: the status is right, another of the five is not. invariant: all five right, but a
value was dropped or an input not named. refused-with-field / refused-without-field: a good
message refused. internal: an internal-error line (CLI). missing: no output for the case.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from tests.contract.model import Case
from tests.contract.oracle import Expected
from tests.contract.outputs import CaseOutput

KINDS: Final = (
    "right", "wrong", "unsafe", "detail", "invariant", "refused-with-field",
    "refused-without-field", "5xx", "internal", "missing",
)  # fmt: skip
DECIDED: Final = frozenset({"Positive", "Negative"})


@dataclass(frozen=True, slots=True)
class Verdict:
    door: str
    case: int
    kind: str
    detail: str = ""


def unsafe(expected: str, got: str) -> bool:
    if {expected, got} == DECIDED:
        return True
    return (expected == "Pending" and got in DECIDED) or (got == "Pending" and expected in DECIDED)


def judge(door: str, n: int, expected: Expected, got: CaseOutput, problems: list[str]) -> Verdict:
    want = (
        expected.status,
        expected.next_step,
        expected.group,
        expected.category,
        expected.site_assumed,
    )
    seen = f"expected {want}, got {got.summary}"
    if got.status != expected.status:
        kind = "unsafe" if unsafe(expected.status, got.status) else "wrong"
        return Verdict(door, n, kind, seen)
    if got.summary != want:
        return Verdict(door, n, "detail", seen)
    if problems:
        return Verdict(door, n, "invariant", "; ".join(problems))
    return Verdict(door, n, "right")


@dataclass
class Tally:
    """Counts per door, and the first few cases of every kind that is not right."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    traps: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    trap_examples: list[str] = field(default_factory=list)
    answers: dict[int, dict[str, tuple[Any, ...]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    compared: int = 0  # cases folded into `differ` (the long form folds batch by batch)
    differ: list[str] = field(default_factory=list)

    def add(
        self,
        verdict: Verdict,
        case: Case | None = None,
        message: str = "",
        answer: tuple[Any, ...] | None = None,
    ) -> None:
        """Count `verdict`; `answer` (the five compared outputs) feeds the differential."""
        self.counts[verdict.door][verdict.kind] += 1
        if answer is not None:
            self.answers[verdict.case][verdict.door] = answer
        kept = self.examples[(verdict.door, verdict.kind)]
        if verdict.kind != "right" and len(kept) < 5:
            shown = message[:3000].replace("\r", "\n    ")
            kept.append(f"case {verdict.case}: {verdict.detail}\n    {case}\n    {shown}")

    def disagreements(self) -> list[str]:
        """Cases two doors answered differently (the differential of issue 18)."""
        return self.differ + [
            f"case {n}: " + "; ".join(f"{door} {answer}" for door, answer in by_door.items())
            for n, by_door in sorted(self.answers.items())
            if len(set(by_door.values())) > 1
        ]

    def fold(self) -> None:
        """Keep the differential's result, drop the answers (bounded memory)."""
        self.compared += sum(len(d) > 1 for d in self.answers.values())
        self.differ = self.disagreements()
        self.answers.clear()

    def bad(self) -> int:
        return sum(n for c in self.counts.values() for kind, n in c.items() if kind != "right")

    def bad_traps(self) -> int:
        good = ("refused-with-field", "accepted")
        return sum(n for c in self.traps.values() for kind, n in c.items() if kind not in good)

    def table(self) -> str:
        head = f"{'door':<10}{'cases':>9}" + "".join(f"{k:>23}" for k in KINDS)
        rows = [head]
        for door, counts in self.counts.items():
            total = sum(counts.values())
            rows.append(f"{door:<10}{total:>9}" + "".join(f"{counts[k]:>23}" for k in KINDS))
        for door, counts in self.traps.items():
            rows.append(
                f"{door + ' traps':<16} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            )
        return "\n".join(rows)

    def report(self) -> str:
        lines = [self.table()]
        for (door, kind), kept in self.examples.items():
            lines.append(f"--- {door}: {kind}")
            lines += kept
        differ = self.disagreements()
        compared = self.compared + sum(len(d) > 1 for d in self.answers.values())
        lines.append(f"differential: {compared} cases through several doors, {len(differ)} differ")
        lines += differ[:20]
        if self.trap_examples:
            lines.append(f"--- traps not refused naming their field ({len(self.trap_examples)})")
            lines += self.trap_examples[:400]
        return "\n".join(lines)
