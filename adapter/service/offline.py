"""`her2-adapter interpret`: every case of a message settled from nothing, in-process.

The same steps as the worker (`arrivals` -> `settle`), with no stored state and no I/O: the
command line reads files and prints what this returns. A FHIR message gives its cases' status
Observation, DiagnosticReport and Provenance; an HL7 v2 message also the case's Specimen and
input Observations, and its withdrawals of earlier results: what the write-back would hold
(hl7v2-contract.md 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from adapter.errors import BadInput, NoHer2Result
from adapter.fhir.validation import message_entries
from adapter.hl7v2.errors import SEGMENT_SEQUENCE_ERROR, V2BadMessage
from adapter.hl7v2.message import V2Reading, read_raw
from adapter.hl7v2.parse import split_messages
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings
from adapter.service.arrivals import Arrival, arrival_of, v2_entries
from adapter.service.case_state import StoredCase
from adapter.service.settle import InterpretedCase, settle

JsonDict = dict[str, Any]
NO_HER2: Final = "no HER2 result; nothing interpreted"


@dataclass(frozen=True, slots=True)
class InterpretedMessage:
    """Every case of one message, in the order the message gave them, and its warnings."""

    cases: tuple[InterpretedCase, ...]
    resources: tuple[JsonDict, ...]  # what the write-back would hold, case by case
    warnings: tuple[str, ...] = ()  # e.g. a case with only a reported status was skipped


def interpret_message(
    resource: JsonDict, mappings: Mappings, *, site: SiteGroup | None = None, recorded: datetime
) -> InterpretedMessage:
    """Read `resource` (an Observation or a Bundle), interpret each case, build its outputs.

    `site` overrides the tumour site the message names (`--site`); `recorded` is the time of
    the run, stamped on the Provenance and the report. Raises a `BadInput` subclass when the
    message cannot be accepted; then nothing of it is interpreted (contract 5).
    """
    entries, warnings = message_entries(resource, mappings)
    arrival = arrival_of(entries, mappings, site=site, case_of=_no_case, warnings=warnings)
    if not arrival.cases:  # only withdrawals: no HER2 result of its own (contract 5)
        raise NoHer2Result("the message holds no HER2 IHC or ISH result")
    return _settled(arrival, mappings, recorded)


@dataclass(frozen=True, slots=True)
class V2MessageResult:
    """One message of a file: its number (from 1), what it gave, or the error."""

    number: int
    message: InterpretedMessage | None = None
    warnings: tuple[str, ...] = ()
    error: BadInput | None = None
    internal_error: str | None = None  # the type of an unexpected exception (a bug of ours)

    @property
    def cases(self) -> tuple[InterpretedCase, ...]:
        return self.message.cases if self.message else ()

    @property
    def resources(self) -> tuple[JsonDict, ...]:
        return self.message.resources if self.message else ()


def interpret_reading(
    reading: V2Reading, mappings: Mappings, *, site: SiteGroup | None, recorded: datetime
) -> V2MessageResult:
    """Interpret one read v2 message; its number is left to the caller. Raises BadInput
    (located at the OBX) where the interpretation rejects a value."""
    if not reading.has_her2 and not reading.withdraws:
        return V2MessageResult(0, warnings=(*reading.warnings, NO_HER2))
    entries, warnings = v2_entries(reading, mappings)
    try:
        arrival = arrival_of(
            entries, mappings, site=site, case_of=_no_case, v2=reading, warnings=warnings
        )
    except BadInput as error:
        raise reading.locate(error) from error
    message = _settled(arrival, mappings, recorded)
    return V2MessageResult(0, message, message.warnings)


def interpret_v2_file(
    data: bytes, mappings: Mappings, *, site: SiteGroup | None, recorded: datetime
) -> list[V2MessageResult]:
    """Every message of a file (MLLP framing ignored), in order; a bad one does not stop the
    others. A file with no MSH at all is one bad message."""
    raws = split_messages(data)
    if not raws:
        error = V2BadMessage("no MSH segment: not an HL7 v2 message", code=SEGMENT_SEQUENCE_ERROR)
        return [V2MessageResult(1, error=error)]
    results: list[V2MessageResult] = []
    for raw in raws:
        try:
            result = interpret_reading(
                read_raw(raw, mappings), mappings, site=site, recorded=recorded
            )
        except BadInput as error:
            results.append(V2MessageResult(raw.number, error=error))
            continue
        except Exception as error:  # a bug costs this message, never the messages after it
            results.append(V2MessageResult(raw.number, internal_error=type(error).__name__))
            continue
        results.append(V2MessageResult(raw.number, result.message, result.warnings))
    return results


def _settled(arrival: Arrival, mappings: Mappings, recorded: datetime) -> InterpretedMessage:
    settled = [
        settle(
            StoredCase.new(case.key),
            case,
            mappings,
            site=arrival.site,
            recorded=recorded,
            v2=arrival.v2,
        )
        for case in arrival.cases
    ]
    # A v2 withdrawal of a result no case of this message holds must still reach the server.
    withdrawn = tuple(resource for resource, _ in arrival.withdrawn) if arrival.v2 else ()
    return InterpretedMessage(
        tuple(s.interpreted for s in settled if s.interpreted is not None),
        (*(resource for s in settled for resource in s.write), *withdrawn),
        arrival.warnings,
    )


def _no_case(_: str) -> None:
    """Offline nothing is stored: no earlier case holds any input."""
    return
