"""The short form through the service: real `her2-adapter serve`, `mllp` and `worker` on the
tests' Redis, writing to the directory sink. The same generated cases go through HTTP (FHIR,
whole or split across messages) and MLLP (HL7 v2, whole or one message per order) and through
both command-line doors; every door must equal the oracle, keep the invariant and answer like
the others. Then the type traps: never a 5xx, never a bad message accepted (202 or AA), and
nothing queued for a refusal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapter.job_store import PREFIX
from tests.contract.batch import Batch, make_batch
from tests.contract.cli_doors import fhir_door, v2_door
from tests.contract.grammar import SeededChooser
from tests.contract.service import Service, running_service
from tests.contract.service_doors import http_door, mllp_door
from tests.contract.trap_doors import fhir_http, tally_traps, v2_mllp
from tests.contract.traps import fhir_traps
from tests.contract.v2_traps import v2_traps
from tests.contract.verdicts import Tally

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
SEED = int(os.environ.get("HER2_CONTRACT_SEED", "18"))
COUNT = int(os.environ.get("HER2_CONTRACT_SERVICE_CASES", "150"))
DOORS = ("cli-fhir", "cli-v2", "http", "mllp")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("service")) as running:
        yield running


@pytest.fixture(scope="module")
def batch() -> Batch:
    return make_batch(SEED + 1, COUNT, start=50_000)


@pytest.fixture(scope="module")
def tally(batch: Batch, service: Service) -> Tally:
    found = Tally()
    workdir: Path = service.workdir
    fhir_door(batch, workdir, found)
    v2_door(batch, workdir, found, SEED)
    http_door(SeededChooser(SEED + 2), batch, service, found)
    mllp_door(SeededChooser(SEED + 3), batch, service, found)
    print(found.table())
    return found


@pytest.mark.parametrize("door", ["http", "mllp"])
def test_every_case_through_the_service_equals_the_oracle(tally: Tally, door: str) -> None:
    counts = tally.counts[door]
    assert counts["right"] == sum(counts.values()) > COUNT // 2, tally.report()


def test_every_door_answers_alike(tally: Tally) -> None:
    assert all(len(tally.counts[door]) for door in DOORS)
    assert not tally.disagreements(), tally.report()


def test_type_traps_get_no_5xx_and_no_acceptance(service: Service) -> None:
    """HTTP and MLLP: each definite trap refused naming its field; nothing queued for it."""
    fhir, v2 = fhir_traps(2), v2_traps(2)
    jobs_before = sum(1 for _ in service.redis.scan_iter(match=PREFIX + "*", count=1000))
    found = Tally()
    tally_traps(found, fhir, {"http": fhir_http(fhir, service)})
    tally_traps(found, v2, {"mllp": v2_mllp(v2, service)})
    accepted = found.traps["http"]["accepted"] + found.traps["mllp"]["accepted"]
    jobs_after = sum(1 for _ in service.redis.scan_iter(match=PREFIX + "*", count=1000))
    assert jobs_after - jobs_before == accepted, "a refused message left a job behind"
    for door in ("http", "mllp"):
        assert set(found.traps[door]) <= {"refused-with-field", "accepted"}, found.report()
    assert service.serve.alive()
    assert service.http.get("/health/live").status_code == 200
    assert "Traceback" not in service.serve.log()
