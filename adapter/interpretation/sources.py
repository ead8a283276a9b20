"""The guideline passages the rules cite, and the sentences a conclusion must carry.

Comment texts paraphrase the guideline's intent (her2-reference.md 3.3, 3.4, 2.3, 7); the words
signed in a laboratory's reports must be approved by its pathologists.
"""

from __future__ import annotations

from typing import Final

from adapter.interpretation.decision import Citation, Comment, Guideline

_2018 = Guideline.ASCO_CAP_2018
_2016 = Guideline.CAP_ASCP_ASCO_2016

FIG1_IHC: Final = Citation(_2018, "Figure 1 (IHC)")
FIG2_SINGLE_PROBE: Final = Citation(_2018, "Figure 2 (single-probe ISH)")
FIG3_GROUPS: Final = Citation(_2018, "Figure 3 (dual-probe ISH groups 1-5)")
FIG4_GROUP2: Final = Citation(_2018, "Figure 4 (group 2 work-up)")
FIG5_GROUP3: Final = Citation(_2018, "Figure 5 (group 3 work-up)")
FIG6_GROUP4: Final = Citation(_2018, "Figure 6 (group 4 work-up)")
FIGS4_6_WORKUP: Final = Citation(_2018, "Figures 4-6 (work-up of groups 2-4)")
AFFIRMED_2023: Final = Citation(Guideline.ASCO_CAP_2023, "HER2-low reporting comment")
GASTRIC_2016: Final = Citation(_2016, "IHC (ToGA scoring) and ISH ratio >= 2.0")
TUMOUR_AGNOSTIC: Final = Citation(Guideline.FDA_2024_TUMOUR_AGNOSTIC, "IHC 3+ solid tumours")
ULTRALOW_2025: Final = Citation(Guideline.FDA_2025_ULTRALOW, "HR+ metastatic, after endocrine")
PRECEDENCE: Final = Citation(Guideline.CONTRACT, "1.3 (several values of one measure)")
BOUNDS: Final = Citation(Guideline.CONTRACT, "1.2 (bounded numbers)")
FAILED_TESTS: Final = Citation(Guideline.CONTRACT, "2.1 (a failed test counts as absent)")
SITE_RULES: Final = Citation(Guideline.CONTRACT, "1.4 (tumour site)")
NOTHING_USABLE: Final = Citation(Guideline.CONTRACT, "1.2 (equivocal ISH counts as not given)")
REPORTED_STATUS: Final = Citation(Guideline.CONTRACT, "2.6 (a status reported earlier)")
COMPUTED_RATIO: Final = Citation(Guideline.CONTRACT, "1.2 (computed ratio)")
INCONSISTENT_RATIO: Final = Citation(
    Guideline.CONTRACT, "1.2 (a ratio that contradicts its own averages)"
)

GROUP_COMMENTS: Final = {
    2: Comment(
        "group-2",
        "ISH group 2 (ASCO/CAP 2018): evidence of benefit from HER2-targeted therapy is limited "
        "for a HER2/CEP17 ratio of 2.0 or more with an average HER2 copy number below 4.0 "
        "signals per cell; in the first adjuvant trastuzumab trials this small subgroup showed no "
        "clear benefit, though it was too small to be certain. Without concurrent IHC 3+ the "
        "tumour is considered HER2-negative (low copy number, no protein overexpression).",
        FIG4_GROUP2,
    ),
    3: Comment(
        "group-3",
        "ISH group 3 (ASCO/CAP 2018): there are no data on the benefit of HER2-targeted therapy "
        "for a HER2/CEP17 ratio below 2.0 with an average HER2 copy number of 6.0 or more "
        "without protein overexpression, as such patients could not enter the first adjuvant "
        "trials. With IHC 0 or 1+ the specimen is considered HER2-negative.",
        FIG5_GROUP3,
    ),
    4: Comment(
        "group-4",
        "ISH group 4 (ASCO/CAP 2018): benefit of HER2-targeted therapy is uncertain for an "
        "average HER2 copy number of 4.0 to below 6.0 with a HER2/CEP17 ratio below 2.0 and no "
        "protein overexpression; results near the ratio threshold are more likely to change on "
        "repeat testing by chance. Without concurrent IHC 3+ the tumour is considered "
        "HER2-negative, without retesting the same specimen.",
        FIG6_GROUP4,
    ),
}

HER2_LOW_2023: Final = Comment(
    "her2-low-2023",
    "HER2-low (IHC 1+, or IHC 2+ with negative ISH): the patient may be eligible for treatment "
    "targeting low HER2 expression with a HER2-directed antibody-drug conjugate "
    "(ASCO/CAP 2023).",
    AFFIRMED_2023,
)
ULTRALOW_NOTE: Final = Comment(
    "her2-ultralow-2025",
    "HER2-ultralow (IHC 0 with faint, incomplete membrane staining in 10% of tumour cells or "
    "fewer): in hormone-receptor-positive metastatic disease that progressed after endocrine "
    "therapy, HER2-ultralow may also qualify for trastuzumab deruxtecan (US FDA, January 2025).",
    ULTRALOW_2025,
)
SCORE_NEEDED: Final = Comment(
    "ihc-score-needed",
    "No IHC score (0, 1+, 2+) is available: an IHC score is needed to judge eligibility for "
    "treatment targeting low HER2 expression.",
    AFFIRMED_2023,
)
OESOPHAGEAL_ADENOCARCINOMA: Final = Comment(
    "oesophageal-adenocarcinoma",
    "Oesophageal rules assume adenocarcinoma; oesophageal squamous cell carcinoma has no "
    "HER2-directed indication.",
    GASTRIC_2016,
)
OTHER_SITE_PRACTICE: Final = Comment(
    "tumour-agnostic-practice",
    "Tumour site other than breast or the upper gastrointestinal tract: interpreted with the "
    "gastric criteria (CAP/ASCP/ASCO 2016) following tumour-agnostic practice; site-specific "
    "criteria (such as colorectal HERACLES) were not applied.",
    TUMOUR_AGNOSTIC,
)
TUMOUR_AGNOSTIC_RESTS_ON_IHC3: Final = Comment(
    "tumour-agnostic-ihc-3",
    "Tumour-agnostic HER2-directed treatment (trastuzumab deruxtecan, US FDA 2024) rests on "
    "IHC 3+; this result is positive by ISH without IHC 3+.",
    TUMOUR_AGNOSTIC,
)
ISH_EQUIVOCAL_NOT_USED: Final = Comment(
    "ish-equivocal-not-used",
    "An ISH result reported as 'equivocal' was not used: ASCO/CAP 2018 abolished the equivocal "
    "ISH category, so it counts as ISH not given.",
    FIG3_GROUPS,
)
DISCORDANT: Final = Comment(
    "ish-ihc-discordant",
    "IHC and ISH are discordant (possible heterogeneity, counting outside the stained area or a "
    "pre-analytic fault); the status follows the guideline table, review is recommended.",
    FIG1_IHC,
)
COPY_NUMBER_REVIEW: Final = Comment(
    "copy-number-review",
    "Average HER2 copy number of 6.0 or more with a ratio below 2.0: negative by the ratio "
    "rule, but the high copy number is worth review.",
    GASTRIC_2016,
)
QUALITATIVE_ISH: Final = Comment(
    "ish-qualitative",
    "ISH was reported only as positive or negative, without numbers: it is read as group 1 or "
    "group 5, but no group is assigned and no group comment can be given; a laboratory's call "
    "may already include a work-up, and an older call may rest on pre-2018 cut-offs.",
    FIG3_GROUPS,
)


def failed_test_note(test: str) -> Comment:
    """The sentence naming a failed test (contract 2.1: the report names the failed one)."""
    return Comment(
        f"failed-{test.lower()}",
        f"The {test} test failed (not assessable) and counts as not done; the remaining "
        "results decide.",
        FAILED_TESTS,
    )
