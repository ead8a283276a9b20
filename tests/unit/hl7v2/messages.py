"""Synthetic HL7 v2 messages for the tests (all SYNTHETIC: no public v2 message carries ISH).

Plain functions (STYLE.md R19): `oru(...)` joins segments under an MSH, a PID and an OBR.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from adapter.hl7v2.message import read_v2_message
from adapter.mappings import Mappings
from adapter.service.offline import V2MessageResult, interpret_reading

SAMPLES: Final = Path(__file__).resolve().parents[3] / ".." / "shared" / "hl7v2-samples"

MSH: Final = "MSH|^~\\&|LIS|SYNTH_LAB|EHR|HOSP|20250301120000+0100||ORU^R01^ORU_R01|MSG0001|P|2.5.1"
PID: Final = "PID|1||SSN1^^^USSSA^SS~MRN42^^^HOSP&1.2.3.4&ISO^MR||SYNTHETIC^PATIENT"
OBR: Final = "OBR|1|PL-1|ACC-1|HER2^HER2 IHC and ISH panel|||20250228"
SPM_BREAST: Final = "SPM|1|^SPEC-1||TISS^Tissue^HL70487||||76752008^Breast structure^SCT"


def oru(*segments: str, msh: str = MSH, pid: str = PID, obr: str | None = OBR) -> str:
    """One ORU^R01 with CR separators; `obr=None` leaves the OBR out."""
    head = [msh, pid] + ([obr] if obr else [])
    return "\r".join([*head, *segments]) + "\r"


def ihc_loinc(score: str, n: int = 1, status: str = "F", kind: str = "ST") -> str:
    return f"OBX|{n}|{kind}|85319-2^HER2 IHC^LN||{score}||||||{status}"


def ish_loinc(ratio: str, her2: str, cep17: str, first: int = 2) -> list[str]:
    """Synthetic dual-probe ISH numbers as NM OBX with LOINC codes."""
    return [
        f"OBX|{first}|NM|49683-6^HER2/CEP17 ratio^LN||{ratio}||||||F",
        f"OBX|{first + 1}|NM|74860-8^HER2 signals per cell^LN||{her2}||||||F",
        f"OBX|{first + 2}|NM|74861-6^CEP17 signals per cell^LN||{cep17}||||||F",
    ]


RECORDED: Final = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def interpret_v2(message: str | bytes, mappings: Mappings) -> V2MessageResult:
    """Read and interpret one message, as the offline form does."""
    return interpret_reading(
        read_v2_message(message, mappings), mappings, site=None, recorded=RECORDED
    )


def statuses(result: V2MessageResult) -> list[str]:
    """One line per case: status, next step, category, flags (what a pathologist checks)."""
    lines = []
    for case in result.cases:
        i = case.interpretation
        step = f" ({i.next_step.value})" if i.next_step else ""
        category = f" {i.category.value}" if i.category else ""
        lines.append(f"{i.status.value}{step}{category}")
    return lines
