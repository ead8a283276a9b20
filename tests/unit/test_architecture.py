"""The layering rules of STYLE.md, checked on the source: imports point down only.

- R1: the interpretation core imports the standard library and itself, nothing else.
- R6: nothing imports FHIR models from the un-versioned `fhir.resources` path (that is R5).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "adapter" / "interpretation"
CORE_PACKAGE = "adapter.interpretation"
VERSIONED_FHIR = "fhir.resources.R4B"


def _modules(*folders: Path) -> list[Path]:
    return sorted(path for folder in folders if folder.is_dir() for path in folder.rglob("*.py"))


def _package_of(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).parts[:-1])  # a module's and an __init__'s alike


def _imports(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `path`, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(path, root).split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from fhir.resources import observation` names a module
                yield node.lineno, f"{module}.{alias.name}"


def _is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names or module == "__future__"


def _in_core(module: str) -> bool:
    return module == CORE_PACKAGE or module.startswith(CORE_PACKAGE + ".")


def _is_unversioned_fhir(module: str) -> bool:
    return (module == "fhir.resources" or module.startswith("fhir.resources.")) and not (
        module == VERSIONED_FHIR or module.startswith(VERSIONED_FHIR + ".")
    )


CORE_MODULES = _modules(CORE)
ALL_MODULES = _modules(ROOT / "adapter", ROOT / "workers")


def test_the_core_has_modules_to_check() -> None:
    assert CORE_MODULES, f"no modules found under {CORE}"


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_only_the_standard_library_and_the_core(path: Path) -> None:
    outside = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if not _is_stdlib(module) and not _in_core(module)
        # `from adapter.interpretation import model` also yields "...interpretation.model"
    ]
    assert not outside, f"{path.relative_to(ROOT)} imports outside the core: {outside}"


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_fhir_models_only_from_r4b(path: Path) -> None:
    r5 = [
        f"line {line}: {module}" for line, module in _imports(path) if _is_unversioned_fhir(module)
    ]
    assert not r5, f"{path.relative_to(ROOT)} imports un-versioned (R5) fhir.resources: {r5}"


@pytest.mark.parametrize(
    ("module", "unversioned"),
    [
        ("fhir.resources", True),
        ("fhir.resources.observation", True),
        ("fhir.resources.get_fhir_model_class", True),
        ("fhir.resources.R4B", False),
        ("fhir.resources.R4B.observation", False),
        ("fhir.resources_extra", False),
    ],
)
def test_unversioned_fhir_imports_are_told_from_r4b(module: str, unversioned: bool) -> None:
    assert _is_unversioned_fhir(module) is unversioned


def test_relative_imports_resolve_to_absolute_names(tmp_path: Path) -> None:
    # the check must not be dodged by `from ..fhir import findings` inside the core
    probe = tmp_path / "adapter" / "interpretation" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from ..fhir import findings\nfrom . import model\n", encoding="utf-8")
    names = [module for _, module in _imports(probe, root=tmp_path)]
    assert "adapter.fhir.findings" in names
    assert "adapter.interpretation.model" in names


# --- the layers of STYLE.md 1: each imports its own layer and those below it ----------------

# Top to bottom. A module belongs to the layer of its longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("launcher", ("adapter.cli", "adapter.commands")),
    ("door", ("adapter.api", "adapter.mllp", "workers")),
    ("application", ("adapter.service", "adapter.qa")),
    (
        "edge",
        (
            "adapter.queue",
            "adapter.broker",
            "adapter.job_store",
            "adapter.backfill_store",
            "adapter.dead_letters",
            "adapter.case_store",
            "adapter.recent_cases",
            "adapter.metrics",
            "adapter.heartbeat",
            "adapter.periodic",
            "adapter.redis_client",
            "adapter.fhir_server",
            "adapter.fhir_auth",
            "adapter.oauth_client",
            "adapter.http_status",
        ),
    ),
    (
        "translation",
        (
            "adapter.fhir",
            "adapter.hl7v2",
            "adapter.mappings",
            "adapter.mapping_files",
            "adapter.data_files",
            "adapter.benchmarks",
        ),
    ),
    ("core", (CORE_PACKAGE,)),
)
# Settings, errors and logs may be imported by every layer but the core.
SHARED = ("adapter.settings", "adapter.errors", "adapter.log")
# The doors are separate entry points: none imports another.
DOORS = ("adapter.api", "adapter.mllp", "workers")
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> str | None:
    """The layer a module of ours belongs to; None for shared modules and the package itself."""
    found = [
        (len(prefix), name)
        for name, prefixes in LAYERS
        for prefix in prefixes
        if _within(module, prefix)
    ]
    return max(found)[1] if found else None


def _door(module: str) -> str | None:
    return next((d for d in DOORS if _within(module, d)), None)


def upward_imports(path: Path, root: Path = ROOT) -> list[str]:
    """The imports of `path` that point up a layer, or into another door."""
    here = (
        _module_name(path)
        if root == ROOT
        else ".".join(path.relative_to(root).with_suffix("").parts)
    )
    own, own_door = layer_of(here), _door(here)
    found = []
    for line, module in _imports(path, root):
        if not (module.startswith(("adapter.", "workers")) or module == "adapter"):
            continue
        target = layer_of(module)
        if target is not None and own is not None and RANK[target] < RANK[own]:
            found.append(f"line {line}: {module} ({own} -> {target})")
        elif own_door and _door(module) not in (None, own_door):
            found.append(f"line {line}: {module} (door {own_door} -> door {_door(module)})")
    return found


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_belongs_to_a_layer(path: Path) -> None:
    module = _module_name(path)
    assert layer_of(module) or module in (*SHARED, "adapter"), f"{module}: add it to LAYERS"


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_and_no_door_imports_another(path: Path) -> None:
    upward = upward_imports(path)
    assert not upward, f"{path.relative_to(ROOT)} imports up or across: {upward}"


def test_a_planted_upward_import_is_caught(tmp_path: Path) -> None:
    # the check must be able to fail: the translation reaching up into a door
    probe = tmp_path / "adapter" / "fhir" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from adapter.api.app import create_app\n", encoding="utf-8")
    assert upward_imports(probe, root=tmp_path) == [
        "line 1: adapter.api.app (translation -> door)",
        "line 1: adapter.api.app.create_app (translation -> door)",
    ]


def test_every_package_of_the_code_is_listed_for_the_wheel() -> None:
    # pyproject.toml lists the packages by hand (the data directories are mapped into the
    # package); one forgotten there is missing from the installed adapter, which then fails at
    # start (tests/packaging/ proves it installed, slowly; this says which, at once).
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    packages = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for folder in ("adapter", "workers")
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert packages - listed == set()
