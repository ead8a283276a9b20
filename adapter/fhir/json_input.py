"""Bytes -> JSON object, exactly: numbers stay `Decimal`, non-JSON constants are refused."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NoReturn

from adapter.errors import UnreadableMessage


def _refuse_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity, which JSON (and so FHIR) does not.
    raise ValueError(f"{name} is not a JSON number")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves duplicate names to the parser: Python keeps the last, others the first,
    # so one text could read as two different resources. A FHIR resource has unique names.
    value: dict[str, Any] = {}
    for name, member in pairs:
        if name in value:
            raise ValueError(f"the name {name[:64]!r} appears twice in one object")
        value[name] = member
    return value


def parse_json(data: bytes | str) -> dict[str, Any]:
    """Decode strict UTF-8 JSON into a dict with `Decimal` for every non-integer number.

    Raises `UnreadableMessage` for bytes that are not UTF-8, text that is not JSON (NaN and
    Infinity included, and an object naming a member twice) and JSON whose top level is not an
    object.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnreadableMessage(
                f"not UTF-8: byte 0x{data[error.start]:02x} at position {error.start}"
            ) from error
    else:
        text = data
    # A byte-order mark is legal in a UTF-8 file but not in JSON text; tolerate it.
    text = text.removeprefix("\ufeff")
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_refuse_duplicates,
        )
    except json.JSONDecodeError as error:
        raise UnreadableMessage(f"not JSON: {error}") from error
    except (ValueError, RecursionError) as error:  # a refused constant, a too-long integer
        raise UnreadableMessage(f"not JSON: {error}") from error
    if not isinstance(value, dict):
        raise UnreadableMessage(f"not a FHIR resource: the JSON is a {type(value).__name__}")
    return value
