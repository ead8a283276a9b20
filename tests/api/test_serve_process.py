"""The real `her2-adapter serve` process: it refuses to start open, serves the API, and its logs
hold no patient data, no values, no bodies and no secrets (STYLE.md R14)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import KEY, REDIS_URL, ROOT, closed_port
from tests.builders import LOINC, SCT

SCRIPT = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"

NAME, GIVEN, BIRTH, MRN = "Quixotica", "Zebulon", "1931-07-23", "MRN-88451-XQ"
RATIO, HER2, CEP17 = "4.0417", "9.8765", "2.4437"
BAD_VALUE = "Zz-unreadable-Qq"
SECRETS = (KEY, "fhir-token-Wv81")


def phi_bundle() -> dict[str, Any]:
    def ish(id_: str, loinc: str, value: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": id_,
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "subject": {"reference": "Patient/p-phi"},
            "specimen": {"reference": "Specimen/s-phi"},
            "valueQuantity": {"value": float(value)},
        }

    resources = [
        {
            "resourceType": "Patient",
            "id": "p-phi",
            "identifier": [{"system": "urn:mrn", "value": MRN}],
            "name": [{"family": NAME, "given": [GIVEN]}],
            "birthDate": BIRTH,
        },
        {
            "resourceType": "Specimen",
            "id": "s-phi",
            "subject": {"reference": "Patient/p-phi"},
            "collection": {"bodySite": {"coding": [{"system": SCT, "code": "76752008"}]}},
        },
        ish("ratio", "49683-6", RATIO),
        ish("her2", "74860-8", HER2),
        ish("cep17", "74861-6", CEP17),
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = closed_port()
    log_path = tmp_path / "serve.log"
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "ADAPTER_API_KEYS": KEY,
        "FHIR_SERVER_TOKEN": SECRETS[1],
        "SINK_DIR": str(tmp_path / "sink"),
        "LOG_LEVEL": "DEBUG",
    }
    env.pop("ADAPTER_DEMO_MODE", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [SCRIPT, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
            yield base, log_path
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_serve_refuses_to_start_without_api_keys() -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("ADAPTER_API_KEYS", "ADAPTER_DEMO_MODE")
    }
    env["REDIS_URL"] = REDIS_URL
    ran = subprocess.run(
        [SCRIPT, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 1
    assert "ADAPTER_API_KEYS" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_served_api_accepts_refuses_and_logs_no_patient_data(served: tuple[str, Path]) -> None:
    base, log_path = served
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/fhir+json"}
    message = json.dumps(phi_bundle())
    bad = phi_bundle()
    bad["entry"][2]["resource"]["valueQuantity"] = {"value": BAD_VALUE}

    with httpx.Client(base_url=base, timeout=10) as http:
        accepted = http.post("/fhir", content=message, headers=auth)
        refused = http.post("/fhir", content=json.dumps(bad), headers=auth)
        wrong_key = http.post(
            "/fhir", content=message, headers={**auth, "Authorization": "Bearer not-" + KEY}
        )
        job = http.get(accepted.headers["content-location"], headers=auth)
        metrics = http.get("/metrics", headers=auth)

    assert accepted.status_code == 202, accepted.text
    assert refused.status_code in (400, 422)
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert wrong_key.status_code == 403
    assert job.json()["state"] in ("queued", "done", "failed")
    assert 'her2_messages_accepted_total{door="http"}' in metrics.text

    logged = log_path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in logged.splitlines() if line.strip()]
    events = {line["event"] for line in lines}
    assert {"message accepted", "message rejected", "request"} <= events
    assert all({"ts", "level", "logger", "event"} <= set(line) for line in lines)
    for forbidden in (NAME, GIVEN, BIRTH, MRN, RATIO, HER2, CEP17, BAD_VALUE, *SECRETS):
        assert forbidden not in logged, forbidden
    assert "Traceback" not in logged
