"""The short form through the command line: a few hundred generated cases, each door one real
process of the installed `her2-adapter` (`interpret --ndjson`, `interpret --hl7v2`).

Every case must equal the oracle (status, next step, ISH group, category, site-assumed) and
keep the invariant; the two doors must answer alike (the differential). HER2_CONTRACT_SEED
and HER2_CONTRACT_CASES draw another batch; the long form is `python -m tests.contract.run`.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.acceptance.generator import dumps
from tests.contract.batch import Batch, batch_of, make_batch
from tests.contract.cli_doors import fhir_door, v2_door
from tests.contract.grammar import DrawChooser, cases
from tests.contract.model import Measure, Number, Score
from tests.contract.oracle import ratio_options
from tests.contract.verdicts import Tally

SEED = int(os.environ.get("HER2_CONTRACT_SEED", "18"))
COUNT = int(os.environ.get("HER2_CONTRACT_CASES", "400"))


@pytest.fixture(scope="module")
def batch() -> Batch:
    return make_batch(SEED, COUNT)


@pytest.fixture(scope="module")
def tally(batch: Batch, tmp_path_factory: pytest.TempPathFactory) -> Tally:
    """Both doors run once over the batch; the tests below read the tally."""
    workdir = tmp_path_factory.mktemp("cli-doors")
    found = Tally()
    fhir_door(batch, workdir, found)
    v2_door(batch, workdir, found, SEED)
    print(found.table())
    return found


def test_every_case_through_interpret_ndjson_equals_the_oracle(tally: Tally) -> None:
    counts = tally.counts["cli-fhir"]
    assert counts["right"] == COUNT, tally.report()


def test_every_case_v2_can_say_through_interpret_hl7v2_equals_the_oracle(
    batch: Batch, tally: Tally
) -> None:
    counts = tally.counts["cli-v2"]
    assert len(batch.v2_skipped) < COUNT // 10  # only recounts and IHC not performed
    assert counts["right"] == COUNT - len(batch.v2_skipped), tally.report()


def test_the_fhir_and_v2_doors_answer_alike(tally: Tally) -> None:
    assert not tally.disagreements(), tally.report()


def _texts(batch: Batch) -> str:
    return "\n".join(
        [dumps(r.message) for r in batch.fhir] + [m for r in batch.v2 for m in r.message]
    )


def test_the_batch_holds_every_class_of_issue_18(batch: Batch) -> None:
    """The short form would have caught each class: its messages hold every one of them
    (classes 5-7, null, booleans and entries without a resource, are the type traps)."""
    text = _texts(batch)
    classes = {
        "1: SN with an empty comparator, '=', NM holding '^n'": [
            r"\|SN\|[^|]*\|[^|]*\|\^\d",
            r"\|SN\|[^|]*\|[^|]*\|=\^",
            r"\|NM\|[^|]*\|[^|]*\|\^\d",
        ],
        "2: IHC text with a prefix and a sub-class": [r"(Score|IHC) 0 \(?(null|ultralow)"],
        "3: an organ outside the listed codes": [
            r"89837001|Urinary bladder",
            r"Kidney|Ovary|Endometrium",
        ],
    }
    for name, patterns in classes.items():
        assert all(re.search(p, text) for p in patterns), name
    ties = [
        c
        for c in batch.cases.values()
        if {Score("0"), Score("0", "ultralow")} <= {r.value for r in c.reports}
    ]
    assert ties, "4: IHC 0 beside IHC 0 (ultralow)"
    inconsistent = [c for c in batch.cases.values() if _contradicts(c)]
    assert inconsistent, "8: a ratio that contradicts its own averages"


def _contradicts(case: Any) -> bool:
    values = [
        next((r.value for r in case.reports if r.measure is m and not r.recount), None)
        for m in (Measure.RATIO, Measure.HER2, Measure.CEP17)
    ]
    return isinstance(values[0], Number) and len(ratio_options(*values)) > 1


@settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),  # one CLI run per door per example: no shrinking
    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.too_slow],
)
@given(data=st.data())
def test_cases_hypothesis_draws_pass_both_cli_doors(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    drawn = data.draw(st.lists(cases(), min_size=25, max_size=25))
    chooser = DrawChooser(data.draw)
    found = Tally()
    batch = batch_of(dict(enumerate(drawn, start=10_000)), chooser, chooser)
    workdir = tmp_path_factory.mktemp("drawn")
    fhir_door(batch, workdir, found)
    v2_door(batch, workdir, found, 0)
    assert found.bad() == 0, found.report()
    assert not found.disagreements(), found.report()
