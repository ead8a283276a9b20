"""[3] What the worker does with one job, outside Celery (the task in tasks.py is a shell).

decode -> parse exactly -> fetch what a references-only message names -> read -> per case:
lock, merge into the case store, re-read and interpret the WHOLE case, build the resources,
write one transaction Bundle of PUTs, then commit the store. Writing before committing makes a
crash at any point safe: a redelivered job recomputes the same state and PUTs the same ids.

An HL7 v2 job (media type `application/hl7-v2`, from the MLLP door) is read with
`read_v2_message`, exactly as at admission, into the collection Bundle of input Observations and
Specimens the FHIR door would have sent, and then takes the same path. Two additions for that
door only (hl7v2-contract.md 5): the transaction also holds the case's input Observations and
Specimen (a v2 sender has no FHIR copy of them), and the Provenance names the message by MSH-10.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from adapter.cases import CaseStore, StoredCase, digest, identity, merge
from adapter.errors import InvalidResource, NoHer2Result, WriteRejected
from adapter.fhir.findings import read_entries
from adapter.fhir.grouping import References, reference_of
from adapter.fhir.json_input import parse_json
from adapter.fhir.observations import is_her2_withdrawal
from adapter.fhir.references import as_readable_message, references_to_fetch
from adapter.fhir.report import case_resources, transaction_bundle
from adapter.fhir.server_references import for_server
from adapter.fhir.validation import Entry, message_entries
from adapter.fhir_server import DirectorySink, FhirServer
from adapter.hl7v2.offline import message_entity
from adapter.hl7v2.reading import V2Reading, read_v2_message
from adapter.interpretation.interpret import interpret
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings
from adapter.metrics import Metrics
from adapter.queue import HL7V2_MEDIA_TYPE, InterpretJob

JsonDict = dict[str, Any]
log = logging.getLogger("her2.worker")
# What a case keeps beside its inputs, so that re-reading the stored case finds its site
# (Specimen), subject (Patient) and laboratory (a performer Organization, else the sender of a
# MessageHeader); reached from the inputs through these fields.
SUPPORT_TYPES: Final = frozenset({"Specimen", "Patient", "Organization"})
SUPPORT_FIELDS: Final = ("specimen", "subject", "performer", "sender")
WITHDRAWN: Final = "entered-in-error"


@dataclass(frozen=True, slots=True)
class Services:
    mappings: Mappings
    cases: CaseStore
    target: FhirServer | DirectorySink
    metrics: Metrics


@dataclass(slots=True)
class _Arrivals:
    inputs: list[tuple[JsonDict, str | None]] = field(default_factory=list)
    support: list[tuple[JsonDict, str | None]] = field(default_factory=list)


def interpret_job(job: InterpretJob, services: Services) -> list[str]:
    """Run one job; returns the references written. Raises BadInput (permanent),
    WriteRejected (permanent), DependencyUnavailable / Redis errors (transient)."""
    v2 = read_v2_message(job.body, services.mappings) if _is_v2(job) else None
    entries = _v2_entries(v2, services.mappings) if v2 else _fhir_entries(job, services)
    site = job.site
    refs = References(entries)
    plan: dict[str, _Arrivals] = {}
    for withdrawn in (e for e in entries if is_her2_withdrawal(e.resource, services.mappings)):
        key = services.cases.case_of(identity(withdrawn.resource, withdrawn.full_url))
        if key is None:
            log.info("withdrawal of an unknown input ignored", extra={"job_id": job.job_id})
            continue
        plan.setdefault(key, _Arrivals()).inputs.append((withdrawn.resource, withdrawn.full_url))
    try:
        # validated once, just above: read from those entries, not from the message again
        cases = read_entries(entries, services.mappings, site=_site(site)).cases
    except NoHer2Result:
        if not plan:
            raise
        cases = ()
    for case in cases:
        arrivals = plan.setdefault(case.key, _Arrivals())
        members = [e for e in entries if References.name(e) in case.inputs]
        arrivals.inputs += [(e.resource, e.full_url) for e in members]
        arrivals.support += _support(members, entries, refs)
    written: list[str] = []
    for key, arrivals in plan.items():
        written += _settle(job, key, arrivals, services, v2)
    return written


def _is_v2(job: InterpretJob) -> bool:
    return job.media_type == HL7V2_MEDIA_TYPE


def _v2_entries(v2: V2Reading, mappings: Mappings) -> tuple[Entry, ...]:
    """The entries of a v2 message's Bundle: validated by its read, unless it had none to."""
    if v2.entries is not None:
        return v2.entries
    return message_entries(v2.bundle, mappings)[0]


def _fhir_entries(job: InterpretJob, services: Services) -> tuple[Entry, ...]:
    """The entries of a FHIR message, with what a references-only message names fetched.

    Validated once: a message that carried its resources was validated by the API's admission,
    exactly as queued, so not again here; what the worker fetched is new and validated here.
    """
    received = parse_json(job.body)
    message = _with_fetched(received, services.target)
    return message_entries(message, services.mappings, validate=message is not received)[0]


def _settle(
    job: InterpretJob, key: str, arrivals: _Arrivals, services: Services, v2: V2Reading | None
) -> list[str]:
    """Merge one case's arrivals, re-interpret the case and write its report (under its lock)."""
    store = services.cases
    case_hash = digest(key)[:12]
    with store.lock(key) as lock_token:
        stored = store.load(key)
        merged, amending = merge(stored, arrivals.inputs, arrivals.support, site=job.site)
        amended = merged.meta.amended or (stored.meta.final_reported and amending)
        recorded = datetime.now(UTC)
        status_code = None
        if merged.active:
            entities = [message_entity(v2)] if v2 is not None else []
            resources, status_code = _interpret_case(
                key, merged, services.mappings, recorded, entities
            )
            if resources[0]["status"] == "final" and amended:
                for resource in resources[:2]:
                    resource["status"] = "amended"
        elif stored.meta.last and stored.meta.reported_status != WITHDRAWN:
            resources = _withdrawn(stored.meta.last, recorded)
        else:  # nothing reported yet and nothing left to report
            store.save(merged, lock_token)
            return []
        status = resources[0]["status"]
        # v2: the case's Specimen and input Observations (withdrawn ones as entered-in-error)
        # are written with the report; a FHIR sender holds its own.
        inputs = _case_inputs(merged) if v2 is not None else []
        bundle = transaction_bundle(for_server([*inputs, *resources], merged.all_entries()))
        started = time.perf_counter()
        written = services.target.transaction(bundle)
        services.metrics.observe("her2_writeback_seconds", time.perf_counter() - started)
        meta = replace(
            merged.meta,
            final_reported=merged.meta.final_reported or status in ("final", "amended"),
            amended=amended,
            reported_status=status,
            last=tuple(resources),
        )
        store.save(replace(merged, meta=meta), lock_token)
    if status_code is not None:
        services.metrics.incr("her2_cases_interpreted_total", status=status_code)
    log.info(
        "case reported",
        extra={
            "job_id": job.job_id,
            "case": case_hash,
            "report_status": status,
            "her2_status": status_code or "withdrawn",
            "inputs": len(merged.active),
            "written": len(written),
        },
    )
    return written


def _interpret_case(
    key: str,
    stored: StoredCase,
    mappings: Mappings,
    recorded: datetime,
    entities: list[JsonDict],
) -> tuple[list[JsonDict], str]:
    cases = read_entries(stored.entries(), mappings, site=_site(stored.meta.site)).cases
    chosen = next((c for c in cases if c.key == key), cases[0])
    case = replace(chosen, key=key)  # the stored key names the case, whatever the re-read says
    interpretation = interpret(case.findings)
    observation, report, provenance = case_resources(
        case, interpretation, mappings, recorded=recorded, extra_entities=entities
    )
    return [observation, report, provenance], interpretation.status.value


def _case_inputs(stored: StoredCase) -> list[JsonDict]:
    """The stored Specimens, then the input Observations (every one has a deterministic id)."""
    entries = [*stored.support.values(), *stored.inputs.values()]
    return [e["resource"] for e in entries if e["resource"].get("id")]


def _withdrawn(last: tuple[JsonDict, ...], recorded: datetime) -> list[JsonDict]:
    """The last report, re-issued as entered-in-error: every input of the case was withdrawn."""
    when = recorded.isoformat()
    observation, report, provenance = (dict(r) for r in last)
    for resource in (observation, report):
        resource["status"] = WITHDRAWN
        resource["meta"] = {"lastUpdated": when}
    report["issued"] = when
    provenance["recorded"] = when
    provenance["meta"] = {"lastUpdated": when}
    return [observation, report, provenance]


def _support(
    members: list[Entry], entries: Sequence[Entry], refs: References
) -> list[tuple[JsonDict, str | None]]:
    """The message's MessageHeaders and the Specimen / Patient / Organization entries the
    case's Observations (and what they reach) point at."""
    headers = [e for e in entries if e.resource.get("resourceType") == "MessageHeader"]
    found: dict[int, Entry] = {id(header): header for header in headers}
    pending = [*members, *headers]
    while pending:
        entry = pending.pop()
        for ref in _support_references(entry.resource):
            target = refs.resolve(ref)
            if (
                target is not None
                and target.resource.get("resourceType") in SUPPORT_TYPES
                and id(target) not in found
            ):
                found[id(target)] = target
                pending.append(target)
    return [(e.resource, e.full_url) for e in found.values()]


def _support_references(resource: JsonDict) -> Iterator[str]:
    """The references of `resource` that may name a supporting resource (`SUPPORT_FIELDS`)."""
    for name in SUPPORT_FIELDS:
        value = resource.get(name)
        for holder in value if isinstance(value, list) else [value]:
            ref = reference_of(holder)
            if ref:
                yield ref


def _with_fetched(message: JsonDict, target: FhirServer | DirectorySink) -> JsonDict:
    """A references-only message with what it names (and the supporting resources they point
    at, `SUPPORT_TYPES`) fetched."""
    names = references_to_fetch(message)
    notification = message.get("type") == "subscription-notification"
    if not names and not notification:
        return message
    if isinstance(target, DirectorySink):
        raise InvalidResource(
            "the message names resources to fetch but no FHIR server is configured",
            expression="Bundle.entry",
        )
    fetched: dict[str, JsonDict] = {}
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name in fetched:
            continue
        try:
            resource = target.read(name)
        except WriteRejected as error:
            if name in names or error.status not in (404, 410):
                raise  # a named result must exist; a Specimen/Patient it points at may not
            continue
        fetched[name] = resource
        pending += [
            ref
            for ref in _support_references(resource)
            if ref.split("/")[0] in SUPPORT_TYPES and ref.count("/") == 1
        ]
    return as_readable_message(message, fetched)


def _site(site: str | None) -> SiteGroup | None:
    return SiteGroup(site) if site else None
