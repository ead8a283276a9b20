"""The adapter as users install it: a wheel built from this checkout, installed (not editable)
into a new virtual environment, once per test session.

The wheel is built from a copy of the files git would commit (tracked, plus untracked files that
are not ignored), so a stale `build/` directory or a file left out of git cannot make it pass.
The new environment takes the dependencies from the package index (pip's cache makes that
quick); the commands then run from temporary directories with no adapter variable set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_SECONDS = 600  # a cold pip cache downloads every dependency once


@dataclass(frozen=True, slots=True)
class Installed:
    """A virtual environment holding the installed wheel."""

    wheel: Path
    venv: Path

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "her2-adapter"

    def env(self, **extra: str) -> dict[str, str]:
        """A user's environment: no ADAPTER_*, REDIS_*, FHIR_*, PYTHONPATH; this venv first."""
        kept = {k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TZ") if k in os.environ}
        return {**kept, "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", **extra}

    def run(
        self, *args: str, cwd: Path, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.script), *args],
            cwd=cwd,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("installed")
    source = _committable_copy(work / "source")
    dist = work / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source))
    (wheel,) = dist.glob("her2_fhir_adapter-*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    _run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel))
    return Installed(wheel=wheel, venv=venv)


def _committable_copy(target: Path) -> Path:
    listed = _run(
        "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    ran = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    assert ran.returncode == 0, f"{' '.join(command)}:\n{ran.stdout}\n{ran.stderr}"
    return ran
