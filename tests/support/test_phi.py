"""`phi_found`: whole tokens, any case, escaped forms; nothing found in clean text."""

from __future__ import annotations

import json

from tests.support.phi import phi_found

LOG = "\n".join(
    json.dumps(line, ensure_ascii=ascii_only)
    for line, ascii_only in (
        ({"event": "message accepted", "job_id": "j-1", "duration_ms": 14.04171}, False),
        ({"event": "oops", "detail": "patient QUIXOTICA born 1931-07-23"}, False),
        ({"event": "oops", "detail": 'id "MRN-88451-XQ"'}, False),
        ({"event": "oops", "detail": "Zoë"}, True),
    )
)


def test_finds_names_dates_and_identifiers_in_any_case_and_escaped() -> None:
    sensitive = ["Quixotica", "1931-07-23", '"MRN-88451-XQ"', "Zoë", "Zebulon"]
    assert phi_found(LOG, sensitive) == ["Quixotica", "1931-07-23", '"MRN-88451-XQ"', "Zoë"]


def test_a_value_inside_a_longer_number_or_word_is_not_found() -> None:
    assert phi_found(LOG, ["4.0417", "04171", "accept", "j-1"]) == ["j-1"]


def test_clean_text_and_empty_strings_find_nothing() -> None:
    assert phi_found('{"event": "request", "status": 202}', ["", "Quixotica", "9.8765"]) == []
    assert phi_found("", ["x"]) == []


def test_each_value_is_reported_once_in_the_order_given() -> None:
    assert phi_found("a b a", ["b", "a", "b"]) == ["b", "a"]
