"""What the HTTP door admits: a message is parsed, bounded and dry-run read before it is queued.

A full message (an Observation, or a Bundle holding its resources) is read exactly as the worker
will read it (`read_message`), so bad input is refused synchronously with the field that is
wrong and never reaches the queue. A message that names its results instead of carrying them
(a references-only Bundle, an R4B subscription-notification naming resources) is checked for
structure only; the worker fetches the named resources and reads them.

No I/O here: the caller has read the body (within MAX_BODY_BYTES) and queues the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from adapter.errors import InvalidResource, MessageTooLarge, NoHer2Result, UnreadableMessage
from adapter.fhir.findings import read_message
from adapter.fhir.json_input import parse_json
from adapter.fhir.observations import is_her2_withdrawal
from adapter.fhir.references import as_readable_message, references_to_fetch
from adapter.fhir.validation import (
    BUNDLE_TYPES,
    Entry,
    bundle_type,
    message_entries,
    validate_envelope,
    validate_resource,
)
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings

# FHIR resources nest about 10 deep; 64 leaves room for extensions and refuses pathological
# nesting before a validator recurses into it.
MAX_DEPTH: Final = 64
# A HER2 message holds a few Observations and what they point at; 10,000 entries is an attack.
MAX_ENTRIES: Final = 1000
NOTIFICATION: Final = "subscription-notification"
ACCEPTED_BUNDLE_TYPES: Final = BUNDLE_TYPES | {NOTIFICATION}


@dataclass(frozen=True, slots=True)
class Admitted:
    """A message fit to queue: its text as received and what the worker must fetch."""

    text: str
    kind: str  # "Observation" or "Bundle"
    cases: int  # cases the dry-run found; 0 when the worker must fetch the results first
    references: tuple[str, ...]


def admit(
    body: bytes, kind: str, mappings: Mappings, site: SiteGroup | None, *, can_fetch: bool
) -> Admitted:
    """Parse and check one message posted to the route for `kind` ("Observation"/"Bundle").

    `can_fetch`: a FHIR server is configured to read what a references-only message names;
    without one such a message could only be dead-lettered, so it is refused here.
    Raises UnreadableMessage (not UTF-8 / not JSON / too deep), MessageTooLarge (too many
    entries), InvalidResource (not the resource the route takes, invalid R4, references with
    nothing to fetch them from), UnreadableValue and NoHer2Result (from the dry-run read).
    """
    message = parse_json(body)
    check_shape(message)
    given = message.get("resourceType")
    if given != kind:
        other = "/fhir" if kind == "Observation" else "/fhir/Observation"
        raise InvalidResource(
            f"this route takes {'an' if kind == 'Observation' else 'a'} {kind}, not "
            f"{given if isinstance(given, str) else 'a JSON object without resourceType'}"
            + (f" (post a {given} to {other})" if given in ("Observation", "Bundle") else ""),
            expression="resourceType",
        )
    text = body.decode("utf-8").removeprefix("\ufeff")
    references = tuple(references_to_fetch(message))
    if references:
        check_reference_structure(message, mappings)
        if not can_fetch:
            raise InvalidResource(
                "the message names results to read from the FHIR server, but this adapter "
                "has none configured (FHIR_SERVER_URL): send the resources themselves",
                expression="Bundle.entry",
            )
        return Admitted(text, kind, 0, references)
    if kind == "Bundle" and bundle_type(message) not in ACCEPTED_BUNDLE_TYPES:
        raise InvalidResource(
            f"Bundle type {message.get('type')!r} is not accepted: "
            f"use one of {sorted(ACCEPTED_BUNDLE_TYPES)}",
            expression="Bundle.type",
        )
    readable = as_readable_message(message, {})
    try:
        reading = read_message(readable, mappings, site=site)
    except NoHer2Result:
        # A message that only withdraws earlier results (entered-in-error) has no case of its
        # own; the worker finds the withdrawn inputs' cases and re-issues their reports.
        entries, _ = message_entries(readable, mappings)
        if not any(is_her2_withdrawal(e.resource, mappings) for e in entries):
            raise
        return Admitted(text, kind, 0, ())
    return Admitted(text, kind, len(reading.cases), ())


def check_shape(message: dict[str, Any]) -> None:
    """Refuse nesting deeper than MAX_DEPTH and Bundles of more than MAX_ENTRIES entries."""
    entries = message.get("entry")
    if isinstance(entries, list) and len(entries) > MAX_ENTRIES:
        raise MessageTooLarge(
            f"the Bundle has {len(entries)} entries; at most {MAX_ENTRIES} are accepted"
        )
    stack: list[tuple[Any, int]] = [(message, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnreadableMessage(f"the JSON nests deeper than {MAX_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def check_reference_structure(message: dict[str, Any], mappings: Mappings) -> None:
    """A message that names resources to fetch: an accepted Bundle type, a valid R4B envelope,
    and every resource it does hold valid. Raises InvalidResource (or UnreadableValue)."""
    if bundle_type(message) not in ACCEPTED_BUNDLE_TYPES:
        raise InvalidResource(
            f"Bundle type {message.get('type')!r} is not accepted: "
            f"use one of {sorted(ACCEPTED_BUNDLE_TYPES)}",
            expression="Bundle.type",
        )
    raw_entries = message.get("entry")
    if not isinstance(raw_entries, list):  # references_to_fetch found some, so a list
        raise InvalidResource("Bundle.entry must be a list", expression="Bundle.entry")
    held: list[Entry] = []
    for index, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            raise InvalidResource(
                "a Bundle entry must be a JSON object", expression=f"Bundle.entry[{index}]"
            )
        if "resource" not in raw:
            if not references_to_fetch({"resourceType": "Bundle", "entry": [raw]}):
                raise InvalidResource(
                    "the Bundle entry holds no resource and names none to fetch "
                    "(fullUrl or request.url Observation/<id>)",
                    expression=f"Bundle.entry[{index}]",
                )
            continue
        resource = raw["resource"]
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise InvalidResource(
                "the Bundle entry holds no FHIR resource",
                expression=f"Bundle.entry[{index}].resource",
            )
        held.append(Entry(resource, index))
    validate_envelope(message, raw_entries)
    for entry in held:
        validate_resource(entry, mappings)
