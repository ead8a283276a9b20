"""An HL7 v2 message is read without validating the resources built from it as R4B (the one
validation is the Bundle that prints or writes them). That is safe only if the v2 value rules
refuse everything R4B would: so every message the read accepts must build valid R4B resources.

Messages: the shared public samples, the examples, the contract grammar's v2 renderings, and
each of these with fields replaced by values drawn from what v2 fields hold (hypothesis).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapter.errors import BadInput
from adapter.hl7v2.message import read_v2_message
from adapter.hl7v2.parse import split_messages
from adapter.mappings import Mappings
from tests.contract.batch import make_batch

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT.parent / "shared" / "hl7v2-samples"


def _messages() -> list[str]:
    files = sorted(SAMPLES.glob("*.hl7")) + sorted((ROOT / "examples" / "hl7v2").glob("*.hl7"))
    found = [
        raw.data.decode("utf-8", "surrogateescape")
        for path in files
        for raw in split_messages(path.read_bytes())
    ]
    rendered = [m for r in make_batch(seed=3, count=150).v2 for m in r.message]
    return found + rendered


MESSAGES = _messages()
# What v2 fields hold, right and wrong: times (real and impossible), numbers, codes, escapes,
# separators, text.
FIELD_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            '""',
            "20250305",
            "20251301",
            "20250230",
            "202503051230",
            "20250305240000",
            "20250305093000+1500",
            "20250305093000.1234-0500",
            "2025",
            "202513",
            "3.2",
            "-0",
            "1e400",
            "<^2.0",
            "LA11842-4^2+^LN",
            "^Score 0 (ultralow)",
            "\\X53\\core 3+",
            "F",
            "X",
            "~",
            "&&",
            "a b",
            " ",
        ]
    ),
    st.text(alphabet="0123456789+-.^&~\\ TZabcé", max_size=24),
)


def _mutated(message: str, edits: list[tuple[int, int, str]]) -> str:
    segments = message.replace("\n", "\r").split("\r")
    for which, field, value in edits:
        index = which % len(segments)
        fields = segments[index].split("|")
        if len(fields) > 1 and not segments[index].startswith("MSH"):
            fields[1 + field % (len(fields) - 1)] = value
            segments[index] = "|".join(fields)
    return "\r".join(segments)


def _accepted_resources_are_valid(message: str, mappings: Mappings) -> None:
    try:
        reading = read_v2_message(message.encode("utf-8", "surrogateescape"), mappings)
    except BadInput:
        return  # refused: R4B could only have refused it too
    Bundle.model_validate(reading.bundle)  # raises where the read accepted what R4B refuses


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.split("|")[9][:24])
def test_every_message_read_builds_valid_r4b(message: str, mappings: Mappings) -> None:
    _accepted_resources_are_valid(message, mappings)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.sampled_from(MESSAGES),
    edits=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 30), FIELD_VALUES), min_size=1, max_size=3
    ),
)
def test_a_message_with_changed_fields_read_builds_valid_r4b(
    base: str, edits: list[tuple[int, int, str]], mappings: Mappings
) -> None:
    _accepted_resources_are_valid(_mutated(base, edits), mappings)
