"""The QA report as CSV and as JSON (qa-report-contract.md 6).

CSV: a header with the columns of section 4 in their order, then one line per row; shares with
one decimal, an undefined share empty, flags joined by `;`. JSON: `{"period", "rows",
"benchmarks"}`, the rows as objects with the same names (an undefined share `null`, flags a
list), and the bands and small-sample limit the flags were raised against.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import Enum
from typing import Any

from adapter.benchmarks import Benchmarks
from adapter.fhir.json_output import dumps
from adapter.qa.figures import COLUMNS, Row


def csv_text(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(csv_cell(value) for value in row.values().values())
    return out.getvalue()


def json_text(rows: Sequence[Row], benchmarks: Benchmarks, granularity: str) -> str:
    document = {
        "period": granularity,
        "rows": [row.values() for row in rows],
        "benchmarks": benchmarks.model_dump(),
    }
    return json_dump(document)


def json_dump(document: dict[str, Any]) -> str:
    """Indented JSON; Decimals as numbers, enums as their values."""
    return dumps(document, indent=2, default=_enum_value) + "\n"


def csv_cell(value: Any) -> str:
    """One value as the CSV prints it: an undefined share empty, flags joined by `;`."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value)


def _enum_value(value: object) -> Any:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
