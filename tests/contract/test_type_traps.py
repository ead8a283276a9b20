"""Type traps through the command line (issue 18): null, booleans, NaN, Infinity, -0, huge
exponents, numbers as strings, empty strings, arrays where one value is expected and Bundle
entries without a resource, at every place of a good message; and their HL7 v2 kin. Each door
is one real process: `interpret --ndjson` (the OperationOutcome's expression), `interpret`
with one file per trap (the error line) and `interpret --hl7v2` (`OBX[k]-5`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.trap_doors import fhir_cli, tally_traps, v2_cli
from tests.contract.traps import Trap, fhir_traps
from tests.contract.v2_traps import v2_traps
from tests.contract.verdicts import Tally

GOOD = ("refused-with-field", "accepted")


@pytest.fixture(scope="module")
def traps() -> list[Trap]:
    return fhir_traps(1)


@pytest.fixture(scope="module")
def tally(traps: list[Trap], tmp_path_factory: pytest.TempPathFactory) -> Tally:
    workdir: Path = tmp_path_factory.mktemp("traps")
    found = Tally()
    ndjson, files = fhir_cli(traps, workdir)
    tally_traps(found, traps, {"cli-fhir --ndjson": ndjson, "cli-fhir files": files})
    tally_traps(found, v2_traps(1), {"cli-v2": v2_cli(v2_traps(1), workdir)})
    print(found.table())
    return found


def test_there_are_traps_at_every_place(traps: list[Trap]) -> None:
    names = " ".join(t.name for t in traps)
    for kind in (
        "null",
        "boolean for a number",
        "NaN",
        "Infinity",
        "1e400",
        "-0",
        "array for one value",
        "empty string",
        "entry {}",
        "only fullUrl",
    ):
        assert kind in names, kind
    assert len(traps) > 300


@pytest.mark.parametrize("door", ["cli-fhir --ndjson", "cli-fhir files", "cli-v2"])
def test_every_trap_is_refused_naming_its_field(tally: Tally, door: str) -> None:
    counts = tally.traps[door]
    assert set(counts) <= set(GOOD), tally.report()
    assert counts["refused-with-field"] > 0


def test_a_trap_the_contract_lets_stand_gets_one_answer_from_every_door(tally: Tally) -> None:
    assert not tally.traps["all doors"]["disagree"], tally.report()
