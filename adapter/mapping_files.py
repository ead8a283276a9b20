"""The files of `mappings/`, loaded and checked once per process into `Mappings`.

Codes are data (STYLE.md R7): which LOINC code is an IHC score, which answer means "positive",
which body site is gastric. Each file is a FHIR ConceptMap or CodeSystem, validated with the
`fhir.resources.R4B` models and then with our own checks (targets are concepts of our CodeSystem
of a kind the file may map to; a source code never maps twice; every code the contract names
exists). A malformed file raises `MappingError` naming the file and the entry, so start-up fails.

Which file feeds which lookup is the `REGISTRY` below: one ConceptMap per concern. A new feed
(the HL7 v2 reader, with CAP checklist keys) adds a file and a registry row, no new code path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.conceptmap import ConceptMap
from pydantic import ValidationError

from adapter.data_files import shipped
from adapter.errors import MappingError
from adapter.interpretation.decision import Category, Flag, NextStep
from adapter.interpretation.model import SiteGroup
from adapter.mappings import (
    CODESYSTEM_URL,
    ORGAN_PROPERTY,
    TEXT_SYSTEM,
    Mappings,
    Target,
    normalise_text,
)

CODESYSTEM_FILE: Final = "her2-adapter.codesystem.json"
BENCHMARKS_FILE: Final = "qa-benchmarks.json"  # the QA report's bands: adapter/benchmarks.py
NOT_CONCEPT_MAPS: Final = frozenset({CODESYSTEM_FILE, BENCHMARKS_FILE})
ANSWER_KINDS: Final = frozenset({"ihc-answer", "ihc-subclass", "ish-answer", "failed", "status"})


@dataclass(frozen=True, slots=True)
class Concern:
    """What one ConceptMap file is for: its lookup name and the kinds its targets may have."""

    name: str
    target_kinds: frozenset[str] | None  # None: targets are external codes (outbound maps)


REGISTRY: Final[Mapping[str, Concern]] = MappingProxyType(
    {
        "inbound-roles.conceptmap.json": Concern("role", frozenset({"role"})),
        "inbound-answers.conceptmap.json": Concern("answer", ANSWER_KINDS),
        "inbound-text.conceptmap.json": Concern("answer", ANSWER_KINDS),
        "inbound-sites.conceptmap.json": Concern("site", frozenset({"site"})),
        "outbound-status.conceptmap.json": Concern("status-out", None),
        # The HL7 v2 feed (hl7v2-contract.md 3): codes as data, read by adapter/hl7v2/codes.py.
        "v2-coding-systems.conceptmap.json": Concern("v2-coding-system", None),
        "v2-result-status.conceptmap.json": Concern("v2-result-status", None),
        "v2-cap-checklist.conceptmap.json": Concern(
            "v2-cap", frozenset({"role", "not-done"}) | ANSWER_KINDS
        ),
        "v2-labels.conceptmap.json": Concern("v2-label", frozenset({"role", "v2-label"})),
    }
)

# Codes the contract fixes (sections 1.1, 2.3, 3): a file without them is malformed.
REQUIRED_CONCEPTS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "next-step": frozenset(step.value for step in NextStep),
        "category": frozenset(category.value for category in Category),
        "flag": frozenset(flag.value for flag in Flag),
        "component": frozenset({"ish-group"}),
        # Codes of the status Observation's QA extensions (adapter/fhir/qa_extensions.py).
        "site": frozenset(f"site-{group.value}" for group in SiteGroup),
        "ish-kind": frozenset({"ish-dual-probe-ratio", "ish-single-probe", "ish-qualitative"}),
        "role": frozenset(
            {
                "ihc-score",
                "ish-result",
                "ish-ratio",
                "ish-her2-average",
                "ish-cep17-average",
                "ish-panel",
                "reported-status",
            }
        ),
    }
)
REQUIRED_OUTBOUND: Final = frozenset(
    {"status-positive", "status-negative", "status-equivocal", "status-indeterminate"}
)


def load_mappings(directory: Traversable) -> Mappings:
    """Load and check every file of `directory`; raise MappingError naming file and entry."""
    if not directory.is_dir():
        raise MappingError(f"{directory}: no such directory")
    files = sorted(p.name for p in directory.iterdir() if p.name.endswith(".json"))
    unknown = [name for name in files if name not in NOT_CONCEPT_MAPS and name not in REGISTRY]
    if unknown:
        raise MappingError(f"mappings/{unknown[0]}: not in adapter.mapping_files.REGISTRY")
    for name in (CODESYSTEM_FILE, *REGISTRY):
        if name not in files:
            raise MappingError(f"mappings/{name}: file missing")
    concepts = _read_codesystem(directory / CODESYSTEM_FILE)
    by_code: dict[tuple[str, str, str], tuple[Target, ...]] = {}
    by_text: dict[tuple[str, str], tuple[Target, ...]] = {}
    by_system: dict[tuple[str, str], tuple[Target, ...]] = {}
    for name, concern in REGISTRY.items():
        where = f"mappings/{name}"
        cmap = _validated(where, read_json(directory / name, where), ConceptMap)
        for system, target, entry in _unmapped(where, cmap, concern, concepts):
            _put(by_system, (concern.name, system), (target,), entry)
        for key_system, key_code, targets, entry in _entries(where, cmap, concern, concepts):
            table_key = (concern.name, key_system, key_code)
            if key_system == TEXT_SYSTEM:
                if normalise_text(key_code) != key_code:
                    raise MappingError(f"{entry}: text form {key_code!r} is not normalised")
                _put(by_text, (concern.name, key_code), targets, entry)
            else:
                _put(by_code, table_key, targets, entry)
    missing = REQUIRED_OUTBOUND - {code for (c, _, code) in by_code if c == "status-out"}
    if missing:
        raise MappingError(
            f"mappings/outbound-status.conceptmap.json: no entry for {sorted(missing)}"
        )
    return Mappings(
        MappingProxyType(concepts),
        MappingProxyType(by_code),
        MappingProxyType(by_text),
        MappingProxyType(by_system),
    )


@cache
def default_mappings() -> Mappings:
    """The shipped `mappings/` (or `$ADAPTER_MAPPINGS_DIR`), loaded once per process."""
    return load_mappings(mappings_directory())


def mappings_directory() -> Traversable:
    """`$ADAPTER_MAPPINGS_DIR`, else the `mappings/` shipped in the package."""
    override = os.environ.get("ADAPTER_MAPPINGS_DIR")
    return Path(override) if override else shipped("mappings")


def _put(
    table: dict[Any, tuple[Target, ...]], key: Any, targets: tuple[Target, ...], entry: str
) -> None:
    # The same source in two places is either redundant or contradictory; both are edit
    # mistakes, and the contradictory kind would make the meaning depend on file order.
    if key in table and table[key] != targets:
        raise MappingError(f"{entry}: source {key[-1]!r} is already mapped to other targets")
    table[key] = targets


def read_json(path: Traversable, where: str) -> dict[str, Any]:
    """A mapping file's JSON object; raises MappingError naming the file (`where`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MappingError(f"{where}: cannot read: {error}") from error
    if not isinstance(data, dict):
        raise MappingError(f"{where}: not a JSON object")
    return data


def _validated(where: str, data: dict[str, Any], model: type[ConceptMap] | type[CodeSystem]) -> Any:
    if data.get("resourceType") != model.__name__:
        raise MappingError(f"{where}: resourceType must be {model.__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(where, error, model.__name__) from error


def validation_error(where: str, error: ValidationError, root: str) -> MappingError:
    """A pydantic error as `file: field.path: message` (the first error; `root` when the
    error sits on the whole file)."""
    first = error.errors()[0]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
    return MappingError(f"{where}: {path or root}: {first['msg']}")


def _read_codesystem(path: Traversable) -> dict[str, Target]:
    where = f"mappings/{path.name}"
    system: CodeSystem = _validated(where, read_json(path, where), CodeSystem)
    if system.url != CODESYSTEM_URL:
        raise MappingError(f"{where}: url must be {CODESYSTEM_URL}")
    concepts: dict[str, Target] = {}
    for index, concept in enumerate(system.concept or ()):
        entry = f"{where}: concept[{index}]"
        kinds = [p.valueCode for p in concept.property or () if p.code == "kind"]
        if len(kinds) != 1 or not kinds[0]:
            raise MappingError(f"{entry}: needs exactly one 'kind' property")
        if (concept.code or "") in concepts:
            raise MappingError(f"{entry}: code {concept.code!r} appears twice")
        code = concept.code or ""
        concepts[code] = Target(code, kinds[0], display=concept.display)
    for kind, required in REQUIRED_CONCEPTS.items():
        absent = sorted(
            code for code in required if concepts.get(code, Target("", "")).kind != kind
        )
        if absent:
            raise MappingError(f"{where}: no concept of kind {kind!r} for {absent}")
    return concepts


def _entries(
    where: str, cmap: ConceptMap, concern: Concern, concepts: Mapping[str, Target]
) -> Iterable[tuple[str, str, tuple[Target, ...], str]]:
    """Yield (source system, source code, targets, entry name) for every element of a map."""
    for g_index, group in enumerate(cmap.group or ()):
        if not group.source:
            raise MappingError(f"{where}: group[{g_index}]: source system missing")
        for e_index, element in enumerate(group.element or ()):
            entry = f"{where}: group[{g_index}].element[{e_index}]"
            if not element.code or not element.target:
                raise MappingError(f"{entry}: needs a code and at least one target")
            targets = tuple(
                _target(entry, group.target, t, concern, concepts) for t in element.target
            )
            kinds = [t.kind for t in targets]
            if len(set(kinds)) != len(kinds):
                # One meaning per kind, or the reader could not tell which one was meant.
                raise MappingError(f"{entry}: two targets of the same kind for {element.code!r}")
            yield group.source, element.code, targets, entry


def _unmapped(
    where: str, cmap: ConceptMap, concern: Concern, concepts: Mapping[str, Target]
) -> Iterable[tuple[str, Target, str]]:
    """Yield (source system, target, entry) for each group saying what its other codes mean
    (`unmapped.mode` fixed): every code of v2 table 0487 is a specimen kind, never an organ."""
    for g_index, group in enumerate(cmap.group or ()):
        unmapped = group.unmapped
        if unmapped is None or not group.source:
            continue
        entry = f"{where}: group[{g_index}].unmapped"
        if unmapped.mode != "fixed" or not unmapped.code:
            raise MappingError(f"{entry}: only mode 'fixed' with a code is supported")
        yield group.source, _target(entry, group.target, unmapped, concern, concepts), entry


def _target(
    entry: str, system: str | None, target: Any, concern: Concern, concepts: Mapping[str, Target]
) -> Target:
    if not target.code:
        raise MappingError(f"{entry}: target without a code")
    if concern.target_kinds is None:
        if not system:
            raise MappingError(f"{entry}: group has no target system")
        return Target(target.code, "external", system=system, display=target.display)
    concept = concepts.get(target.code)
    if concept is None or system != CODESYSTEM_URL:
        raise MappingError(f"{entry}: target code {target.code!r} is not a known concept")
    if concept.kind not in concern.target_kinds:
        raise MappingError(
            f"{entry}: target code {target.code!r} is a {concept.kind}, not allowed here"
        )
    products = getattr(target, "product", None) or ()  # an `unmapped` has none
    organ = next((p.value for p in products if p.property == ORGAN_PROPERTY), None)
    return Target(concept.code, concept.kind, display=concept.display, organ=organ)
