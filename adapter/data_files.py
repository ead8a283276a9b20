"""Where the data shipped with the adapter is: its codes (`mappings/`) and the example messages
that `her2-adapter demo` feeds (`examples/`).

The repository's top-level `mappings/` and `examples/` are the only copies. Building the wheel
(`pip install .`, the Docker image) maps them into the package as `adapter/_data/mappings/` and
`adapter/_data/examples/` (pyproject.toml, `[tool.setuptools.package-dir]`), so an installed
adapter finds them from any directory. A source checkout (the tests, `pip install -e .`) has no
`adapter/_data/`: there they are read where they are, beside the package.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final, Literal

ShippedData = Literal["mappings", "examples"]

_CHECKOUT: Final = Path(__file__).resolve().parents[1]


def shipped(name: ShippedData) -> Traversable:
    """The directory `name` inside the installed package, or the checkout's top-level one."""
    installed = files("adapter").joinpath("_data", name)
    return installed if installed.is_dir() else _CHECKOUT / name
