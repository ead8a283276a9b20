"""The failover soak (issue 15): nothing accepted is lost, nothing overwritten, when the Redis
primary is lost and a worker stalls past its case lock.

`python -m tests.soak.failover --messages 3000` (README "Reliability"); the short form is
tests/soak/test_soak.py::test_short_failover_soak. It runs the fault-injection soak's feed and
checks (tests/soak/run.py, verify.py) against:

- a Redis primary, its replica and three Sentinels (tests/support/redis_sentinel.py), the
  service configured with REDIS_SENTINELS and REDIS_MIN_REPLICAS=1;
- `her2-adapter serve`, `her2-adapter mllp` and two `her2-adapter worker` processes;
- HL7 v2 messages through the MLLP door beside the HTTP feed, each sent again on AR;

while it injects, by the share of messages sent:
- the primary SIGKILLed, a replica promoted by the Sentinels, the old primary started again
  as its replica: at 30 % and at 70 % (twice in one run);
- at 50 %, a stalled writer staged on a case of its own: its ISH's write-back is held by the
  FHIR server (`FhirTestServer.hold`), every worker is SIGSTOPped past CASE_LOCK_SECONDS, a
  fresh worker writes the case's next version (an amended IHC), then the stopped workers go
  on and the held write is let in.

Checked besides `verify` (which also finds any report gone back from final to preliminary):
every AA'd v2 message's case has one report with the right status; the stalled case's report
went preliminary -> final -> amended (the held write refused, the ISH settled again upon the
newer case).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from adapter.case_store import LOCK_PREFIX, digest
from adapter.dead_letters import DeadLetterQueue
from adapter.job_store import JobState, JobStore
from adapter.redis_client import redis_client
from adapter.settings import Settings
from tests.builders import her2_bundle, ihc_observation, ish_observation
from tests.mllp.support import Client, msa
from tests.soak.load import Sent
from tests.soak.plan import Plan
from tests.soak.processes import SCRIPT
from tests.soak.run import API_KEY, Soak, SoakConfig, run
from tests.support.fhir_server import free_port
from tests.support.processes import WorkerProcess, wait_for
from tests.support.redis_sentinel import SentinelCluster
from tests.support.serve import ServeProcess

STALL_SPECIMEN = "Specimen/stall-1"
V2_PID = "PID|1||MRN-FO^^^HOSP&1.2.3.4&ISO^MR||SYNTHETIC^FAILOVER"


@dataclass
class FailoverConfig(SoakConfig):
    v2_messages: int = 40
    case_lock_seconds: int = 5
    failovers_at: tuple[float, ...] = (0.3, 0.7)
    stall_at: float = 0.5


class FailoverSoak(Soak):
    config: FailoverConfig

    def __init__(self, config: FailoverConfig, directory: Path) -> None:
        super().__init__(config, directory)
        self.cluster = SentinelCluster(directory / "cluster")
        self.mllp_port = free_port()
        self.mllp: subprocess.Popen[bytes] | None = None
        self.v2_acks: dict[str, str] = {}  # accession -> the last MSA-1 it was answered
        self.stall_jobs: list[str] = []
        self.promotions: list[float] = []

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("REDIS_URL")
        env.update(
            REDIS_SENTINELS=self.cluster.sentinels,
            REDIS_SENTINEL_SERVICE=self.cluster.service,
            REDIS_MIN_REPLICAS="1",
            REDIS_REPLICA_WAIT_MS="1000",
            CASE_LOCK_SECONDS=str(self.config.case_lock_seconds),
            MLLP_ENABLED="true",
        )
        return env

    def client(self) -> redis.Redis:
        return redis_client(
            Settings(redis_sentinels=self.cluster.sentinels, redis_sentinel_service="her2")
        )

    def start(self) -> None:
        self.cluster.start()
        self.fhir.start()
        self.api = ServeProcess(free_port(), self.env(), self.dir / "api.log").start()
        with (self.dir / "mllp.log").open("ab") as log:
            self.mllp = subprocess.Popen(
                [SCRIPT, "mllp", "--port", str(self.mllp_port)],
                env=self.env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_for(
            lambda: b"listening on" in (self.dir / "mllp.log").read_bytes(), 60, "the listener"
        )
        for i in range(2):
            self.workers.append(WorkerProcess(self.env(), self.dir / f"worker-{i}.log").start())

    def stop(self) -> None:
        for worker in self.workers:  # none left stopped by a failed stall
            if worker.proc is not None and worker.proc.poll() is None:
                os.killpg(worker.proc.pid, signal.SIGCONT)
        if self.mllp is not None and self.mllp.poll() is None:
            os.killpg(self.mllp.pid, signal.SIGTERM)
            self.mllp.wait(30)
        super().stop()
        self.cluster.stop()

    # --- faults ---------------------------------------------------------------------------

    def fail_over(self) -> None:
        self._say(f"SIGKILL the Redis primary ({self.cluster.primary_port()})")
        old, new, promoted = self.cluster.fail_over()
        self.promotions.append(round(promoted, 1))
        self.faults.redis_failovers += 1
        self._say(f"{new} promoted after {promoted:.1f}s; {old} back as its replica")

    def stall_worker(self) -> None:
        """The staged stall (module docstring)."""
        api = httpx.Client(
            base_url=self.api.base_url,
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/fhir+json"},
            timeout=15,
        )
        client = self.client()
        jobs = JobStore(client, 3600)
        ihc = ihc_observation("2+", id="stall-ihc", specimen=STALL_SPECIMEN)
        ish = ish_observation(
            "2.5", her2="6.0", cep17="2.4", id="stall-ish", specimen=STALL_SPECIMEN
        )
        self._done(api, jobs, her2_bundle(ihc))  # v1: preliminary
        self.fhir.hold("Observation/stall-ish")
        held = self._post(api, her2_bundle(ish))
        wait_for(lambda: self.fhir.held() == 1, 120, "the stalled case's write to be held")
        stopped = list(self.workers)
        for worker in stopped:
            os.killpg(worker.proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
        self._say("every worker SIGSTOPped; the stalled case's write is held")
        fresh = WorkerProcess(self.env(), self.dir / f"worker-{len(self.workers)}.log").start()
        self.workers.append(fresh)
        lock = LOCK_PREFIX + digest(f"specimen|{STALL_SPECIMEN}")
        wait_for(lambda: not client.exists(lock), 3 * self.config.case_lock_seconds, "the lock")
        amended = ihc_observation("0", id="stall-ihc", specimen=STALL_SPECIMEN, status="amended")
        self._done(api, jobs, her2_bundle(amended))  # v2: the fresh worker's, final
        for worker in stopped:
            os.killpg(worker.proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
        self.fhir.release()
        self._say("the stopped workers go on; the held write is let in")
        wait_for(lambda: _settled(jobs, held), 120, "the stalled worker's job")
        self.faults.stalled_workers += 1
        api.close()

    def _post(self, api: httpx.Client, message: dict[str, Any]) -> str:
        def accepted() -> str | None:
            try:
                response = api.post("/fhir", content=json.dumps(message, default=float))
            except httpx.TransportError:
                return None
            if response.status_code == 202:
                job_id = response.headers["Location"].rsplit("/", 1)[1]
                self.stall_jobs.append(job_id)
                return job_id
            assert response.status_code == 503, response.text
            return None

        job_id: str = wait_for(accepted, 120, "the API to accept the stalled case's message")
        return job_id

    def _done(self, api: httpx.Client, jobs: JobStore, message: dict[str, Any]) -> None:
        job_id = self._post(api, message)
        wait_for(lambda: _settled(jobs, job_id), 120, "the stalled case's message")

    def send_v2(self) -> None:
        """The MLLP feed: one ORU^R01 per case (IHC 2+ and a group 1 ISH: Positive), each
        sent again on AR or a lost connection until it is answered AA or AE."""
        for n in range(self.config.v2_messages):
            accession = f"ACC-FO-{n}"
            message = v2_message(f"FO{n}", accession)
            deadline, delay = time.monotonic() + 300, 0.1
            while time.monotonic() < deadline:
                try:
                    with Client(self.mllp_port, timeout=15) as mllp:
                        code = msa(mllp.ack(message))[1]
                except (OSError, AssertionError):
                    code = "lost"
                self.v2_acks[accession] = code
                if code in ("AA", "AE"):
                    break
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            time.sleep(0.2)

    def inject(self, feed: Any, done: threading.Event) -> None:
        v2 = threading.Thread(target=self.send_v2, daemon=True)
        v2.start()
        total = len(feed.plan.messages)
        once = sorted(
            [(share, self.fail_over) for share in self.config.failovers_at]
            + [(self.config.stall_at, self.stall_worker)],
            key=lambda item: item[0],
        )
        while not done.is_set() or once:
            share = feed.sent.progress / total
            while once and (share >= once[0][0] or done.is_set()):
                once.pop(0)[1]()
            done.wait(0.2)
        v2.join()

    # --- checks ---------------------------------------------------------------------------

    def findings(
        self,
        found: dict[str, Any],
        plan: Plan,
        sent: Sent,  # noqa: ARG002 - verify() judged what the feed saw
        client: redis.Redis,
    ) -> dict[str, Any]:
        reports = self._reports()
        # The v2 feed's and the stalled case's reports are ours, not the plan's.
        extra = {
            ident["value"]
            for r in reports
            for ident in r.get("identifier") or ()
            if ident.get("value") in found["reports_unexpected"] and self._ours(r)
        }
        bad_bodies = {m.body for m in plan.messages if m.kind == "bad"}
        letters = {letter.id: letter for letter in DeadLetterQueue(client, 3600).list()}
        # A message answered 503 after its MULTI ran (a WAIT that timed out, a connection lost
        # after EXEC) is queued all the same, and sent again: a bad one is dead-lettered twice.
        unexpected = [
            entry for entry in found["dlq_unexpected"]
            if letters[entry.split(":")[0]].job.body not in bad_bodies
        ]  # fmt: skip
        jobs = JobStore(client, 3600)
        stall_lost = [j for j in self.stall_jobs if not _settled(jobs, j, JobState.DONE)]
        return {
            "reports_unexpected": sorted(set(found["reports_unexpected"]) - extra),
            "dlq_unexpected": unexpected,
            "v2_not_acked": sorted(a for a, code in self.v2_acks.items() if code != "AA"),
            "v2_reports": self._v2_problems(reports),
            "stall": stall_lost + self._stall_problems(),
        }

    def _ours(self, report: dict[str, Any]) -> bool:
        specimens = [s.get("reference", "") for s in report.get("specimen") or ()]
        return any(
            ref == STALL_SPECIMEN or self._accession(ref).startswith("ACC-FO-") for ref in specimens
        )

    def _reports(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        http = self.fhir.client()
        while True:
            page = http.get("DiagnosticReport", params={"_count": 1000, "_offset": len(found)})
            page.raise_for_status()
            entries = page.json().get("entry") or []
            found += [e["resource"] for e in entries]
            if len(entries) < 1000:
                return found

    def _v2_problems(self, reports: list[dict[str, Any]]) -> list[str]:
        by_specimen: dict[str, list[dict[str, Any]]] = {}
        for report in reports:
            for specimen in report.get("specimen") or ():
                by_specimen.setdefault(specimen.get("reference", ""), []).append(report)
        problems = []
        accessions = {self._accession(ref): found for ref, found in by_specimen.items()}
        for accession, code in sorted(self.v2_acks.items()):
            if code != "AA":
                continue
            found = accessions.get(accession, [])
            if len(found) != 1:
                problems.append(f"{accession}: {len(found)} reports")
            elif found[0]["status"] != "final":
                problems.append(f"{accession}: {found[0]['status']}")
        return problems

    def _accession(self, reference: str) -> str:
        kind, _, rid = reference.partition("/")
        specimen = self.fhir.read(kind, rid) if kind == "Specimen" and rid else None
        identifiers = (specimen or {}).get("identifier") or [{}]
        return str(identifiers[0].get("value", ""))

    def _stall_problems(self) -> list[str]:
        """The held write never became a version: its worker's client may have given up on
        it first (FHIR_TIMEOUT_SECONDS) and retried, so the server's history is the proof."""
        from adapter.fhir.report import resource_id

        history = self.fhir.history(
            "DiagnosticReport", resource_id(f"specimen|{STALL_SPECIMEN}", "DiagnosticReport")
        )
        statuses = [r["status"] for r in reversed(history)]
        problems = []
        if statuses != ["preliminary", "final", "amended"]:
            problems.append(f"stalled case's report versions: {statuses}")
        return problems


def _settled(jobs: JobStore, job_id: str, state: JobState | None = None) -> bool:
    try:
        record = jobs.get(job_id)
    except redis.RedisError:
        return False
    if record is None or record.state is JobState.QUEUED:
        return False
    return state is None or record.state is state


def v2_message(control: str, accession: str) -> str:
    segments = [
        f"MSH|^~\\&|LIS|SYNTH_LAB|EHR|HOSP|20250301120000+0100||ORU^R01^ORU_R01|{control}|P|2.5.1",
        V2_PID,
        f"OBR|1|PL-{accession}|{accession}|HER2^HER2 IHC|||20250228",
        "OBX|1|ST|85319-2^HER2 IHC^LN||2+||||||F",
        "OBX|2|NM|49683-6^HER2/CEP17 ratio^LN||2.5||||||F",
        "OBX|3|NM|74860-8^HER2 signals per cell^LN||6.0||||||F",
        "OBX|4|NM|74861-6^CEP17 signals per cell^LN||2.4||||||F",
    ]
    return "\r".join(segments) + "\r"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--v2-messages", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args(argv)
    config = FailoverConfig(
        messages=args.messages, seed=args.seed, v2_messages=args.v2_messages,
        bursts=max(1, args.messages // 2000), bad=max(5, args.messages // 500),
        case_lock_seconds=10, settle_timeout=900.0,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="her2-failover-soak-") as tmp:
        summary = run(config, Path(tmp), FailoverSoak)
        (args.out / "failover-soak-summary.json").write_text(
            json.dumps(summary, indent=2, default=str)
        )
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
