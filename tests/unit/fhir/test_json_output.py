"""The one output encoder writes every number exactly as it is held (adapter/fhir/json_output)."""

from __future__ import annotations

import json
from decimal import Decimal

from adapter.fhir.json_input import parse_json
from adapter.fhir.json_output import dumps


def test_decimals_leave_with_every_digit_and_their_precision() -> None:
    value = {"a": Decimal("2.30"), "b": [Decimal("12345678901234567890.5"), Decimal("1E+2")]}
    text = dumps(value)
    assert text == '{"a":2.30,"b":[12345678901234567890.5,1E+2]}'
    assert parse_json(text) == value  # and read back to the same Decimals


def test_a_string_that_looks_like_a_token_stays_a_string() -> None:
    value = {"text": "0", "n": Decimal("1.5"), "nested": {"x": "1.5"}}
    assert json.loads(dumps(value, indent=2)) == {"text": "0", "n": 1.5, "nested": {"x": "1.5"}}


def test_other_types_go_through_the_given_default() -> None:
    assert dumps({"s": {1, 2}}, default=sorted) == '{"s":[1,2]}'
