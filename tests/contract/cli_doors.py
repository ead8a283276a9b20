"""The command-line doors, each one real process of the installed console script per batch:
`her2-adapter interpret --ndjson` over the FHIR messages and `--hl7v2` over the v2 messages
(one file; MLLP framing, a BOM and every separator inside it)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from tests.acceptance.generator import dumps
from tests.contract.batch import Batch
from tests.contract.grammar import SeededChooser
from tests.contract.invariant import fhir_problems, v2_problems
from tests.contract.outputs import CaseOutput, cases_of
from tests.contract.rendered import Rendered
from tests.contract.verdicts import Tally, Verdict, judge
from tests.support.serve import SCRIPT

# A bad message's line names its field: `OBX[4]-5`, `SPM[1]-2`, `MSH-9`, ...
V2_FIELD: Final = re.compile(r"\b[A-Z][A-Z0-9]{2}(\[\d+\])?-\d+")
IGNORED_STATUSES: Final = frozenset({"entered-in-error", "cancelled", "registered"})
ISH_CODES: Final = ("85318-4", "31150-6", "96893-3", "49683-6", "74860-8", "74861-6")
Written = list[tuple[str, set[str]]]  # (test, names) of a case's input Observations
TESTS: Final = {"85319-2": "ihc", "18474-7": "ihc"} | dict.fromkeys(ISH_CODES, "ish")


def interpret(args: list[str], timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, "interpret", *args], capture_output=True, text=True, check=False, timeout=timeout
    )


def fhir_door(batch: Batch, workdir: Path, tally: Tally) -> None:
    """Every FHIR message of the batch, one line each, through one `--ndjson` run."""
    path = workdir / "fhir.ndjson"
    path.write_text("".join(dumps(r.message) + "\n" for r in batch.fhir), encoding="utf-8")
    result = interpret(["--ndjson", str(path)])
    lines = result.stdout.splitlines()
    for i, rendered in enumerate(batch.fhir):
        output = json.loads(lines[i]) if i < len(lines) else {}
        if output.get("resourceType") == "OperationOutcome":
            named = all(issue.get("expression") for issue in output.get("issue", []))
            refuse("cli-fhir", batch, rendered, named, json.dumps(output), tally)
            continue
        found = {}
        for got, _ in cases_of(output):
            for key in (got.specimen, got.subject):
                found[key] = got
        judge_fhir("cli-fhir", batch, rendered, found, tally)


def refuse(
    door: str, batch: Batch, rendered: Rendered, named: bool, text: str, tally: Tally
) -> None:
    """Every case of a good message that was refused."""
    kind = "refused-with-field" if named else "refused-without-field"
    for n in set(rendered.keys.values()):
        tally.add(Verdict(door, n, kind, text[:300]), batch.cases[n], _shown(rendered))


def _shown(rendered: Rendered) -> str:
    message = rendered.message
    return dumps(message) if isinstance(message, dict) else "\n".join(message)


def judge_fhir(
    door: str,
    batch: Batch,
    rendered: Rendered,
    found: dict[Any, CaseOutput],
    tally: Tally,
    *,
    local_names: bool = False,
) -> None:
    """Each case of one FHIR message against the oracle and the invariant; `found` holds
    the outputs by specimen reference or subject. With `local_names` an input may be named
    Observation/{id} instead of its fullUrl (the service writes to a FHIR server)."""
    for n in sorted(set(rendered.keys.values())):
        got = next((found[k] for k, m in rendered.keys.items() if m == n and k in found), None)
        if got is None:
            tally.add(Verdict(door, n, "missing"), batch.cases[n], _shown(rendered))
            continue
        inputs = [
            ({i.reference, i.local} if local_names else {i.reference}, i.report)
            for i in rendered.inputs
            if i.case == n
        ]
        problems = fhir_problems(batch.cases[n], inputs, got)
        verdict = judge(door, n, batch.expected[n], got, problems)
        tally.add(verdict, batch.cases[n], _shown(rendered), got.summary)


def v2_file(batch: Batch, seed: int) -> bytes:
    """The batch's v2 messages in one file: some MLLP-framed, the first after a BOM."""
    c = SeededChooser(seed)
    data = b"\xef\xbb\xbf" if c.chance(30) else b""
    for rendered in batch.v2:
        for message in rendered.message:
            raw = message.encode("utf-8")
            data += b"\x0b" + raw + b"\x1c\r" if c.chance(20) else raw + b"\r"
    return data


def v2_door(batch: Batch, workdir: Path, tally: Tally, seed: int) -> None:
    """Every v2 message of the batch through one `--hl7v2` run."""
    path = workdir / "messages.hl7"
    path.write_bytes(v2_file(batch, seed))
    result = interpret(["--hl7v2", str(path)])
    refused = {}
    for line in result.stderr.splitlines():
        match = re.search(r": message (\d+): (.*)$", line)
        if match and not line.startswith("warning"):
            refused[int(match[1])] = match[2]
    bundle = json.loads(result.stdout) if result.stdout.strip() else {}
    found = v2_outputs(cases_of(bundle))
    for number, rendered in enumerate(batch.v2, start=1):  # one message each: never split
        if number in refused:
            text = refused[number]
            named = bool(V2_FIELD.search(text)) and "internal error" not in text
            refuse("cli-v2", batch, rendered, named, text, tally)
        else:
            judge_v2("cli-v2", batch, rendered, found, tally)


def judge_v2(
    door: str,
    batch: Batch,
    rendered: Rendered,
    found: dict[Any, tuple[CaseOutput, Written]],
    tally: Tally,
) -> None:
    """Each case of one v2 message; `found` holds (output, its inputs) by accession."""
    for accession, n in rendered.keys.items():
        case = batch.cases[n]
        if accession not in found:
            tally.add(Verdict(door, n, "missing"), case, _shown(rendered))
            continue
        got, written = found[accession]
        problems = v2_problems(case, rendered.sent[n], written, got)
        verdict = judge(door, n, batch.expected[n], got, problems)
        tally.add(verdict, case, _shown(rendered), got.summary)


def v2_outputs(
    outputs: Iterable[tuple[CaseOutput, dict[str, Any]]],
) -> dict[Any, tuple[CaseOutput, Written]]:
    """Each v2 case's output and its written inputs, by accession (the Specimen's identifier);
    one index per output Bundle, however many cases it holds."""
    indexes: dict[int, dict[str, Written]] = {}
    found = {}
    for got, by_url in outputs:
        specimen = by_url.get(got.specimen or "") or {}
        accession = (specimen.get("identifier") or [{}])[0].get("value")
        if id(by_url) not in indexes:
            indexes[id(by_url)] = _inputs_by_specimen(by_url)
        found[accession] = (got, indexes[id(by_url)].get(got.specimen or "", []))
    return found


def _inputs_by_specimen(by_url: dict[str, Any]) -> dict[str, Written]:
    """(test, names) of every live HER2 input Observation of an output, by the names of its
    Specimen; an output's status Observations (Provenance targets) are not inputs."""
    names: dict[int, set[str]] = {}
    for url, resource in by_url.items():
        names.setdefault(id(resource), set()).add(url)
    targets = {
        t.get("reference")
        for r in by_url.values()
        if r.get("resourceType") == "Provenance"
        for t in r.get("target", [])
    }
    found: dict[str, Written] = {}
    for resource in {id(r): r for r in by_url.values()}.values():
        own = names[id(resource)]
        if resource.get("resourceType") != "Observation" or own & targets:
            continue
        codes = [c.get("code") for c in resource.get("code", {}).get("coding", [])]
        test = TESTS.get(codes[0]) if codes else None
        if not test or resource.get("status") in IGNORED_STATUSES:
            continue
        specimen = by_url.get((resource.get("specimen") or {}).get("reference") or "")
        for name in names.get(id(specimen), ()):
            found.setdefault(name, []).append((test, own))
    return found
