"""HL7 v2 traps: a good ORU^R01 with one HER2 OBX-5 made into something that is not a value.
Each definite one is a bad message naming `OBX[k]-5` (`OBX^k^5` in the ACK's ERR segment);
where the contract lets either answer stand, every door must answer alike."""

from __future__ import annotations

from tests.contract.traps import Trap

IHC, RATIO = 1, 2  # OBX set ids of the base message
# (OBX, OBX-2, OBX-5, definite)
VALUES = (
    (RATIO, "NM", "NaN", True),
    (RATIO, "NM", "Infinity", True),
    (RATIO, "NM", "inf", True),
    (RATIO, "NM", "1e400", True),
    (RATIO, "NM", "-1.5", True),
    (RATIO, "NM", "abc", True),
    (RATIO, "NM", "2.3.4", True),
    (RATIO, "NM", "2.3~2.4", True),  # a repeated OBX-5
    (RATIO, "SN", "<>^2.0", True),
    (RATIO, "SN", "^2.0^-^3.0", True),  # a range is no number
    (RATIO, "SN", "=^", True),
    (RATIO, "SN", "^abc", True),
    (RATIO, "SN", ">^", True),
    (RATIO, "ST", "greater than", True),
    (RATIO, "ST", "2.3~2.4", True),
    (RATIO, "NM", "-0", False),
    (RATIO, "NM", "1e-400", False),
    (RATIO, "NM", " 2.3 ", False),
    (RATIO, "ST", "2.3 ratio", False),
    (RATIO, "ST", "2,3", False),
    (IHC, "ST", "4+", True),
    (IHC, "ST", "1+ to 2+", True),
    (IHC, "NM", "4+", True),
    (IHC, "CWE", "LA11840-8^Mixed^LN", True),
    (IHC, "CWE", "^5+", True),
    (IHC, "CWE", "LA11842-4^2+^LN~LA11843-2^3+^LN", True),
)


def base(n: int, ihc: tuple[str, str], ratio: tuple[str, str]) -> str:
    return "\r".join(
        (
            f"MSH|^~\\&|SYNTH_LIS|LAB_T|EHR|HOSP|20250306100000||ORU^R01|T{n}|P|2.5.1",
            f"PID|1||MRNT{n}^^^HOSP^MR",
            f"OBR|1|PLT{n}|ACCT{n}^LAB|HER2^HER2 IHC and FISH",
            f"OBX|{IHC}|{ihc[0]}|85319-2^HER2 IHC^LN|1|{ihc[1]}||||||F",
            f"OBX|{RATIO}|{ratio[0]}|49683-6^Ratio^LN|2|{ratio[1]}||||||F",
            "OBX|3|SN|74860-8^Average HER2^LN|3|^5.1||||||F",
        )
    )


def v2_traps(n: int) -> list[Trap]:
    traps = []
    good_ihc, good_ratio = ("CWE", "LA11842-4^2+^LN"), ("NM", "2.3")
    for i, (obx, kind, value, definite) in enumerate(VALUES):
        ihc = (kind, value) if obx == IHC else good_ihc
        ratio = (kind, value) if obx == RATIO else good_ratio
        message = base(n * 100 + i, ihc, ratio)
        where = (f"OBX[{obx}]-5", f"OBX^{obx}^5")
        traps.append(Trap(f"OBX {obx} {kind} {value!r}", message, where, definite))
    return traps
