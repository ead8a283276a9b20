"""`her2-adapter interpret --hl7v2`: a file of v2 messages -> one result per message.

Each message is read (`read_v2_message`); the entries its read validated are interpreted by
`interpret_entries`, the FHIR door's path after validation. Its output is what the write-back
would hold (contract 5): per case the status Observation, DiagnosticReport and Provenance
(naming the message by MSH-10), then the case's Specimen and input Observations. No I/O here:
the command line reads files and prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from adapter.errors import BadInput, NoHer2Result
from adapter.hl7v2.errors import SEGMENT_SEQUENCE_ERROR, V2BadMessage
from adapter.hl7v2.parse import split_messages
from adapter.hl7v2.reading import V2Reading, read_raw
from adapter.hl7v2.to_fhir import V2_URN
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings
from adapter.pipeline import InterpretedCase, interpret_entries

Json = dict[str, Any]
NO_HER2: Final = "no HER2 result; nothing interpreted"


@dataclass(frozen=True, slots=True)
class V2MessageResult:
    """One message of a file: its number (from 1), output resources, or the error."""

    number: int
    resources: tuple[Json, ...] = ()
    cases: tuple[InterpretedCase, ...] = ()
    warnings: tuple[str, ...] = ()
    error: BadInput | None = None
    internal_error: str | None = None  # the type of an unexpected exception (a bug of ours)


def message_entity(reading: V2Reading) -> Json:
    """The Provenance entity naming the v2 message by MSH-10 within its sending facility."""
    header = reading.header
    system = f"{V2_URN}:message:{quote(header.facility, safe='')}"
    return {
        "role": "source",
        "what": {
            "identifier": {"system": system, "value": header.control_id},
            "display": "HL7 v2 ORU^R01 message",
        },
    }


def interpret_reading(
    reading: V2Reading, mappings: Mappings, *, site: SiteGroup | None, recorded: datetime
) -> V2MessageResult:
    """Interpret one read message; its number is left to the caller. Raises BadInput
    (located at the OBX) where the interpretation rejects a value."""
    if not reading.has_her2 or reading.entries is None:
        return V2MessageResult(0, warnings=(*reading.warnings, NO_HER2))
    try:
        message = interpret_entries(
            reading.entries,
            mappings,
            site=site,
            recorded=recorded,
            provenance_entities=[message_entity(reading)],
            warnings=reading.entry_warnings,
        )
    except NoHer2Result:
        return V2MessageResult(0, warnings=(*reading.warnings, NO_HER2))
    except BadInput as error:
        raise reading.locate(error) from error
    inputs = {e["fullUrl"]: e["resource"] for e in reading.bundle["entry"]}
    resources: list[Json] = []
    used: set[str] = set()
    for case in message.cases:
        resources.extend(case.resources)
        specimen = (case.case.specimen or {}).get("reference")
        for url in (specimen, *case.case.inputs):
            if isinstance(url, str) and url in inputs and url not in used:
                used.add(url)
                resources.append(inputs[url])
    # Withdrawn results (entered-in-error) belong to no case but must reach the server.
    resources += [r for url, r in inputs.items() if url not in used]
    return V2MessageResult(0, tuple(resources), message.cases, message.warnings)


def interpret_v2_file(
    data: bytes, mappings: Mappings, *, site: SiteGroup | None, recorded: datetime
) -> list[V2MessageResult]:
    """Every message of a file (MLLP framing ignored), in order; a bad one does not stop the
    others. A file with no MSH at all is one bad message."""
    raws = split_messages(data)
    if not raws:
        return [
            V2MessageResult(
                1,
                error=V2BadMessage(
                    "no MSH segment: not an HL7 v2 message", code=SEGMENT_SEQUENCE_ERROR
                ),
            )
        ]
    results: list[V2MessageResult] = []
    for raw in raws:
        try:
            reading = read_raw(raw, mappings)
            result = interpret_reading(reading, mappings, site=site, recorded=recorded)
        except BadInput as error:
            results.append(V2MessageResult(raw.number, error=error))
            continue
        except Exception as error:  # a bug costs this message, never the messages after it
            results.append(V2MessageResult(raw.number, internal_error=type(error).__name__))
            continue
        results.append(V2MessageResult(raw.number, result.resources, result.cases, result.warnings))
    return results
