"""Bytes -> JSON object, exactly: numbers stay `Decimal`, non-JSON constants and nulls are refused.

FHIR JSON has no `null` (FHIR R4 JSON representation, 2.6.2): an element without a value is
left out. A null is therefore never read as "absent": it is refused, naming the field, so a
sender's `"valueQuantity": null` cannot silently drop a result. The one place FHIR puts a null
is inside an array of primitives and its `_name` twin, which carries their extensions position
by position.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, NoReturn

from adapter.errors import BadInput, InvalidResource, UnreadableMessage


def _refuse_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity, which JSON (and so FHIR) does not.
    raise ValueError(f"{name} is not a JSON number")


class _NullFound(Exception):
    """Raised while parsing at the first object holding a null; located afterwards."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves duplicate names to the parser: Python keeps the last, others the first,
    # so one text could read as two different resources. A FHIR resource has unique names.
    value: dict[str, Any] = {}
    for name, member in pairs:
        if name in value:
            raise ValueError(f"the name {name[:64]!r} appears twice in one object")
        value[name] = member
    for name, member in value.items():
        if member is None or (
            isinstance(member, list) and None in member and _twin(name) not in value
        ):
            raise _NullFound
    return value


def _twin(name: str) -> str:
    """`_given` for `given` and the reverse: the arrays aligned position by position."""
    return name[1:] if name.startswith("_") else f"_{name}"


def _null_path(value: Any, path: str) -> str | None:
    """The FHIRPath of the first null in `value` (parsed without the null check)."""
    if isinstance(value, dict):
        for name, member in value.items():
            inner = f"{path}.{name}"
            if member is None:
                return inner
            if isinstance(member, list):
                for index, item in enumerate(member):
                    if item is None and _twin(name) not in value:
                        return f"{inner}[{index}]"
                    found = _null_path(item, f"{inner}[{index}]")
                    if found:
                        return found
            elif (found := _null_path(member, inner)) is not None:
                return found
    return None


def _located_null(text: str) -> BadInput:
    """The error for a text holding a null. Rare, so the null is located by a second parse
    rather than by tracking paths on every object of every message; that parse still refuses
    what the first would have refused after the null."""
    try:
        whole = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
        if not isinstance(whole, dict):
            return UnreadableMessage(f"not a FHIR resource: the JSON is a {type(whole).__name__}")
        return _refuse_null(whole)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        return UnreadableMessage(f"not JSON: {error}")


def _refuse_null(value: dict[str, Any]) -> InvalidResource:
    """The error for the first null of a message, located in its Bundle entry where it is in
    one (`Bundle.entry[2].resource` + `Observation.valueQuantity`)."""
    kind = value.get("resourceType")
    root = kind if isinstance(kind, str) else "$"
    path = _null_path(value, root) or root
    message = "null is not a FHIR JSON value: leave the element out, or send its value"
    entry = re.match(r"^Bundle\.entry\[(\d+)\]\.resource\.", path)
    if entry is not None:
        resource = value["entry"][int(entry.group(1))]["resource"]
        inner = resource.get("resourceType") if isinstance(resource, dict) else None
        if isinstance(inner, str):
            return InvalidResource(
                message,
                expression=inner + path[entry.end() - 1 :],
                within=path[: entry.end() - 1],
            )
    return InvalidResource(message, expression=path)


def parse_json(data: bytes | str) -> dict[str, Any]:
    """Decode strict UTF-8 JSON into a dict with `Decimal` for every non-integer number.

    Raises `UnreadableMessage` for bytes that are not UTF-8, text that is not JSON (NaN and
    Infinity included, and an object naming a member twice) and JSON whose top level is not an
    object; `InvalidResource` naming the field for a null (FHIR JSON has none).
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
    except _NullFound:
        raise _located_null(text) from None
    except json.JSONDecodeError as error:
        raise UnreadableMessage(f"not JSON: {error}") from error
    except (ValueError, RecursionError) as error:  # a refused constant, a too-long integer
        raise UnreadableMessage(f"not JSON: {error}") from error
    if not isinstance(value, dict):
        raise UnreadableMessage(f"not a FHIR resource: the JSON is a {type(value).__name__}")
    return value
