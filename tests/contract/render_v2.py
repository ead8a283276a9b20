"""Cases as HL7 v2 ORU^R01 messages (hl7v2-contract.md 2-3), the same facts `render_fhir`
spells as FHIR.

Per message: MSH (versions 2.3-2.8, both MSH-9 forms, P/T/D), one PID; per case one order for
IHC and ISH, or an IHC order and an ISH order, keyed by the accession ACC{n} in SPM-2 (any of
its spellings, OBX before or after the SPM), OBR-3 or OBR-2; the organ in SPM-8, SPM-4 or
OBR-15, by SNOMED CT code or text, beside a generic specimen kind or not. OBX-11 carries each
report's status; a withdrawn report is X/D/W, alone or after the result it withdraws; OBX-14
its time. Every OBX identity (specimen, OBX-3, OBX-4) is unique, so nothing replaces anything
but a withdrawal.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from tests.contract.grammar import Chooser
from tests.contract.model import ORGANS, Case, Measure, Report, Status
from tests.contract.rendered import Rendered
from tests.contract.v2_patterns import Obx, obx_lines
from tests.contract.v2_values import LOINC_SYSTEMS, coded

VERSIONS: Final = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.5.1", "2.6", "2.7", "2.8")
RESULT_STATUS: Final = {
    Status.FINAL: ("F", "F", ""),
    Status.PRELIMINARY: ("P", "R", "S"),
    Status.AMENDED: ("A",),
    Status.CORRECTED: ("C",),
}
WITHDRAWN: Final = ("X", "D", "W")
GENERIC_KIND: Final = "TISS^Tissue^HL70487"
ISH_ORDERS: Final = (
    "HER2^HER2 FISH",
    "HER2 ISH^HER2 by dual-probe ISH^L",
    "88377^HER2 CISH (HER2)",
)
IHC_ORDERS: Final = ("HER2^HER2 IHC", "88342^HER2 immunohistochemistry^L")


def _organ(c: Chooser, organ: str, sub: str) -> str:
    entry = ORGANS[organ]
    text = c.pick(entry.texts)
    if c.chance(60):
        return sub.join((entry.snomed, text, "SCT"))
    return sub + text


class CaseSegments:
    """The OBR, SPM and OBX segments of one case."""

    def __init__(self, c: Chooser, n: int, case: Case, version: str, first_set_id: int) -> None:
        self.c, self.n, self.case = c, n, case
        self.spm = version >= "2.5"
        self.orders: list[list[str]] = []  # each order's OBR, SPM and OBX
        self.sent: Counter[str] = Counter()
        self.set_id = first_set_id
        self.single_probe = {r.measure for r in case.reports if r.live} & {
            Measure.RATIO,
            Measure.CEP17,
        } == set()

    def write(self) -> None:
        ihc = [r for r in self.case.reports if r.measure is Measure.IHC]
        ish = [r for r in self.case.reports if r.measure is not Measure.IHC]
        if ihc and ish and self.c.chance(50):
            orders = [(self.c.pick(IHC_ORDERS), ihc, False), (self.c.pick(ISH_ORDERS), ish, True)]
        else:
            orders = [("HER2^HER2 IHC and FISH", list(self.case.reports), True)]
        site = self._site()
        for k, (code, reports, ish_order) in enumerate(orders, start=1):
            self._order(k, code, reports, ish_order, site)

    def _site(self) -> tuple[str, str, str]:
        """(SPM-4, SPM-8, OBR-15) naming the organ, or a generic kind, or nothing."""
        organ = self.case.organ
        kind = GENERIC_KIND if self.c.chance(50) else ""
        if organ is None:
            return (kind, "", "")
        place = self.c.pick(("SPM-8", "SPM-4", "OBR-15")) if self.spm else "OBR-15"
        if place == "SPM-8":
            return (kind, _organ(self.c, organ, "^"), "")
        if place == "SPM-4":
            return (_organ(self.c, organ, "^"), "", "")
        return (kind if self.spm else "", "", _organ(self.c, organ, "&"))

    def _order(
        self, k: int, code: str, reports: list[Report], ish_order: bool, site: tuple[str, str, str]
    ) -> None:
        accession = f"ACC{self.n}"
        with_spm = self.spm and (self.c.chance(60) or bool(site[0] or site[1]))
        filler = accession if not with_spm or self.c.chance(50) else f"ORD{self.n}-{k}"
        placer = f"PL{self.n}-{k}"
        if not with_spm and self.c.chance(20):
            placer, filler = accession, ""  # no OBR-3: OBR-2 names the specimen
        obr = ["OBR", str(k), placer, filler and f"{filler}^LAB", code] + [""] * 10 + [site[2]]
        spm = ""
        if with_spm:
            spm2 = self.c.pick((f"^{accession}", f"PL{self.n}^{accession}", f"^{accession}&LAB"))
            spm = "|".join(["SPM", "1", spm2, "", site[0], "", "", "", site[1]])
        obx = self._obx(k, reports, ish_order)
        before = with_spm and self.c.chance(30)  # OBX before the order's SPM take that SPM
        body = [*obx, spm] if before else [spm, *obx] if spm else obx
        self.orders.append(["|".join(obr), *body])

    def _obx(self, k: int, reports: list[Report], ish_order: bool) -> list[str]:
        lines: list[list[str]] = []
        later: list[list[str]] = []
        for i, report in enumerate(reports):
            sub = f"{k}.{i + 1}"
            obx = obx_lines(self.c, report, ish_order=ish_order, single_probe=self.single_probe)
            status = self.c.pick(RESULT_STATUS[report.status])
            when = report.time.strftime("%Y%m%d%H%M%S%z") if report.time else ""
            if report.withdrawn and self.c.chance(50):  # the result, then its withdrawal
                later += [self._line(o, sub, self.c.pick(WITHDRAWN), when, empty=True) for o in obx]
            elif report.withdrawn:
                status = self.c.pick(WITHDRAWN)
            lines += [self._line(o, sub, status, when) for o in obx]
            if report.live:  # a test not done has no value to account for
                counted = sum(o.counted for o in obx)
                self.sent["ihc" if report.measure is Measure.IHC else "ish"] += counted
        if self.case.reported_status and k == 1:
            kind, value = coded(self.c, self.case.reported_status, ish=False)
            system = self.c.pick(LOINC_SYSTEMS)
            lines.append(
                self._line(Obx(kind, f"48676-1^HER2 status^{system}", value), "9", "F", "")
            )
        numbered = []
        for fields in lines + later:  # OBX-1 in the order sent
            self.set_id += 1
            numbered.append("|".join(["OBX", str(self.set_id), *fields]))
        return numbered

    def _line(
        self, obx: Obx, sub: str, status: str, when: str, *, empty: bool = False
    ) -> list[str]:
        """OBX-2 onwards; a withdrawal may leave OBX-5 empty, as real feeds do."""
        value = "" if empty and self.c.chance(50) else obx.value
        return [obx.kind, obx.code, sub, value, "", "", "", "", "", status, "", "", when]


def render_v2(
    c: Chooser, cases: list[tuple[int, Case]], control_id: str, *, split: bool = False
) -> Rendered:
    """`cases` in one ORU^R01 message, or (`split`) one message per order, as a laboratory
    sends IHC and ISH on different days. Raises NotExpressible for a fact v2 cannot say."""
    version = c.pick(VERSIONS)
    msh9 = c.pick(("ORU^R01", "ORU^R01^ORU_R01"))
    charset = c.pick(("", "", "UNICODE UTF-8", "8859/1"))
    separator = c.pick(("\r", "\n", "\r\n"))
    rendered = Rendered([])
    bodies: list[list[str]] = []
    set_id = 0
    for n, case in cases:
        writer = CaseSegments(c, n, case, version, set_id)
        writer.write()
        set_id = writer.set_id
        bodies += writer.orders
        rendered.keys[f"ACC{n}"] = n
        rendered.sent[n] = writer.sent
    if not split:
        bodies = [[segment for body in bodies for segment in body]]
    for i, body in enumerate(bodies):
        msh = [
            "MSH", "^~\\&", "SYNTH_LIS", "LAB_A", "EHR", "HOSP",
            c.pick(("20250306100000", "20250306100000+0100")), "", msh9, f"{control_id}-{i}",
            c.pick(("P", "P", "T", "D")), version,
        ]  # fmt: skip
        if charset:
            msh += ["", "", "", "", "", charset]
        segments = ["|".join(msh), f"PID|1||MRN{cases[0][0]}^^^HOSP^MR", *body]
        rendered.message.append(separator.join(segments) + (separator if c.chance(70) else ""))
    return rendered
