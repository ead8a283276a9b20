"""The service's doors, HTTP (FHIR) and MLLP (HL7 v2), fed the batch's cases whole or split
across messages (the service correlates a specimen's results in any order), then judged on
the last report the worker wrote for each case.

Split FHIR messages are `collection` Bundles of one Observation (a panel with its members),
each with the case's Patient and Specimen; a withdrawn Observation may first arrive as a final
result and be withdrawn by a later message (same id, `entered-in-error`). A reported status,
a test not performed or a lone withdrawal rides with a result of its case: alone, a message
holds no HER2 result and is bad input (contract 5).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import httpx

from tests.contract.batch import Batch
from tests.contract.cli_doors import judge_fhir, judge_v2, refuse, v2_outputs
from tests.contract.grammar import Chooser
from tests.contract.render_v2 import render_v2
from tests.contract.rendered import Rendered
from tests.contract.service import Service
from tests.contract.v2_values import NotExpressible
from tests.contract.verdicts import Tally, Verdict
from tests.mllp.support import err, msa

Json = dict[str, Any]
LOCATION = re.compile(r"^[A-Z][A-Z0-9]{2}\^\d*\^\d+")  # OBX^4^5


def _units(rendered: Rendered) -> list[list[Json]]:
    """The message's Observation entries in sendable groups: a panel with its members, and
    each group holding at least one live result."""
    entries = rendered.message["entry"]
    reports = {}
    for i in rendered.inputs:
        reports[i.reference] = reports[i.local] = i.report
    observations = [e for e in entries if e["resource"]["resourceType"] == "Observation"]
    names = {name: e for e in observations for name in _names(e)}
    member_of: dict[int, int] = {}
    for e in observations:
        for member in e["resource"].get("hasMember", []):
            if member["reference"] in names:
                member_of[id(names[member["reference"]])] = id(e)
    groups: dict[int, list[Json]] = {}
    for e in observations:
        groups.setdefault(member_of.get(id(e), id(e)), []).append(e)
    live: list[list[Json]] = []
    riders: list[list[Json]] = []
    for group in groups.values():
        found = [reports.get(name) for e in group for name in _names(e)]
        (live if any(r is not None and r.live for r in found) else riders).append(group)
    for group in riders:  # with a result of its own case
        case = group[0]["resource"]["id"].split("-")[0]
        host = next(g for g in live if g[0]["resource"]["id"].split("-")[0] == case)
        host += group
    return live


def _names(entry: Json) -> set[str]:
    resource = entry["resource"]
    return {entry.get("fullUrl", ""), f"Observation/{resource['id']}"} - {""}


def split_fhir(c: Chooser, rendered: Rendered) -> list[Json]:
    """The message whole, or one message per unit (withdrawals after what they withdraw)."""
    message = rendered.message
    if message["resourceType"] != "Bundle" or not c.chance(60):
        return [message]
    context = [
        e for e in message["entry"] if e["resource"]["resourceType"] in ("Patient", "Specimen")
    ]
    first, later = [], []
    for unit in _units(rendered):
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": context + unit}
        withdrawn = [
            e for e in unit if e["resource"]["status"] in ("entered-in-error", "cancelled")
        ]
        if withdrawn and len(withdrawn) == len(unit) and c.chance(50):
            earlier = copy.deepcopy(bundle)
            for e in earlier["entry"][len(context) :]:
                e["resource"]["status"] = "final"
            first.append(earlier)
            later.append(bundle)
        else:
            first.append(bundle)
    order = list(range(len(first)))
    shuffled = [first[order.pop(c.pick(range(len(order))))] for _ in range(len(first))]
    return shuffled + later


def _refused(response: httpx.Response) -> tuple[str, bool] | None:
    """None for 202; else the kind of refusal and whether it named the field."""
    if response.status_code == 202:
        return None
    if response.status_code >= 500:
        return "5xx", False
    issues = response.json().get("issue", []) if response.content else []
    return "refused", bool(issues) and all(i.get("expression") for i in issues)


def http_door(c: Chooser, batch: Batch, service: Service, tally: Tally) -> None:
    """Every FHIR message of the batch POSTed (whole or split), then each case judged."""
    refused: dict[int, tuple[Rendered, tuple[str, bool], str]] = {}
    for rendered in batch.fhir:
        for message in split_fhir(c, rendered):
            response = service.post(message)
            outcome = _refused(response)
            if outcome is not None:
                refused[id(rendered)] = (rendered, outcome, response.text)
    service.settle()
    reports = {key: got for key, (got, _) in service.reports().items()}
    for rendered in batch.fhir:
        if id(rendered) in refused:
            _, (kind, named), text = refused[id(rendered)]
            if kind == "5xx":
                for n in set(rendered.keys.values()):
                    tally.add(Verdict("http", n, "5xx", text[:300]), batch.cases[n])
            else:
                refuse("http", batch, rendered, named, text, tally)
        else:
            judge_fhir("http", batch, rendered, reports, tally, local_names=True)


def mllp_door(c: Chooser, batch: Batch, service: Service, tally: Tally) -> None:
    """Every case expressible in v2, whole or one message per order, over MLLP."""
    sent: list[tuple[Rendered, list[str]]] = []
    for n, case in batch.cases.items():
        try:
            rendered = render_v2(c, [(n, case)], f"S{n}", split=c.chance(50))
        except NotExpressible:
            continue
        acks = [service.ack(message) for message in rendered.message]
        sent.append((rendered, acks))
    service.hang_up()
    service.settle()
    reports = v2_outputs(
        (got, by_url) for key, (got, by_url) in service.reports().items() if key.startswith("ACC")
    )
    for rendered, acks in sent:
        bad = [a for a in acks if msa(a)[1] not in ("AA", "CA")]
        if bad:
            fields = (err(bad[0]) or [])[1:3]  # ERR-2 from v2.5, ERR-1 before it
            named = any(LOCATION.match(f) for f in fields)
            refuse("mllp", batch, rendered, named, bad[0].replace("\r", " | "), tally)
        else:
            judge_v2("mllp", batch, rendered, reports, tally)
