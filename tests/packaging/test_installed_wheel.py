"""`pip install .` (not editable) gives a `her2-adapter` that works from any directory with no
variable set: the codes and the demo's examples travel inside the package (issue 16)."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.packaging.conftest import ROOT, Installed
from tests.support.demo_output import assert_every_example_interpreted, output_directory
from tests.support.fhir_server import free_port
from tests.support.processes import wait_for
from tests.support.redis_db import emptied, redis_url_for_tests

# The first test also builds and installs the wheel (session fixture): on a cold pip cache
# that is every dependency's download, so it gets more than the suite's 300 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REDIS_URL = redis_url_for_tests(7)


def test_wheel_holds_every_module_and_every_shipped_data_file(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    modules = {
        p.relative_to(ROOT).as_posix()
        for package in ("adapter", "workers")
        for p in (ROOT / package).rglob("*.py")
    }
    data = {
        f"adapter/_data/{p.relative_to(ROOT).as_posix()}"
        for p in [*(ROOT / "mappings").glob("*.json"), *(ROOT / "examples").rglob("*")]
        if p.is_file() and p.suffix != ".md"
    }
    # the operations console's templates, stylesheet and script
    data |= {
        p.relative_to(ROOT).as_posix()
        for folder in ("templates", "static")
        for p in (ROOT / "adapter" / "api" / folder).iterdir()
    }

    assert modules - names == set()
    assert data - names == set()


def test_installed_interpret_reads_fhir_and_hl7v2_files_in_any_directory(
    installed: Installed, tmp_path: Path
) -> None:
    shutil.copy(ROOT / "examples" / "fhir" / "breast-ihc3plus.json", tmp_path)
    shutil.copy(ROOT / "examples" / "hl7v2" / "3-loinc-ihc1plus.hl7", tmp_path)

    fhir = installed.run("interpret", "--format", "text", "breast-ihc3plus.json", cwd=tmp_path)
    v2 = installed.run("interpret", "--hl7v2", "3-loinc-ihc1plus.hl7", cwd=tmp_path)

    assert fhir.returncode == 0, fhir.stderr
    assert "Positive; site breast; IHC 3+" in fhir.stdout
    assert v2.returncode == 0, v2.stderr
    written = [entry["resource"] for entry in json.loads(v2.stdout)["entry"]]
    report = next(r for r in written if r["resourceType"] == "DiagnosticReport")
    assert report["conclusion"].startswith("HER2 status: NEGATIVE.")


def test_installed_demo_runs_the_bundled_examples_from_an_empty_directory(
    installed: Installed, tmp_path: Path
) -> None:
    here, temporary = tmp_path / "empty", tmp_path / "tmp"
    here.mkdir()
    temporary.mkdir()

    ran = installed.run("demo", cwd=here, timeout=240, TMPDIR=str(temporary))

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    assert_every_example_interpreted(ran.stdout)
    out = output_directory(ran.stdout)
    assert out.parent == temporary  # the system's temporary directory, not the current one
    assert list((out / "bundles").glob("*.json"))
    assert list(here.iterdir()) == []


def test_installed_serve_and_mllp_start_cleanly_in_any_directory(
    installed: Installed, tmp_path: Path
) -> None:
    env = {"REDIS_URL": REDIS_URL, "ADAPTER_DEMO_MODE": "true"}
    api_port, mllp_port = free_port(), free_port()
    with (
        emptied(REDIS_URL),
        running(installed, tmp_path, "serve", "--port", str(api_port), **env) as serve_log,
        running(installed, tmp_path, "mllp", "--port", str(mllp_port), **env) as mllp_log,
    ):
        live = wait_for(lambda: _answers(f"http://127.0.0.1:{api_port}/health/live"), 60, "serve")
        wait_for(lambda: _accepts(mllp_port), 60, "the MLLP listener")

    assert live.json() == {"status": "pass"}
    for log in (serve_log, mllp_log):
        text = log.read_text()
        assert "Traceback" not in text
        assert '"level": "error"' not in text


@contextmanager
def running(installed: Installed, cwd: Path, *args: str, **env: str) -> Iterator[Path]:
    """One installed command in the background, its output in a file; stopped on exit."""
    log = cwd / f"{args[0]}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(installed.script), *args],
            cwd=cwd,
            env=installed.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log
    finally:
        process.terminate()
        process.wait(timeout=30)
    # uvicorn re-raises SIGTERM once it has shut down gracefully, so that may be the exit status
    assert process.returncode in (0, -signal.SIGTERM), log.read_text()


def _answers(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=1)
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
