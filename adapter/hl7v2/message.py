"""The entry point of the v2 door: one message -> a `V2Reading` ready for `interpret_message`.

`read_v2_message` parses the message, checks MSH, finds the HER2 OBX, builds the collection
Bundle (Specimens, then input Observations) and dry-runs the FHIR reader on it, so the listener
can answer AA / AE / AR before anything is queued. The dry run applies the value rules only:
the generated resources are validated as R4B once, in the Bundle that prints or writes them.
Errors of the FHIR reader (located at `Bundle.entry[i].resource`) are translated back to the
OBX they came from (`OBX[4]-5`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from adapter.errors import BadInput, NoHer2Result
from adapter.fhir.findings import read_entries
from adapter.fhir.validation import Entry, message_entries
from adapter.hl7v2.codes import V2Codes
from adapter.hl7v2.errors import (
    DATA_TYPE_ERROR,
    TABLE_VALUE_NOT_FOUND,
    V2BadMessage,
    V2BadValue,
    V2Location,
)
from adapter.hl7v2.header import MessageHeader, check_accepted, read_header
from adapter.hl7v2.obx import CODED_TYPES, WITHDRAWN, Her2Obx, her2_results
from adapter.hl7v2.orders import place_observations
from adapter.hl7v2.parse import (
    ParsedMessage,
    RawMessage,
    check_decoded,
    decode_message,
    split_messages,
)
from adapter.hl7v2.to_fhir import (
    input_observation,
    laboratory_reference,
    specimen_resource,
    subject_reference,
    v2_id,
    zone_of,
)
from adapter.mappings import Mappings

Json = dict[str, Any]
REPLACING: Final = frozenset({"corrected", "amended", WITHDRAWN})
_ENTRY: Final = re.compile(r"^Bundle\.entry\[(?P<index>\d+)\]")


@dataclass(frozen=True, slots=True)
class V2Reading:
    """One v2 message read: what the ACK needs and what the interpretation reads."""

    header: MessageHeader
    bundle: Json  # collection Bundle: Specimens, then input Observations
    case_keys: tuple[str, ...]  # specimen keys `<facility>|<value>` of the HER2 results
    has_her2: bool  # an IHC or ISH result the FHIR reader reads (not only a reported status)
    warnings: tuple[str, ...] = ()
    sources: Mapping[int, tuple[V2Location, str]] = field(default_factory=dict)  # entry -> OBX
    patterns: tuple[str, ...] = ()  # coding pattern of each HER2 result read: loinc, cap, label
    charset: str = "utf-8"  # the Python codec the message's bytes were decoded with (MSH-18)
    # The entries of `bundle` as the dry run read them (None when it had nothing to read):
    # whoever interprets the reading reads these, never checks the Bundle again.
    entries: tuple[Entry, ...] | None = None
    entry_warnings: tuple[str, ...] = ()
    withdraws: bool = False  # it withdraws (X / D / W) a HER2 result: its case is re-issued

    def locate(self, error: BadInput) -> BadInput:
        """A FHIR reader error on the generated Bundle as a V2BadValue at its OBX."""
        if isinstance(error, V2BadValue | V2BadMessage):
            return error
        match = _ENTRY.match(error.within or "")
        source = self.sources.get(int(match["index"])) if match else None
        if source is None:  # not tied to one OBX: the first HER2 result stands for the message
            source = next(iter(self.sources.values()), (V2Location("OBX", 1, 5), ""))
        location, value_type = source
        if ".code" in (error.expression or ""):
            location = V2Location(location.segment, location.index, 3)
        code = TABLE_VALUE_NOT_FOUND if value_type in CODED_TYPES else DATA_TYPE_ERROR
        located = V2BadValue(error.message, location, code)
        located.__cause__ = error
        return located


def read_v2_message(message: str | bytes, mappings: Mappings) -> V2Reading:
    """Read one HL7 v2 message (bytes are decoded by MSH-18; MLLP framing is ignored).

    Raises `V2BadMessage` (answer AR) for what is not an ORU^R01 the adapter takes, and
    `V2BadValue` (answer AE) for a HER2 value that cannot be read, a repeated OBX-5 of a HER2
    result or undecodable bytes. A good message without HER2 result gives `has_her2` False.
    """
    # Text is already decoded: it is read as UTF-8 whatever MSH-18 says.
    data = message.encode("utf-8") if isinstance(message, str) else message
    charset = "utf-8" if isinstance(message, str) else None
    raws = split_messages(data)
    if not raws:
        raise V2BadMessage("no MSH segment: not an HL7 v2 message", code="100")
    if len(raws) > 1 and not raws[0].before_first_msh:
        raise V2BadMessage("more than one MSH: one message at a time", V2Location("MSH", 2), "100")
    return read_parsed(decode_message(raws[0], charset=charset), mappings)


def read_raw(raw: RawMessage, mappings: Mappings) -> V2Reading:
    """Read one message cut from a file by `split_messages`."""
    return read_parsed(decode_message(raw), mappings)


def read_parsed(parsed: ParsedMessage, mappings: Mappings) -> V2Reading:
    """Read a parsed message. An ACK for an error names the message's MSH facts, which the
    caller reads beside it (`header.read_msh_only`): an error carries its location only."""
    header = read_header(parsed)
    check_accepted(parsed)
    check_decoded(parsed)
    return _read(parsed, header, mappings)


def _read(parsed: ParsedMessage, header: MessageHeader, mappings: Mappings) -> V2Reading:
    codes = V2Codes(mappings)
    placed = place_observations(parsed, header.facility, parsed.value(parsed.first("MSH"), 10))
    results = _latest(her2_results(parsed, placed, codes))
    subject = subject_reference(parsed, header.facility)
    performer = laboratory_reference(parsed)
    zone = zone_of(header.timestamp)
    specimens: dict[str, Json] = {}
    observations: list[tuple[Json, Her2Obx]] = []
    for observation_id, result in results:
        specimen = result.placed.specimen
        if specimen.key.key not in specimens:
            specimens[specimen.key.key] = specimen_resource(parsed, specimen, subject, codes)
        resource = input_observation(
            parsed,
            result,
            observation_id=observation_id,
            subject=subject,
            performer=performer,
            specimen_id=specimens[specimen.key.key]["id"],
            codes=codes,
            zone=zone,
        )
        observations.append((resource, result))
    resources = [*specimens.values(), *(o for o, _ in observations)]
    bundle: Json = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
    sources = {
        len(specimens) + i: (result.location, result.value_type)
        for i, (_, result) in enumerate(observations)
    }
    patterns = tuple(result.pattern for _, result in observations)
    reading = V2Reading(
        header,
        bundle,
        tuple(specimens),
        False,
        (),
        sources,
        patterns,
        parsed.charset,
        withdraws=any(result.status == WITHDRAWN for _, result in observations),
    )
    if not observations:
        return reading
    try:
        # The dry run reads the generated resources with the FHIR reader's value rules: a bad
        # value fails here, named at its OBX by `locate`. They are not validated as R4B here:
        # they are built from values the v2 rules already checked (a differential test holds
        # every resource of an accepted message valid), and the Bundle that writes them is.
        entries, entry_warnings = message_entries(bundle, mappings, validate=False)
        reading = replace(reading, entries=entries, entry_warnings=entry_warnings)
        checked = read_entries(entries, mappings, warnings=entry_warnings)
    except NoHer2Result:
        return reading
    except BadInput as error:
        raise reading.locate(error) from error
    return replace(reading, has_her2=True, warnings=checked.warnings)


def _latest(results: list[Her2Obx]) -> list[tuple[str, Her2Obx]]:
    """(Observation id, result): C / A / X / D / W replace the earlier result of their identity
    (specimen + OBX-3 + OBX-4); other repeats of an identity are kept as further results."""
    kept: dict[str, Her2Obx] = {}
    for result in results:
        key = v2_id(
            "Observation",
            result.placed.specimen.key.facility,
            result.placed.specimen.key.value,
            result.identity,
        )
        if key in kept and result.status not in REPLACING:
            n = 2
            while v2_id(key, str(n)) in kept:
                n += 1
            key = v2_id(key, str(n))
        kept[key] = result
    return list(kept.items())
