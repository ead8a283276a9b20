"""Structural checks of a message with the `fhir.resources.R4B` models, errors as FHIRPaths.

A message is an Observation or a Bundle of an accepted type (contract 1). Every Bundle entry
must hold a resource, and every resource must be valid R4B: a broken Patient beside a good HER2
result still makes the message bad input, because half-reading a message loses data silently
(contract 5). Each resource is validated on its own so that an error names its entry
(`within` = `Bundle.entry[2].resource`) and its field (`Observation.valueQuantity.value`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from adapter.errors import BadInput, InvalidResource, UnreadableValue
from adapter.mappings import Mappings

BUNDLE_TYPES: Final = frozenset(
    {"collection", "transaction", "batch", "message", "document", "searchset"}
)
VALUE_FIELDS: Final = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)
_FHIR_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
LOINC: Final = "http://loinc.org"


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of the message, with where it sits (None: the message is the resource)."""

    resource: dict[str, Any]
    index: int | None = None
    full_url: str | None = None

    @property
    def within(self) -> str | None:
        """`Bundle.entry[i].resource` for a Bundle entry, else None."""
        return None if self.index is None else f"Bundle.entry[{self.index}].resource"

    def locate(self, error: BadInput) -> BadInput:
        """Place an error raised for this resource inside its Bundle entry, if any."""
        return error.located(self.within) if self.within else error


def bundle_type(message: dict[str, Any]) -> str | None:
    """`Bundle.type` when it is a string, else None: a list or object there must be refused as
    an unaccepted type, not reach a set lookup (unhashable) as a 500."""
    value = message.get("type")
    return value if isinstance(value, str) else None


def fhir_path(root: str, loc: Sequence[int | str]) -> str:
    """FHIRPath of a pydantic error location: ('component', 1, 'valueQuantity') ->
    `Observation.component[1].valueQuantity`."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):  # skip pydantic's validator names
            path += f".{part}"
    return path


def message_entries(
    message: dict[str, Any], mappings: Mappings, *, validate: bool = True
) -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    """Validate a message and return its resources, with warnings about what was tolerated.

    Raises `InvalidResource` for anything that is not an accepted, valid FHIR R4 message, and
    `UnreadableValue` where the invalid field is an IHC or ISH value. `validate=False` skips
    the R4B models (the structure is still checked): only for a message this same function
    validated at admission, exactly as it is now, or one the adapter built itself from values
    it checked (an HL7 v2 message's resources).
    """
    kind = message.get("resourceType")
    if not isinstance(kind, str):
        raise InvalidResource("not a FHIR resource: no resourceType", expression="resourceType")
    if kind == "Observation":
        if validate:
            validate_resource(Entry(message), mappings)
        return (Entry(message),), ()
    if kind != "Bundle":
        raise InvalidResource(
            f"a {kind} is not accepted: send an Observation or a Bundle", expression=kind
        )
    if bundle_type(message) not in BUNDLE_TYPES:
        raise InvalidResource(
            f"Bundle type {message.get('type')!r} is not accepted: "
            f"use one of {sorted(BUNDLE_TYPES)}",
            expression="Bundle.type",
        )
    warnings: list[str] = []
    envelope = dict(message)
    bundle_id = envelope.get("id")
    if isinstance(bundle_id, str) and not _FHIR_ID.match(bundle_id):
        # The envelope's id names no result (seen in mcode-ctmapp-*: "..._1"); rejecting
        # the message for it would lose the results it carries.
        del envelope["id"]
        warnings.append(f"Bundle.id {bundle_id!r} is not a valid FHIR id; ignored")
    raw_entries = message.get("entry") or []
    if not isinstance(raw_entries, list):
        raise InvalidResource("Bundle.entry must be a list", expression="Bundle.entry")
    entries = tuple(_entry(i, raw) for i, raw in enumerate(raw_entries))
    if validate:
        validate_envelope(envelope, raw_entries)
        for entry in entries:
            validate_resource(entry, mappings)
    return entries, tuple(warnings)


def _entry(index: int, raw: Any) -> Entry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        raise InvalidResource("a Bundle entry must be a JSON object", expression=where)
    resource = raw.get("resource")
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise InvalidResource(
            "the Bundle entry holds no FHIR resource", expression=f"{where}.resource"
        )
    full_url = raw.get("fullUrl")
    return Entry(resource, index, full_url if isinstance(full_url, str) else None)


def validate_resource(entry: Entry, mappings: Mappings) -> None:
    """Validate one resource with its R4B model; raise a located BadInput on the first error."""
    resource = entry.resource
    kind = resource["resourceType"]
    try:
        model = get_fhir_model_class(kind)
    except ValueError as error:
        raise entry.locate(
            InvalidResource(
                f"unknown FHIR resource type {kind!r}", expression=f"{kind}.resourceType"
            )
        ) from error
    if kind == "Observation":
        _check_single_value(entry)
    try:
        model.model_validate(resource)
    except ValidationError as error:
        first = error.errors()[0]
        path = fhir_path(kind, first["loc"])
        is_value = kind == "Observation" and _is_her2_value(resource, first["loc"], mappings)
        raise entry.locate(
            (UnreadableValue if is_value else InvalidResource)(first["msg"], expression=path)
        ) from error


def _check_single_value(entry: Entry) -> None:
    # Named here, not left to pydantic, whose message names neither field (contract 5).
    holders: list[tuple[str, dict[str, Any]]] = [("Observation", entry.resource)]
    components = entry.resource.get("component")
    if isinstance(components, list):
        holders += [
            (f"Observation.component[{i}]", c)
            for i, c in enumerate(components)
            if isinstance(c, dict)
        ]
    for path, holder in holders:
        present = [name for name in VALUE_FIELDS if name in holder]
        if len(present) > 1:
            raise entry.locate(
                InvalidResource(
                    f"more than one value[x]: {' and '.join(present)} (one value is allowed)",
                    expression=f"{path}.{present[0]}",
                )
            )


def _is_her2_value(resource: dict[str, Any], loc: Sequence[int | str], mappings: Mappings) -> bool:
    """True when a validation error sits in the value of an IHC/ISH Observation or component."""

    def is_her2(holder: Any) -> bool:
        codings = holder.get("code", {}).get("coding") if isinstance(holder, dict) else None
        return any(
            isinstance(c, dict)
            and mappings.role(c.get("system"), c.get("code")) not in (None, "reported-status")
            for c in codings or ()
        )

    if loc and loc[0] in VALUE_FIELDS:
        return is_her2(resource)
    if (
        len(loc) >= 3
        and loc[0] == "component"
        and isinstance(loc[1], int)
        and loc[2] in VALUE_FIELDS
    ):
        components = resource.get("component")
        return (
            isinstance(components, list)
            and loc[1] < len(components)
            and is_her2(components[loc[1]])
        )
    return False


def validate_envelope(bundle: dict[str, Any], raw_entries: list[Any]) -> None:
    """Validate a Bundle as R4B without its entries' resources (each is validated on its own,
    so an error names its entry). Raises InvalidResource naming the field."""
    envelope = {
        **bundle,
        "entry": [{k: v for k, v in raw.items() if k != "resource"} for raw in raw_entries],
    }
    try:
        Bundle.model_validate(envelope)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidResource(first["msg"], expression=fhir_path("Bundle", first["loc"])) from error
