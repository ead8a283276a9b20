"""Resources -> JSON text with every number exactly as it is held: the one encoder of every
output (the printed Bundles, the write-back, the directory sink, the QA report).

Reported numbers are `Decimal`s from the input (`json_input`), and they leave as the input
wrote them: "2.30" stays 2.30 (FHIR decimals keep their precision) and a 20-digit count keeps
its 20 digits, which a float would not. Python's `json` writes a Decimal only through `default`,
as a string, so each one is written as a token string and the token replaced by the number.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def dumps(
    value: Any, *, indent: int | None = None, default: Callable[[Any], Any] | None = None
) -> str:
    """`value` as JSON: compact unless `indent`; non-ASCII kept; `default` for other types."""
    numbers: list[str] = []
    token = uuid.uuid4().hex  # no string of the input can hold it

    def encode(item: Any) -> Any:
        if isinstance(item, Decimal):
            numbers.append(str(item))
            return f"{token}{len(numbers) - 1}"
        if default is not None:
            return default(item)
        raise TypeError(f"{type(item).__name__} is not JSON serializable")

    separators = None if indent else (",", ":")
    text = json.dumps(
        value, indent=indent, separators=separators, ensure_ascii=False, default=encode
    )
    if not numbers:
        return text
    return re.sub(f'"{token}(\\d+)"', lambda found: numbers[int(found[1])], text)
