"""The benchmark bands of the laboratory QA report, loaded from `mappings/qa-benchmarks.json`.

Bands are data beside the mappings (qa-report-contract.md 5), each citing its source. The file is
validated when it is loaded, like the other mapping files: a malformed one raises `MappingError`
naming the file and the entry (`mappings/qa-benchmarks.json: bands[1].high: ...`), and the
command stops before reading anything.
"""

from __future__ import annotations

from decimal import Decimal
from importlib.resources.abc import Traversable
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapter.interpretation.model import SiteGroup
from adapter.mapping_files import BENCHMARKS_FILE, read_json, validation_error

Figure = Literal["positive_pct", "ish_group_2_4_pct"]
Percent = Decimal


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Band(_Frozen):
    """Where a figure is expected to lie, in percent, for one site."""

    figure: Figure
    site: SiteGroup
    low: Percent | None = Field(default=None, ge=0, le=100)
    high: Percent | None = Field(default=None, ge=0, le=100)
    centre: Percent = Field(ge=0, le=100)  # the literature's mean: the funnel plot's target
    min_denominator: int | None = Field(default=None, ge=1)  # judged only from this many on
    derivation: str = Field(min_length=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.low is None and self.high is None:
            raise ValueError("a band needs low, high or both")
        if not (self.low or 0) <= self.centre <= (100 if self.high is None else self.high):
            raise ValueError("centre must lie within low and high")
        return self


class SmallSample(_Frozen):
    decided_below: int = Field(ge=1)
    source: str = Field(min_length=1)


class Benchmarks(_Frozen):
    description: str
    bands: tuple[Band, ...]
    small_sample: SmallSample

    @model_validator(mode="after")
    def _one_band_per_figure_and_site(self) -> Self:
        keys = [(band.figure, band.site) for band in self.bands]
        if len(set(keys)) != len(keys):
            raise ValueError("two bands for the same figure and site")
        return self

    def band(self, figure: Figure, site: SiteGroup) -> Band | None:
        """The band of a figure at a site; None where the literature gives none."""
        return next((b for b in self.bands if (b.figure, b.site) == (figure, site)), None)


def load_benchmarks(directory: Traversable) -> Benchmarks:
    """Load and check `qa-benchmarks.json` of a mappings directory; raises MappingError."""
    where = f"mappings/{BENCHMARKS_FILE}"
    data = read_json(directory / BENCHMARKS_FILE, where)
    try:
        return Benchmarks.model_validate(data)
    except ValidationError as error:
        raise validation_error(where, error, "Benchmarks") from error
