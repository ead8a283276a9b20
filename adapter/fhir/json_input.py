"""Bytes -> JSON object, exactly: numbers stay `Decimal`; what FHIR JSON cannot hold is refused.

FHIR JSON (R4 JSON representation, 2.6.2) has no `null` and no empty string: an element without
a value is left out. Neither is ever read as "absent": a sender's `"valueQuantity": null` or
`"system": ""` (which made a coded IHC score unrecognisable) would otherwise drop a result
silently. Both are refused naming the field, and so are NaN and Infinity, which Python's `json`
reads but JSON has not. The one place FHIR puts a null is inside an array of primitives and its
`_name` twin, which carries their extensions position by position.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Final

from adapter.errors import BadInput, InvalidResource, UnreadableMessage

_ENTRY: Final = re.compile(r"^Bundle\.entry\[(\d+)\]\.resource\.")


class _Constant(str):
    """NaN, Infinity or -Infinity as the text held it, kept to be located and refused."""


class _Refused(Exception):
    """Raised while parsing at the first object holding what FHIR JSON cannot; located after."""


def _refuse_constant(_: str) -> _Constant:
    raise _Refused


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves duplicate names to the parser: Python keeps the last, others the first,
    # so one text could read as two different resources. A FHIR resource has unique names.
    value: dict[str, Any] = {}
    for name, member in pairs:
        if name in value:
            raise ValueError(f"the name {name[:64]!r} appears twice in one object")
        value[name] = member
    for name, member in value.items():
        if _refused(name, member, value):
            raise _Refused
    return value


def _refused(name: str, member: Any, holder: dict[str, Any]) -> bool:
    if member is None or member == "" or isinstance(member, _Constant):
        return True
    return isinstance(member, list) and any(
        (item is None and _twin(name) not in holder) or item == "" or isinstance(item, _Constant)
        for item in member
    )


def _twin(name: str) -> str:
    """`_given` for `given` and the reverse: the arrays aligned position by position."""
    return name[1:] if name.startswith("_") else f"_{name}"


def _first_refused(value: Any, path: str) -> tuple[str, Any] | None:
    """(FHIRPath, value) of the first thing FHIR JSON cannot hold, in document order."""
    if not isinstance(value, dict):
        return None
    for name, member in value.items():
        inner = f"{path}.{name}"
        items = member if isinstance(member, list) else [member]
        for index, item in enumerate(items):
            where = f"{inner}[{index}]" if isinstance(member, list) else inner
            if _refused(name, [item] if isinstance(member, list) else item, value):
                return where, item
            found = _first_refused(item, where)
            if found is not None:
                return found
    return None


def _located(text: str) -> BadInput:
    """The error for a text holding what FHIR JSON cannot. Rare, so it is located by a second
    parse rather than by tracking paths on every object of every message."""
    try:
        whole = json.loads(text, parse_float=Decimal, parse_constant=_Constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        return UnreadableMessage(f"not JSON: {error}")
    if not isinstance(whole, dict):
        return UnreadableMessage(f"not a FHIR resource: the JSON is a {type(whole).__name__}")
    kind = whole.get("resourceType")
    root = kind if isinstance(kind, str) else "$"
    try:
        found = _first_refused(whole, root)
    except RecursionError:
        return UnreadableMessage("not JSON: nested too deep")
    if found is None:  # only where FHIR JSON has no place at all (an array in an array)
        return UnreadableMessage("not FHIR JSON: a null, empty string, NaN or Infinity")
    path, value = found
    refused: BadInput
    if isinstance(value, _Constant):
        refused = UnreadableMessage(f"{value} is not a JSON number")
    elif value == "":
        refused = InvalidResource("an empty string is not a FHIR JSON value: leave it out")
    else:
        refused = InvalidResource(
            "null is not a FHIR JSON value: leave the element out, or send its value"
        )
    return _in_entry(whole, path, refused)


def _in_entry(whole: dict[str, Any], path: str, error: BadInput) -> BadInput:
    """`error` at `path`, placed in its Bundle entry where it sits in one's resource
    (`Bundle.entry[2].resource` + `Observation.valueQuantity`)."""
    entry = _ENTRY.match(path)
    resource = whole["entry"][int(entry.group(1))]["resource"] if entry else None
    inner = resource.get("resourceType") if isinstance(resource, dict) else None
    if entry is not None and isinstance(inner, str):
        error.expression = inner + path[entry.end() - 1 :]
        error.within = path[: entry.end() - 1]
    else:
        error.expression = path
    return error


def parse_json(data: bytes | str) -> dict[str, Any]:
    """Decode strict UTF-8 JSON into a dict with `Decimal` for every non-integer number.

    Raises `UnreadableMessage` for bytes that are not UTF-8, text that is not JSON (NaN and
    Infinity included, named where they stand, and an object naming a member twice) and JSON
    whose top level is not an object; `InvalidResource` naming the field for a null or an empty
    string (FHIR JSON has neither).
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
            text, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_object
        )
    except _Refused:
        raise _located(text) from None
    except (ValueError, RecursionError) as error:  # not JSON, a duplicate name, a long integer
        raise UnreadableMessage(f"not JSON: {error}") from error
    if not isinstance(value, dict):
        raise UnreadableMessage(f"not a FHIR resource: the JSON is a {type(value).__name__}")
    return value
