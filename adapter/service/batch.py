"""What the worker does with a backfill's batch: many messages, one transaction.

The messages are taken in order, each exactly as `processing.process_job` takes one (the same
`job_arrival` and `settle`), but the batch's cases are checked out together (`checkout_all`),
a case with several messages in the batch is settled message after message in memory, and only
each case's last version is written: one transaction Bundle of PUTs for the whole batch, then
every state saved in one round trip. Writing before saving keeps a crash safe, as for one job.
The write is fenced by the versions each case was settled upon, as for one job: refused as
stale, the batch's cases are given back, reloaded and settled again (`write_fence.if_match`).
A case whose stored state knows no version of its report (new to the service: a backfill's
usual case) is not read from the server first, as one job's is (`write_fence.fenced`): that
would be one more request per case against one transaction per batch; its first version is
guarded by the case lock and the fenced save only.

A message whose input is bad (`BadInput`) is set aside (the task dead-letters it) and the
others go on; a message with several cases is settled whole or not at all. Anything else
raised here fails the batch as a whole: the task retries it (transient) or splits it into jobs
of their own (`JobStore.split_batch`), so only the message at fault ends in the dead letters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapter.case_store import HeldCase, StoredRecord
from adapter.errors import BadInput, StaleWrite
from adapter.fhir.bundles import transaction_bundle
from adapter.fhir.server_references import for_server
from adapter.metrics import Tally
from adapter.queue import InterpretBatch, InterpretJob
from adapter.service.arrivals import Arrival
from adapter.service.case_state import StoredCase
from adapter.service.processing import STALE_WRITE_ATTEMPTS, WorkerServices, job_arrival
from adapter.service.reported import recent_case
from adapter.service.settle import Settlement, settle
from adapter.service.write_fence import if_match

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
    refused: dict[str, Mapping[str, str]] | None = None  # case key -> versions refused upon
    for _ in range(STALE_WRITE_ATTEMPTS):
        with services.cases.checkout_all(keys) as held:  # leaving unsaved gives all back
            settled = _settle_all(arrivals, held, services, recorded)
            try:
                written = _write(settled, services, tally, refused)
            except StaleWrite:
                refused = {key: settled.stored[key].meta.versions for key in held}
                tally.incr("her2_stale_writes_refused_total")
                log.info("stale write refused; batch reloaded", extra={"batch_id": batch.batch_id})
                continue
            door = batch.jobs[0].door
            lines = [recent_case(done, door, recorded) for done in settled.last.values()]
            for _ in settled.last:
                tally.incr("her2_reports_written_total", door=door)
            services.cases.save_all(
                ((held[key], _record(settled.states[key])) for key in held),
                also=[services.recent.noted([line for line in lines if line is not None])],
            )
            break
    else:
        raise StaleWrite(f"batch write refused as stale {STALE_WRITE_ATTEMPTS} times")
    outcome.refused |= settled.refused
    members, last = settled.members, settled.last
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


@dataclass(slots=True)
class _Settled:
    """The batch's messages settled upon the cases as checked out (nothing written yet)."""

    stored: dict[str, StoredCase]  # case key -> as checked out
    states: dict[str, StoredCase]  # case key -> its state after the batch's messages
    last: dict[str, Settlement] = field(default_factory=dict)  # key -> last one that writes
    members: dict[str, list[str]] = field(default_factory=dict)  # key -> ids of its jobs
    refused: dict[str, BadInput] = field(default_factory=dict)  # job id -> why


def _settle_all(
    arrivals: list[tuple[InterpretJob, Arrival]],
    held: Mapping[str, HeldCase],
    services: WorkerServices,
    recorded: datetime,
) -> _Settled:
    """Every message settled in order, a case message after message in memory."""
    stored = {key: StoredCase.of(key, case.record) for key, case in held.items()}
    settled = _Settled(stored, dict(stored))
    for job, arrival in arrivals:
        try:
            cases = _settle_message(arrival, settled.states, services, recorded)
        except BadInput as error:  # the whole message or nothing of it
            settled.refused[job.job_id] = error
            continue
        for key, settlement in cases:
            settled.states[key] = settlement.state
            settled.members.setdefault(key, []).append(job.job_id)
            if settlement.write:
                settled.last[key] = settlement
        if arrival.withdrawn:
            log.info("withdrawal of an unknown input ignored", extra={"job_id": job.job_id})
    return settled


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
    settled: _Settled,
    services: WorkerServices,
    tally: Tally,
    refused: Mapping[str, Mapping[str, str]] | None,
) -> dict[str, list[str]]:
    """One transaction Bundle of every case's last version, each fenced by the versions its
    case was settled upon; what was written, by case (the server answers entry by entry, in
    the Bundle's order). The states learn the versions written. Raises StaleWrite."""
    if not settled.last:
        return {}
    per_case = {
        key: for_server(list(settlement.write), settlement.state.all_entries())
        for key, settlement in settled.last.items()
    }
    resources = [r for case_resources in per_case.values() for r in case_resources]
    fence: dict[str, str] = {}
    for key in per_case:
        fence |= if_match(settled.stored[key], refused.get(key) if refused else None)
    started = time.perf_counter()
    result = services.target.transaction(transaction_bundle(resources, fence))
    tally.observe("her2_writeback_seconds", time.perf_counter() - started)
    answered = result.references
    if len(answered) != len(resources):  # a server that does not answer entry by entry
        answered = [f"{r['resourceType']}/{r['id']}" for r in resources]
    written, start = {}, 0
    for key, case_resources in per_case.items():
        written[key] = answered[start : start + len(case_resources)]
        start += len(case_resources)
        names = {f"{r['resourceType']}/{r['id']}" for r in case_resources}
        versions = {name: v for name, v in result.versions.items() if name in names}
        settled.states[key] = settled.states[key].written(versions)
    return written


def _record(state: StoredCase) -> StoredRecord:
    return state.record_meta(), state.inputs, state.support
