"""IHC score text: one grammar for every door (adapter-contract.md 1.2; hl7v2-contract.md 3).

A text reads as an IHC score when it holds exactly one score token (`0`, `1+`, `2+`, `3+`),
optionally after "Score" or "IHC", with any words around it: "2+", "Score 2+", "IHC 3+",
"3+ (positive)", "Negative (Score 1+)", "HER2 Positive (3+)". An IHC 0 may state its sub-class in
the same text: "0 (ultralow)", "0 null", "Score 0 (ultralow)", "IHC 0 null".

A text that says more than one thing is never read as one of them, because a guess here is a
treatment decision: two score tokens ("1+ to 2+"), a score-like token that is no score ("4+"),
a sub-class beside a score other than 0 or both sub-classes, a positive / negative / equivocal
word that contradicts the score ("Positive (Score 1+)"), or a negation ("not 3+"). Such a text is
`Unclear`: the reader refuses it naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# One score token standing alone: "HER2" (R2), "12+", "0.5", "10%", "0/1+" hold none.
# "0-null" holds one ("0" then a word); "0-1+" holds none (a range, caught as score-like).
SCORE_TOKEN: Final = re.compile(r"(?<![\w.+/,])(?<!\d-)(?:[0-3]\+|0)(?![\w.+/%]|-\d|,\d)")
_SCORE_LIKE: Final = re.compile(r"(?<![\w.])\d+\s*\+")  # "4+", "1+ to 2+", "2 +": meant as one
_NULL: Final = re.compile(r"\bnull\b")
_ULTRALOW: Final = re.compile(r"\bultra[- ]?low\b")
_NEGATION: Final = re.compile(r"\b(?:not|no|non|without|neither|nor|versus|vs|or)\b|\?")
# The qualitative word each score agrees with (ASCO/CAP 2018, Figure 1).
_AGREES: Final = {"0": "negative", "1+": "negative", "2+": "equivocal", "3+": "positive"}
_QUALITATIVE: Final = re.compile(r"\b(positive|negative|equivocal)\b")


@dataclass(frozen=True, slots=True)
class ScoreText:
    """A text read as an IHC score: `score` is "0".."3+", `subclass` "null"/"ultralow"/None."""

    score: str
    subclass: str | None = None

    @property
    def concept(self) -> str:
        """The concept code of the project's CodeSystem: ihc-0, ihc-0-ultralow, ihc-2+, ..."""
        return f"ihc-{self.score}" + (f"-{self.subclass}" if self.subclass else "")


@dataclass(frozen=True, slots=True)
class Unclear:
    """A text meant as an IHC score that cannot be read as exactly one: why, for the error."""

    reason: str


def score_tokens(text: str) -> list[str]:
    """The score tokens of a text, in order."""
    return SCORE_TOKEN.findall(text.lower())


def subclass_of(text: str) -> str | None:
    """The IHC 0 sub-class a text names ("null", "ultralow"); None when it names none or both."""
    lowered = text.lower()
    found = {
        name for name, word in (("null", _NULL), ("ultralow", _ULTRALOW)) if word.search(lowered)
    }
    return found.pop() if len(found) == 1 else None


def read_score_text(text: str) -> ScoreText | Unclear | None:
    """The IHC score a text states; `Unclear` when it is meant as one but says more than one
    thing; None when it holds no score at all (it may still be an answer word: "positive")."""
    lowered = " ".join(text.lower().split())
    tokens = SCORE_TOKEN.findall(lowered)
    if not tokens:
        return Unclear(f"{text!r} is not an IHC score") if _SCORE_LIKE.search(lowered) else None
    if len(tokens) > 1 or len(_SCORE_LIKE.findall(lowered)) > 1:
        return Unclear(f"{text!r} holds more than one IHC score")
    score = tokens[0]
    if _NEGATION.search(lowered):
        return Unclear(f"{text!r} qualifies its IHC score (a negation or an alternative)")
    words = set(_QUALITATIVE.findall(lowered))
    if words - {_AGREES[score]}:
        return Unclear(f"{text!r}: the words contradict the IHC score {score}")
    null, ultralow = bool(_NULL.search(lowered)), bool(_ULTRALOW.search(lowered))
    if (null or ultralow) and (score != "0" or (null and ultralow)):
        return Unclear(f"{text!r}: a sub-class that does not fit IHC {score}")
    return ScoreText(score, "null" if null else "ultralow" if ultralow else None)
