"""Find patient data (or secrets) in log text: `phi_found(log_text, sensitive) -> found`.

A value counts as found when it appears as a whole token (not inside a longer word or number:
"4.0417" is not found in "14.04171"), in any case, as written or in the escaped forms a JSON
log line gives it (`\\"`, `\\u00e9`). Use it on everything a run logged:

    leaked = phi_found(log_path.read_text(), [NAME, BIRTH_DATE, MRN, "4.0417"])
    assert not leaked, leaked
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable


def phi_found(log_text: str, sensitive: Iterable[str]) -> list[str]:
    """The strings of `sensitive` that occur in `log_text`, in the order given, each once.
    Empty strings are ignored (they would be found everywhere)."""
    found: list[str] = []
    for value in dict.fromkeys(sensitive):
        if value and value not in found and _pattern(value).search(log_text):
            found.append(value)
    return found


def _pattern(value: str) -> re.Pattern[str]:
    forms = {
        value,
        json.dumps(value, ensure_ascii=False)[1:-1],  # a JSON log line, UTF-8
        json.dumps(value, ensure_ascii=True)[1:-1],  # a JSON log line, \\u escapes
    }
    alternatives = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    # not inside a word or a number: no letter or digit around, no "3." before or ".5" after
    return re.compile(
        rf"(?<![0-9A-Za-z])(?<![0-9]\.)(?:{alternatives})(?![0-9A-Za-z])(?!\.[0-9])",
        re.IGNORECASE,
    )
