"""Type traps (issue 18, class 5-7 and "type traps closed"): good messages with one value made
into something that is not a value, at every place of the message.

FHIR: null at every element and inside every array, a boolean at every number and string,
an empty string, a number as a string, an array where one value is expected, NaN, Infinity
and 1e400 at every number, Bundle entries without a resource. Each must be refused naming the
element (`definite`). Where the contract lets either answer stand (-0, 1e-400, 400 digits, a
number with spaces or a unit in a string) the trap is not definite: refused naming the field,
or read as a value; and every door must answer alike.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

Json = dict[str, Any]
NUMBER_MARK: Final = "__trap_number__"


@dataclass(frozen=True, slots=True)
class Trap:
    name: str
    body: str  # the message as sent (JSON text; NaN and friends are not JSON)
    paths: tuple[str, ...]  # the field, rooted at the resource and at its Bundle entry
    definite: bool = True

    def named_by(self, expression: str) -> bool:
        """Whether an OperationOutcome expression (or an error line) names the field."""
        return any(expression == p or expression.startswith((p + ".", p + "[")) for p in self.paths)


def _observation(n: int, code: str, **value: Any) -> Json:
    return {
        "resourceType": "Observation",
        "id": f"trap{n}-{code}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/trap{n}"},
        "specimen": {"reference": f"Specimen/trap{n}"},
        **value,
    }


def base_messages(n: int) -> list[Json]:
    """Good messages the traps are set in: an Observation alone and a Bundle holding every
    kind of value (code, integer, quantity with unit, ratio, components, strings)."""
    ihc = _observation(n, "85319-2", valueInteger=2)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": f"urn:trap:Patient/trap{n}",
                "resource": {"resourceType": "Patient", "id": f"trap{n}"},
            },
            {
                "fullUrl": f"urn:trap:Specimen/trap{n}",
                "resource": {
                    "resourceType": "Specimen",
                    "id": f"trap{n}",
                    "type": {"text": "Tissue"},
                    "collection": {
                        "bodySite": {
                            "coding": [{"system": "http://snomed.info/sct", "code": "76752008"}]
                        }
                    },
                },
            },
            {
                "fullUrl": f"urn:trap:Observation/trap{n}-85319-2",
                "resource": _observation(
                    n,
                    "85319-2",
                    valueCodeableConcept={
                        "coding": [{"system": "http://loinc.org", "code": "LA11842-4"}],
                        "text": "2+",
                    },
                ),
            },
            {
                "fullUrl": f"urn:trap:Observation/trap{n}-49683-6",
                "resource": _observation(
                    n, "49683-6", valueQuantity={"value": 2.3, "unit": "{ratio}"}
                ),
            },
            {
                "fullUrl": f"urn:trap:Observation/trap{n}-74885-5",
                "resource": _observation(
                    n,
                    "74885-5",
                    component=[
                        {
                            "code": {"coding": [{"system": "http://loinc.org", "code": "74860-8"}]},
                            "valueQuantity": {"value": 5.1},
                        },
                        {
                            "code": {"coding": [{"system": "http://loinc.org", "code": "74861-6"}]},
                            "valueString": "2.2",
                        },
                        {
                            "code": {"coding": [{"system": "http://loinc.org", "code": "49683-6"}]},
                            "valueRatio": {
                                "numerator": {"value": 2.3},
                                "denominator": {"value": 1},
                            },
                        },
                    ],
                ),
            },
        ],
    }
    return [ihc, bundle]


def _walk(node: Any, path: list[Any]) -> Iterator[tuple[list[Any], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield [*path, key], value
            yield from _walk(value, [*path, key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield [*path, i], value
            yield from _walk(value, [*path, i])


def _paths(message: Json, path: list[Any]) -> tuple[str, ...]:
    """FHIRPath of `path`: `Observation.code.coding[0]`, and for a Bundle also the path from
    its entry's resource (`Bundle.entry[2].resource.valueQuantity.value`)."""

    def text(root: str, steps: list[Any]) -> str:
        out = root
        for step in steps:
            out += f"[{step}]" if isinstance(step, int) else f".{step}"
        return out

    if message["resourceType"] != "Bundle" or len(path) < 4 or path[2] != "resource":
        return (text(message["resourceType"], path),)  # a whole entry: named in the Bundle
    resource = message["entry"][path[1]]["resource"]
    return (text("Bundle", path), text(resource["resourceType"], path[3:]))


def _set(message: Json, path: list[Any], value: Any) -> Json:
    changed = copy.deepcopy(message)
    holder = changed
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return changed


def _text(message: Json, number: str | None = None) -> str:
    body = json.dumps(message)
    return body if number is None else body.replace(f'"{NUMBER_MARK}"', number)


def _replacements(value: Any, path: list[Any]) -> Iterator[tuple[str, Any, str | None, bool]]:
    """(name, new value, raw number text, definite) for one element."""
    yield "null", None, None, True
    if isinstance(value, bool):
        return
    if isinstance(value, str):
        yield "empty string", "", None, True
        yield "boolean for a string", True, None, True
    if isinstance(value, int | float):
        yield "boolean for a number", True, None, True
        yield "false for a number", False, None, True
        yield "number as a string", str(value), None, True
        for raw in ("NaN", "Infinity", "-Infinity", "1e400"):
            yield raw, NUMBER_MARK, raw, True
        integer = path[-1] == "valueInteger"  # an IHC score: 0 to 3
        for raw in ("-0", "1e-400", "9" * 400):
            yield raw, NUMBER_MARK, raw, integer and raw != "-0"
    if not isinstance(value, list):
        yield "array for one value", [value], None, True


def fhir_traps(n: int) -> list[Trap]:
    """Every trap at every place of the base messages (patients trap{n}...)."""
    traps = []
    for base in base_messages(n):
        for path, value in _walk(base, []):
            if path[-1] == "resourceType":  # not a value: the fuzz tests cover it
                continue
            for name, new, raw, definite in _replacements(value, path):
                body = _text(_set(base, path, new), raw)
                traps.append(
                    Trap(f"{name} at {_paths(base, path)[0]}", body, _paths(base, path), definite)
                )
        if base["resourceType"] == "Bundle":
            traps += _entry_traps(base)
    return traps + _string_traps(n)


def _entry_traps(bundle: Json) -> list[Trap]:
    """A Bundle entry that is not a resource (contract 5; issue 18 class 7)."""
    traps = []
    for i, entry in enumerate(bundle["entry"]):
        where = (f"Bundle.entry[{i}]",)
        for name, replaced in (("{}", {}), ("only fullUrl", {"fullUrl": entry["fullUrl"]})):
            changed = copy.deepcopy(bundle)
            changed["entry"][i] = replaced
            traps.append(Trap(f"entry {name} at {where[0]}", _text(changed), where))
    return traps


def _string_traps(n: int) -> list[Trap]:
    """Numbers in strings with spaces or units, and IHC answers that are not scores."""
    traps = []
    for text, definite in (
        (" 2.3 ", False), ("2.3 ratio", False), ("2,3", False), ("2.3.4", True), ("abc", True),
        ("-2.3", True), ("NaN", True), ("Infinity", True), ("1e400", True),
    ):  # fmt: skip
        obs = _observation(n, "49683-6", valueString=text)
        traps.append(
            Trap(f"ratio string {text!r}", _text(obs), ("Observation.valueString",), definite)
        )
    for text in ("4+", "1+ to 2+", "Score 5", "true", "2+ 3+"):
        obs = _observation(n, "85319-2", valueString=text)
        traps.append(Trap(f"IHC string {text!r}", _text(obs), ("Observation.valueString",)))
    for value in ({"valueBoolean": True}, {"valueInteger": 4}, {"valueInteger": -1}):
        obs = _observation(n, "85319-2", **value)
        field = f"Observation.{next(iter(value))}"
        traps.append(Trap(f"IHC {value}", _text(obs), (field,)))
    return traps
