"""What the worker does with a backfill's batch: many messages, one transaction.

The messages are taken in order, each exactly as `processing.process_job` takes one (the same
`job_arrival` and `settle`), but the batch's cases are checked out together (`checkout_all`),
a case with several messages in the batch is settled message after message in memory, and only
each case's last version is written: one transaction Bundle of PUTs for the whole batch, then
every state saved in one round trip. Writing before saving keeps a crash safe, as for one job.

A message whose input is bad (`BadInput`) is set aside (the task dead-letters it) and the
others go on; a message with several cases is settled whole or not at all. Anything else
raised here fails the batch as a whole: the task retries it (transient) or splits it into jobs
of their own (`JobStore.split_batch`), so only the message at fault ends in the dead letters.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapter.case_store import StoredRecord
from adapter.errors import BadInput
from adapter.fhir.bundles import transaction_bundle
from adapter.fhir.server_references import for_server
from adapter.metrics import Tally
from adapter.queue import InterpretBatch, InterpretJob
from adapter.service.arrivals import Arrival
from adapter.service.case_state import StoredCase
from adapter.service.processing import WorkerServices, job_arrival
from adapter.service.reported import recent_case
from adapter.service.settle import Settlement, settle

log = logging.getLogger("her2.worker")


@dataclass(slots=True)
class BatchOutcome:
    written: dict[str, list[str]] = field(default_factory=dict)  # job id -> references
    refused: dict[str, BadInput] = field(default_factory=dict)  # job id -> why, to dead-letter


def process_batch(batch: InterpretBatch, services: WorkerServices, tally: Tally) -> BatchOutcome:
    """Settle every message of `batch`; returns what was written for each and what was bad."""
    outcome = BatchOutcome()
    arrivals: list[tuple[InterpretJob, Arrival]] = []
    for job in batch.jobs:
        try:
            arrivals.append((job, job_arrival(job, services)))
        except BadInput as error:
            outcome.refused[job.job_id] = error
    recorded = datetime.now(UTC)
    keys = {case.key for _, arrival in arrivals for case in arrival.cases}
    with services.cases.checkout_all(keys) as held:
        states = {key: StoredCase.of(key, case.record) for key, case in held.items()}
        last: dict[str, Settlement] = {}  # case key -> its last settlement that writes
        members: dict[str, list[str]] = {}  # case key -> ids of the jobs settled into it
        for job, arrival in arrivals:
            try:
                settled = _settle_message(arrival, states, services, recorded)
            except BadInput as error:  # the whole message or nothing of it
                outcome.refused[job.job_id] = error
                continue
            for key, settlement in settled:
                states[key] = settlement.state
                members.setdefault(key, []).append(job.job_id)
                if settlement.write:
                    last[key] = settlement
            if arrival.withdrawn:
                log.info("withdrawal of an unknown input ignored", extra={"job_id": job.job_id})
        written = _write(last, services, tally)
        door = batch.jobs[0].door
        lines = [recent_case(settled, door, recorded) for settled in last.values()]
        for _ in last:
            tally.incr("her2_reports_written_total", door=door)
        services.cases.save_all(
            ((held[key], _record(states[key])) for key in held),
            also=[services.recent.noted([line for line in lines if line is not None])],
        )
    for key, job_ids in members.items():
        for job_id in job_ids:
            outcome.written.setdefault(job_id, []).extend(written.get(key, []))
    for settlement in last.values():
        if settlement.interpreted is not None:
            status = settlement.interpreted.interpretation.status.value
            tally.incr("her2_cases_interpreted_total", status=status)
    log.info(
        "batch settled",
        extra={
            "batch_id": batch.batch_id,
            "jobs": len(batch.jobs),
            "refused": len(outcome.refused),
            "cases": len(keys),
            "written": sum(len(refs) for refs in written.values()),
        },
    )
    return outcome


def _settle_message(
    arrival: Arrival, states: dict[str, StoredCase], services: WorkerServices, recorded: datetime
) -> list[tuple[str, Settlement]]:
    """Each case of one message settled from its state so far (nothing applied yet)."""
    return [
        (
            case.key,
            settle(states[case.key], case, services.mappings, site=arrival.site, recorded=recorded),
        )
        for case in arrival.cases
    ]


def _write(
    last: dict[str, Settlement], services: WorkerServices, tally: Tally
) -> dict[str, list[str]]:
    """One transaction Bundle of every case's last version; what was written, by case (the
    server answers entry by entry, in the Bundle's order)."""
    if not last:
        return {}
    per_case = {
        key: for_server(list(settlement.write), settlement.state.all_entries())
        for key, settlement in last.items()
    }
    resources = [r for case_resources in per_case.values() for r in case_resources]
    started = time.perf_counter()
    answered = services.target.transaction(transaction_bundle(resources))
    tally.observe("her2_writeback_seconds", time.perf_counter() - started)
    if len(answered) != len(resources):  # a server that does not answer entry by entry
        answered = [f"{r['resourceType']}/{r['id']}" for r in resources]
    written, start = {}, 0
    for key, case_resources in per_case.items():
        written[key] = answered[start : start + len(case_resources)]
        start += len(case_resources)
    return written


def _record(state: StoredCase) -> StoredRecord:
    return state.record_meta(), state.inputs, state.support
