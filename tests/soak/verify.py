"""After the soak: what must hold, each a list of findings (empty = good).

- every accepted (202) message's job is done; only the permanently bad ones failed (0 lost);
- the dead-letter queue holds exactly the jobs of the permanently bad messages;
- exactly one DiagnosticReport per case on the FHIR server (by its business identifier, and
  no report the plan does not expect), with the status and conclusionCode the core gives the
  case's final inputs (plan.expectations);
- no report's versions went back from final (or amended) to preliminary (adapter-contract.md
  3: once final, every later version is amended);
- the API answered no 500, and every message was answered;
- the logs of the API and the workers hold no patient name, birth date, MRN or result value.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import redis

from adapter.dead_letters import DeadLetterQueue
from adapter.fhir.report import REPORT_ID_SYSTEM
from adapter.job_store import JobState, JobStore
from adapter.mappings import Mappings
from tests.soak.load import Sent
from tests.soak.plan import Plan, expectations
from tests.support.fhir_server import FhirTestServer

# Timings are the only numbers our logs carry next to values; drop them before the scan.
TIMING = re.compile(r'"(?:duration_ms|latency_ms|seconds|elapsed)":\s*[0-9.]+|\bin [0-9.]+s\b')


def verify(
    plan: Plan,
    sent: Sent,
    client: redis.Redis,
    fhir: FhirTestServer,
    mappings: Mappings,
    logs: dict[str, str],
) -> dict[str, Any]:
    findings: dict[str, Any] = {}
    bad_jobs = {
        j for i, m in enumerate(plan.messages) if m.kind == "bad" for j in sent.jobs.get(i, [])
    }
    jobs = JobStore(client, 3600)
    states: Counter[str] = Counter()
    lost, failed_good, done_bad = [], [], []
    for index, ids in sorted(sent.jobs.items()):
        for job_id in ids:
            record = jobs.get(job_id)
            state = record.state.value if record else "missing"
            states[state] += 1
            if record is None or record.state is JobState.QUEUED:
                lost.append(f"message {index} ({plan.messages[index].kind}) job {job_id}: {state}")
            elif record.state is JobState.FAILED and job_id not in bad_jobs:
                failed_good.append(f"message {index} job {job_id}: {record.outcome}")
            elif record.state is JobState.DONE and job_id in bad_jobs:
                done_bad.append(f"message {index} job {job_id}")
    findings["lost"] = lost
    findings["good_jobs_failed"] = failed_good[:50]
    findings["bad_jobs_done"] = done_bad
    dlq = {letter.id: letter.reason for letter in DeadLetterQueue(client, 3600).list()}
    findings["dlq_unexpected"] = sorted(f"{i}: {r}" for i, r in dlq.items() if i not in bad_jobs)
    findings["dlq_missing"] = sorted(bad_jobs - set(dlq))
    findings["dlq_wrong_reason"] = sorted(i for i in bad_jobs & set(dlq) if dlq[i] != "bad-input")
    findings["unanswered"] = sent.unanswered
    findings["rejected"] = [f"{i}: {why}" for i, why in sorted(sent.rejected.items())][:20]
    findings["http_500"] = sent.statuses.get("500", 0)
    # A case sent in more than one message that changes it gets several report versions; once
    # one was final, every later one is amended (contract 3), and which came first depends on
    # arrival order under faults. Re-sent copies ("dup") change nothing.
    parts = Counter(m.case for m in plan.messages if m.kind not in ("dup", "bad"))
    reissued = {n for n, count in parts.items() if count > 1}
    findings.update(_reports(plan, fhir, mappings, reissued))
    findings["phi_in_logs"] = phi_in_logs(plan, logs)
    findings["counts"] = {"job_states": dict(states), "dead_letters": len(dlq)}
    return findings


def problems(findings: dict[str, Any]) -> dict[str, Any]:
    """The findings that are failures (every one but the counts)."""
    return {k: v for k, v in findings.items() if v and k not in ("counts", "reports_total")}


def _reports(
    plan: Plan, fhir: FhirTestServer, mappings: Mappings, reissued: set[int]
) -> dict[str, Any]:
    reports = _all(fhir, "DiagnosticReport")
    by_id: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        for ident in report.get("identifier") or []:
            if ident.get("system") == REPORT_ID_SYSTEM:
                by_id.setdefault(ident["value"], []).append(report)
    expected = expectations(plan, mappings)
    missing, duplicated, wrong = [], [], []
    for n, want in sorted(expected.items()):
        found = by_id.get(want.report_id, [])
        if not found:
            missing.append(n)
            continue
        if len(found) > 1:
            duplicated.append(f"case {n}: {len(found)} reports")
        report = found[0]
        codes = sorted(
            (c.get("system", ""), c.get("code", ""))
            for concept in report.get("conclusionCode") or []
            for c in concept.get("coding") or []
        )
        statuses = {want.status}
        if n in reissued:
            # The status and conclusion must be right; the version may be amended (above).
            statuses |= {"amended"}
        if report["status"] not in statuses or codes != want.conclusion:
            wrong.append(
                f"case {n}: {report['status']} {codes}, expected {want.status} {want.conclusion}"
            )
    known = {e.report_id for e in expected.values()}
    return {
        "versions_backwards": versions_backwards(fhir, reports),
        "reports_missing": missing,
        "reports_duplicated": duplicated,
        "reports_wrong": wrong[:50],
        "reports_unexpected": sorted(set(by_id) - known),
        "reports_total": {"found": len(reports), "cases": len(expected)},
    }


def versions_backwards(fhir: FhirTestServer, reports: list[dict[str, Any]]) -> list[str]:
    """Reports whose history went back from final (or amended) to preliminary."""
    found = []
    for report in reports:
        history = fhir.history("DiagnosticReport", report["id"])
        statuses = [version["status"] for version in reversed(history)]
        finalised = False
        for status in statuses:
            if status == "preliminary" and finalised:
                found.append(f"DiagnosticReport/{report['id']}: {statuses}")
                break
            finalised = finalised or status in ("final", "amended")
    return found[:50]


def _all(fhir: FhirTestServer, resource_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    http = fhir.client()  # the server's own client: it closes it when it stops
    while True:
        page = http.get(resource_type, params={"_count": 1000, "_offset": len(found)})
        page.raise_for_status()
        entries = page.json().get("entry") or []
        found += [e["resource"] for e in entries]
        if len(entries) < 1000:
            return found


def phi_in_logs(plan: Plan, logs: dict[str, str]) -> list[str]:
    """Each generated name, birth date, MRN or result value found in a log, with the file.

    tests/support/phi.py was not there when this was written; the scan is inline. Values are
    matched as whole numbers (not inside a longer number) after timing fields are dropped.
    """
    found = []
    for name, text in logs.items():
        for token in plan.phi:
            if token in text:
                found.append(f"{name}: {token[:3]}...")
        scrubbed = TIMING.sub("", text)
        for value in plan.values:
            if re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", scrubbed):
                found.append(f"{name}: value {value}")
    return found[:50]
