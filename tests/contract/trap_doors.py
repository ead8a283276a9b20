"""The type traps through every door; each answer is tallied as one of:

refused-with-field (what every definite trap must get), refused-wrong-field,
refused-without-field, accepted-bad (a definite trap accepted), accepted (a trap the contract
lets stand, read as a value), 5xx, internal (a CLI internal-error line), and for each trap the
contract lets stand, disagree when two doors answered it differently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from tests.contract.cli_doors import interpret
from tests.contract.traps import Trap
from tests.contract.verdicts import Tally
from tests.mllp.support import err, msa

if TYPE_CHECKING:  # the service doors come with the service (tests/contract/service.py)
    from tests.contract.service import Service

Answers = dict[str, str]  # trap name -> kind


def _kind(trap: Trap, refused: bool, named: bool, anything_named: bool) -> str:
    if not refused:
        return "accepted-bad" if trap.definite else "accepted"
    if named:
        return "refused-with-field"
    return "refused-wrong-field" if anything_named else "refused-without-field"


def fhir_cli(traps: list[Trap], workdir: Path) -> tuple[Answers, Answers]:
    """One `--ndjson` run over every trap, and one run with every trap as its own file."""
    path = workdir / "traps.ndjson"
    path.write_text("".join(t.body + "\n" for t in traps), encoding="utf-8")
    lines = interpret(["--ndjson", str(path)]).stdout.splitlines()
    ndjson = {}
    for trap, line in zip(traps, lines, strict=False):
        output = json.loads(line)
        refused = output.get("resourceType") == "OperationOutcome"
        expressions = [e for i in output.get("issue", []) for e in i.get("expression", [])]
        named = any(trap.named_by(e) for e in expressions)
        ndjson[trap.name] = _kind(trap, refused, named, bool(expressions))
    files = []
    for i, trap in enumerate(traps):
        files.append(workdir / f"trap-{i}.json")
        files[-1].write_text(trap.body, encoding="utf-8")
    stderr = interpret([str(f) for f in files]).stderr.splitlines()
    single = {}
    for file, trap in zip(files, traps, strict=True):
        line = next((x for x in stderr if f"{file}:" in x and not x.startswith("warning")), "")
        if "internal error" in line:
            single[trap.name] = "internal"
            continue
        named = any(re.search(re.escape(p) + r"(?![\w])", line) for p in trap.paths)
        single[trap.name] = _kind(trap, bool(line), named, bool(line))
    return ndjson, single


def fhir_http(traps: list[Trap], service: Service) -> Answers:
    """Every trap POSTed; a 202 is an acceptance, whatever the worker does with it later."""
    answers = {}
    for trap in traps:
        route = (
            "/fhir/Observation" if '"resourceType": "Observation"' in trap.body[:40] else "/fhir"
        )
        response = service.post_text(route, trap.body.encode("utf-8"))
        if response.status_code >= 500:
            answers[trap.name] = "5xx"
            continue
        refused = response.status_code != 202
        outcome = response.json() if refused and response.content else {}
        expressions = [e for i in outcome.get("issue", []) for e in i.get("expression", [])]
        named = any(trap.named_by(e) for e in expressions)
        answers[trap.name] = _kind(trap, refused, named, bool(expressions))
    return answers


def v2_cli(traps: list[Trap], workdir: Path) -> Answers:
    path = workdir / "traps.hl7"
    path.write_bytes("\r".join(t.body for t in traps).encode("utf-8") + b"\r")
    stderr = interpret(["--hl7v2", str(path)]).stderr.splitlines()
    answers = {}
    for number, trap in enumerate(traps, start=1):
        line = next((x for x in stderr if f": message {number}: " in x), "")
        if "internal error" in line:
            answers[trap.name] = "internal"
            continue
        answers[trap.name] = _kind(trap, bool(line), trap.paths[0] in line, bool(line))
    return answers


def v2_mllp(traps: list[Trap], service: Service) -> Answers:
    answers = {}
    for trap in traps:
        ack = service.ack(trap.body)
        refused = msa(ack)[1] not in ("AA", "CA")
        fields = err(ack) or []
        named = any(trap.paths[1] in f for f in fields[1:3])
        answers[trap.name] = _kind(trap, refused, named, bool(fields))
    service.hang_up()
    return answers


def tally_traps(tally: Tally, traps: list[Trap], answers: dict[str, Answers]) -> None:
    """Count every door's answers; a trap the contract lets stand is answered alike by all."""
    for door, by_trap in answers.items():
        for trap in traps:
            kind = by_trap.get(trap.name, "missing")
            tally.traps[door][kind] += 1
            if kind not in ("refused-with-field", "accepted"):
                tally.trap_examples.append(f"{door}: {kind}: {trap.name}\n    {trap.body[:400]}")
    for trap in traps:
        refused = {door: a.get(trap.name, "").startswith("refused") for door, a in answers.items()}
        if not trap.definite and len(set(refused.values())) > 1:
            tally.traps["all doors"]["disagree"] += 1
            tally.trap_examples.append(f"doors disagree {refused}: {trap.name}")
