"""What the worker does with one job (the Celery task in workers/tasks.py is a shell around it).

decode -> parse exactly -> fetch what a references-only message names -> the message's case
arrivals -> per case: lock, load, settle (merge, re-interpret the WHOLE case, the report's
version), write one transaction Bundle of PUTs, then save the state. Writing before saving
makes a crash at any point safe: a redelivered job recomputes the same state and PUTs the same
ids.

An HL7 v2 job (media type `application/hl7-v2`, from the MLLP door) is read with
`read_v2_message`, exactly as at admission, and takes the same path (`settle` adds what that
door writes besides the report).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapter.case_store import CaseStore, digest
from adapter.errors import BadInput, InvalidResource, WriteRejected
from adapter.fhir.bundles import transaction_bundle
from adapter.fhir.json_input import parse_json
from adapter.fhir.references import as_readable_message, references_to_fetch
from adapter.fhir.server_references import for_server
from adapter.fhir.validation import message_entries
from adapter.fhir_server import DirectorySink, FhirServer
from adapter.hl7v2.message import read_v2_message
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings
from adapter.metrics import Metrics, Tally
from adapter.queue import HL7V2_MEDIA_TYPE, InterpretJob
from adapter.recent_cases import RecentCases
from adapter.service.arrivals import (
    SUPPORT_TYPES,
    Arrival,
    CaseArrival,
    arrival_of,
    support_references,
    v2_entries,
)
from adapter.service.case_state import StoredCase
from adapter.service.reported import recent_case
from adapter.service.settle import settle

JsonDict = dict[str, Any]
log = logging.getLogger("her2.worker")


@dataclass(frozen=True, slots=True)
class WorkerServices:
    """What a worker process works with, built once per process (after the pool forked)."""

    mappings: Mappings
    cases: CaseStore
    target: FhirServer | DirectorySink
    metrics: Metrics
    recent: RecentCases


def process_job(job: InterpretJob, services: WorkerServices) -> list[str]:
    """Run one job; returns the references written. Raises BadInput (permanent),
    WriteRejected (permanent), DependencyUnavailable / Redis errors (transient)."""
    arrival = job_arrival(job, services)
    written: list[str] = []
    with services.metrics.batch() as tally:  # one round trip for the job's counts
        for case in arrival.cases:
            written += _settle(job, case, arrival, services, tally)
    if arrival.withdrawn and arrival.v2 is not None:
        # Withdrawals of inputs no stored case holds (its state expired): the server's copies
        # are still withdrawn; no report is known to re-issue.
        resources = [resource for resource, _ in arrival.withdrawn]
        written += services.target.transaction(transaction_bundle(resources))
        log.info("withdrawal of an unknown input written", extra={"job_id": job.job_id})
    elif arrival.withdrawn:
        log.info("withdrawal of an unknown input ignored", extra={"job_id": job.job_id})
    return written


def job_arrival(job: InterpretJob, services: WorkerServices) -> Arrival:
    """The job's message read into what arrives for each of its cases."""
    site = SiteGroup(job.site) if job.site else None
    if job.media_type == HL7V2_MEDIA_TYPE:
        reading = read_v2_message(job.body, services.mappings)
        entries, warnings = v2_entries(reading, services.mappings)
        try:
            return arrival_of(
                entries,
                services.mappings,
                site=site,
                case_of=services.cases.case_of,
                v2=reading,
                warnings=warnings,
            )
        except BadInput as error:
            raise reading.locate(error) from error
    received = parse_json(job.body)
    message = _with_fetched(received, services.target)
    # Validated once: a message that carried its resources was validated by the door's
    # admission, exactly as queued, so not again here; what was fetched is new and validated.
    entries, warnings = message_entries(
        message, services.mappings, validate=message is not received
    )
    return arrival_of(
        entries, services.mappings, site=site, case_of=services.cases.case_of, warnings=warnings
    )


def _settle(
    job: InterpretJob,
    arrival: CaseArrival,
    message: Arrival,
    services: WorkerServices,
    tally: Tally,
) -> list[str]:
    """Settle one case under its lock: load, settle, write, save."""
    store = services.cases
    written: list[str] = []
    with store.checkout(arrival.key) as held:
        settled = settle(
            StoredCase.of(arrival.key, held.record),
            arrival,
            services.mappings,
            site=message.site,
            recorded=datetime.now(UTC),
            v2=message.v2,
        )
        if settled.write:
            bundle = transaction_bundle(
                for_server(list(settled.write), settled.state.all_entries())
            )
            started = time.perf_counter()
            written = services.target.transaction(bundle)
            tally.observe("her2_writeback_seconds", time.perf_counter() - started)
            tally.incr("her2_reports_written_total", door=job.door)
        state = settled.state
        line = recent_case(settled, job.door, datetime.now(UTC))
        noted = [services.recent.noted([line])] if line is not None else []
        held.save(state.record_meta(), state.inputs, state.support, also=noted)
    interpreted = settled.interpreted
    if interpreted is not None:
        status = interpreted.interpretation.status.value
        tally.incr("her2_cases_interpreted_total", status=status)
    log.info(
        "case reported" if settled.write else "case unchanged",
        extra={
            "job_id": job.job_id,
            "case": digest(arrival.key)[:12],
            "report_status": settled.report_status or "",
            "her2_status": interpreted.interpretation.status.value if interpreted else "",
            "inputs": len(settled.state.active),
            "written": len(written),
        },
    )
    return written


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
            for ref in support_references(resource)
            if ref.split("/")[0] in SUPPORT_TYPES and ref.count("/") == 1
        ]
    return as_readable_message(message, fetched)
