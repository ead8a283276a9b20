"""What `her2-adapter demo` sends and reads back: the bundled examples posted over HTTP and sent
over MLLP, each job awaited, and the cases its report holds."""

from __future__ import annotations

import json
import socket
import sys
import time
from importlib.resources.abc import Traversable
from typing import Any, Final

from adapter.commands.demo_services import wait_for

JOB_DEADLINE_SECONDS: Final = 90.0
STATUS_CODE: Final = "48676-1"  # the status Observation: HER2 [Interpretation] in Tissue


def feed_mllp(port: int, examples: Traversable, settings: Any) -> list[dict[str, Any]]:
    """Send each `hl7v2/*.hl7` over MLLP, one after the other; wait for each one's job."""
    from adapter.job_store import PREFIX, JobStore
    from adapter.redis_client import redis_client

    read = _reader(settings)
    client = redis_client(settings)
    jobs = JobStore(client, settings.job_retention_seconds)
    results: list[dict[str, Any]] = []
    try:
        for path in _example_files(examples / "hl7v2", ".hl7"):
            before = _job_keys(client)
            code = _send_mllp(port, path.read_bytes())
            show(f"MLLP {path.name}: ACK {code}")
            result: dict[str, Any] = {"file": str(path), "state": f"ACK {code}", "written": []}
            if code in ("AA", "CA"):
                new = wait_for(
                    lambda before=before: _job_keys(client) - before,
                    f"no job for {path.name}",
                )
                record = wait_for(
                    lambda new=new: _settled(jobs, next(iter(new)).removeprefix(PREFIX)),
                    f"the job of {path.name} did not finish",
                    JOB_DEADLINE_SECONDS,
                )
                result = {**result, "state": record.state.value, "written": record.written}
            results.append(_cases(result, read))
    finally:
        client.close()
    return results


def _job_keys(client: Any) -> set[str]:
    from adapter.job_store import PREFIX

    return {k.decode() for k in client.scan_iter(PREFIX + "*")}


def _send_mllp(port: int, message: bytes) -> str:
    """One framed message over a new connection; MSA-1 of the ACK."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"\x0b" + message + b"\x1c\x0d")
        answer = b""
        while b"\x1c\x0d" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                return "none"
            answer += chunk
    text = answer.strip(b"\x0b\x1c\x0d").decode("utf-8", errors="replace")
    msa = next((s for s in text.split("\r") if s.startswith("MSA")), "MSA||")
    return msa.split(text[3])[1]


def _settled(jobs: Any, job_id: str) -> Any:
    record = jobs.get(job_id)
    return record if record is not None and record.state.value != "queued" else None


def feed(base_url: str, examples: Traversable, settings: Any, key: str) -> list[dict[str, Any]]:
    """POST the examples with `key`; the correlation pair one after the other, each waited
    for. Each job's cases are read back as soon as it is done: a later job of the same specimen
    rewrites the same resources (deterministic ids)."""
    import httpx

    read = _reader(settings)
    results: list[dict[str, Any]] = []
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, timeout=10.0, headers=auth) as http:
        batch = [_post(http, path) for path in _example_files(examples / "fhir", ".json")]
        results += [_cases(_await_job(http, posted), read) for posted in batch]
        for path in _example_files(examples / "correlation", ".json"):
            results.append(_cases(_await_job(http, _post(http, path)), read))
    return results


def _example_files(directory: Traversable, suffix: str) -> list[Traversable]:
    """The files of `directory` ending in `suffix`, by name; none when it does not exist."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if p.name.endswith(suffix)), key=lambda p: p.name)


def _post(http: Any, path: Traversable) -> dict[str, Any]:
    body = path.read_bytes()
    kind = json.loads(body).get("resourceType")
    route = "/fhir/Observation" if kind == "Observation" else "/fhir"
    response = http.post(route, content=body, headers={"Content-Type": "application/fhir+json"})
    posted: dict[str, Any] = {"file": str(path), "http": response.status_code}
    if response.status_code == 202:
        posted["job"] = response.headers["content-location"]
    else:
        posted["outcome"] = response.json()
    return posted


def _await_job(http: Any, posted: dict[str, Any]) -> dict[str, Any]:
    if "job" not in posted:
        return {**posted, "state": "rejected", "written": []}
    deadline = time.monotonic() + JOB_DEADLINE_SECONDS
    delay = 0.05
    while True:
        record = http.get(posted["job"]).json()
        if record.get("state") in ("done", "failed") or time.monotonic() > deadline:
            return {
                **posted,
                "state": record.get("state", "unknown"),
                "written": record.get("written", []),
                "outcome": record.get("outcome"),
            }
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _cases(result: dict[str, Any], read: Any) -> dict[str, Any]:
    """The job's result with one (case, status, next step, category) per status Observation."""
    from adapter.interpretation.decision import Category, NextStep

    next_steps = {step.value for step in NextStep}
    categories = {category.value for category in Category}
    cases = []
    for reference in (r for r in result["written"] if r.startswith("Observation/")):
        status_obs = read(reference)
        coding = (status_obs.get("code", {}).get("coding") or [{}])[0]
        if coding.get("code") != STATUS_CODE:  # an input Observation written with the report
            continue
        codes = [
            coding.get("code")
            for component in status_obs.get("component", [])
            for coding in component.get("code", {}).get("coding", [])
        ]
        value = status_obs.get("valueCodeableConcept", {})
        status = value.get("text") or (value.get("coding") or [{}])[0].get("code", "?")
        case = (status_obs.get("specimen") or status_obs.get("subject") or {}).get("reference")
        cases.append(
            (
                case or "-",
                status,
                next((c for c in codes if c in next_steps), "-"),
                next((c for c in codes if c in categories), "-"),
            )
        )
    return {**result, "cases": cases}


def _reader(settings: Any) -> Any:
    """Type/id -> resource as last written, from the FHIR server or the sink's Bundle files."""
    from adapter.fhir_server import DirectorySink, write_back_target

    target = write_back_target(settings)
    if not isinstance(target, DirectorySink):
        return target.read

    def read(reference: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for path in target.written():
            for entry in json.loads(path.read_bytes()).get("entry", []):
                resource = entry.get("resource", {})
                if f"{resource.get('resourceType')}/{resource.get('id')}" == reference:
                    found = resource
        return found

    return read


def show(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
