"""Numbers of contract 1.2: exact (Decimal, compared as reported), possibly bounded, plausible.

`valueQuantity` (with or without a UCUM code; the units of an ISH count), `valueRatio`
(numerator / denominator), `valueInteger`, and text holding a number ("2.2", "> 2.2", "<2.0",
"greater than 2.2"). A number is refused, naming its field, where no count or ratio can be it:
a boolean, negative, infinite, an exponent beyond +-30 or more than 40 digits.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, localcontext
from typing import Any, Final

from adapter.errors import UnreadableValue
from adapter.interpretation.model import Comparator, Number

LARGEST_DOUBLE: Final = Decimal("1.7976931348623157e308")
MAX_EXPONENT: Final = 30
MAX_DIGITS: Final = 40
# UCUM syntax, not terminology. Contract 1.2 lists the units of "ISH numbers" together, without
# tying one to the ratio and another to the averages, and feeds mix them up; so any of them is
# accepted on any ISH number (compared without case). "#" and "1" are seen in feeds
# (mii-testdata-1.json). A unit of another kind (IU/mL, %) is not an ISH count: unreadable.
ISH_UNITS: Final = frozenset(
    {
        "{ratio}",
        "ratio",
        "1",
        "{ratio}/{ratio}",
        "{copies}/{nucleus}",
        "/{nucleus}",
        "#",
        "{signals}/{nucleus}",
        "{copies}",
        "{signals}",
    }
)
_BOUND_WORDS: Final = {
    "<": Comparator.LT,
    "<=": Comparator.LE,
    ">": Comparator.GT,
    ">=": Comparator.GE,
    "≤": Comparator.LE,
    "≥": Comparator.GE,
    "less than": Comparator.LT,
    "below": Comparator.LT,
    "greater than": Comparator.GT,
    "more than": Comparator.GT,
    "above": Comparator.GT,
    "less than or equal to": Comparator.LE,
    "at most": Comparator.LE,
    "greater than or equal to": Comparator.GE,
    "at least": Comparator.GE,
}
_NUMBER_TEXT: Final = re.compile(
    r"^(?P<bound>"
    + "|".join(sorted(map(re.escape, _BOUND_WORDS), key=len, reverse=True))
    + r")?\s*(?P<number>\d+(?:\.\d+)?)$"
)


def is_number(value: Any) -> bool:
    """A JSON number as parse_json gives it: int or Decimal, never a boolean."""
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def json_text(value: Any) -> str:
    """A JSON value as the sender wrote it (true, not True)."""
    return json.dumps(value) if isinstance(value, bool | str) else str(value)


def number_from_text(text: str, where: str) -> Number | None:
    """ "2.2", "> 2.2", "<2.0", "greater than 2.2" -> Number; None when not a number.

    Raises UnreadableValue for a number no count or ratio can be (`plausible`)."""
    match = _NUMBER_TEXT.match(" ".join(text.split()).lower())
    if match is None:
        return None
    bound = match.group("bound")
    number = plausible(Decimal(match.group("number")), where)
    return Number(number, _BOUND_WORDS[bound] if bound else None)


def _decimal(value: Any, where: str) -> Decimal:
    if not isinstance(value, float) and not is_number(value):
        raise UnreadableValue(f"{json_text(value)} is not a number", expression=where)
    # A float only arrives from a caller that skipped parse_json; repr() is the shortest text
    # that reads back to it, i.e. what the JSON said.
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return plausible(number, where)


def plausible(number: Decimal, where: str) -> Decimal:
    """A reported count or ratio as it will be compared; raises UnreadableValue otherwise.

    JSON has no NaN or Infinity, and a literal past the range of a double (1e999) is what
    other parsers read as Infinity, so it is not a finite number either. No count or ratio is
    written with an exponent beyond +-MAX_EXPONENT or MAX_DIGITS digits, and exact arithmetic
    on one (1e-999999999) would cost minutes. -0 is 0.
    """
    if not number.is_finite() or abs(number) > LARGEST_DOUBLE:
        raise UnreadableValue(f"{number} is not a finite number", expression=where)
    if number < 0:
        raise UnreadableValue(f"{number} is negative: a count or ratio cannot be", expression=where)
    _, digits, exponent = number.as_tuple()
    magnitude = number.adjusted() if number else exponent
    assert isinstance(magnitude, int)  # a finite Decimal's exponent is an int
    if abs(magnitude) > MAX_EXPONENT or len(digits) > MAX_DIGITS:
        raise UnreadableValue(f"{number} is not a plausible count or ratio", expression=where)
    return number.copy_abs() if number.is_zero() else number


def _comparator(quantity: dict[str, Any], where: str) -> Comparator | None:
    raw = quantity.get("comparator")
    if raw is None:
        return None
    try:
        return Comparator(raw)
    except ValueError as error:
        raise UnreadableValue(
            f"comparator {raw!r} is not a bound", expression=f"{where}.comparator"
        ) from error


def _check_unit(quantity: dict[str, Any], where: str, what: str) -> None:
    units = {u for u in (quantity.get("code"), quantity.get("unit")) if isinstance(u, str) and u}
    if {u.lower() for u in units} - ISH_UNITS:
        raise UnreadableValue(
            f"unit {sorted(units)[0]!r} does not fit a {what}",
            expression=f"{where}.unit",
        )


def read_number(field: str, value: Any, where: str, what: str) -> Number:
    """A Quantity, Ratio or integer value as an exact, possibly bounded, Number."""
    if field == "valueInteger":
        if type(value) is not int:
            raise UnreadableValue(f"{json_text(value)} is not an integer", expression=where)
        return Number(_decimal(value, where))
    if field == "valueQuantity":
        _check_unit(value, where, what)
        return Number(_decimal(value.get("value"), f"{where}.value"), _comparator(value, where))
    numerator, denominator = value.get("numerator") or {}, value.get("denominator") or {}
    top = _decimal(numerator.get("value"), f"{where}.numerator.value")
    bottom = _decimal(denominator.get("value"), f"{where}.denominator.value")
    if bottom == 0:
        raise UnreadableValue("denominator 0", expression=f"{where}.denominator.value")
    if "comparator" in denominator:
        # ">= 1 : >= 100" (mcode-ctms-1.json) bounds nothing a ratio could be compared with.
        raise UnreadableValue(
            "a bounded denominator gives no ratio", expression=f"{where}.denominator"
        )
    if bottom == 1:
        return Number(
            top, _comparator(numerator, f"{where}.numerator")
        )  # as reported: no re-rounding
    with localcontext() as context:
        context.prec = 50  # exact for every ratio a laboratory writes
        return Number(top / bottom, _comparator(numerator, f"{where}.numerator"))
