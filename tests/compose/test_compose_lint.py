"""docker-compose.yml checked by kept tools, as far as a machine without a Docker daemon allows:
the Compose Specification's JSON schema and dclint's rules (npm `dclint`, pinned by
tests/compose/package-lock.json and installed by the tests), and the security lint compose-lint
(PyPI, pinned in the dev extra), every finding of which is fixed or answered in
.compose-lint.yml and the README."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.npm_packages import ensure_npm_packages

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
TOOLS = ROOT / "tests" / "compose"
COMPOSE_LINT = shutil.which("compose-lint", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def dclint() -> Path:
    ensure_npm_packages(TOOLS)
    return TOOLS / "node_modules" / ".bin" / "dclint"


def run_dclint(dclint: Path, compose: Path) -> tuple[int, list[dict[str, object]]]:
    """dclint's exit status and messages; any warning fails it (--max-warnings 0)."""
    options = ["-c", str(TOOLS / "dclint.yaml"), "--max-warnings", "0", "--formatter", "json"]
    ran = subprocess.run(
        [str(dclint), str(compose), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    (report,) = json.loads(ran.stdout)
    return ran.returncode, report["messages"]


def test_compose_file_passes_the_compose_specification_schema_and_dclint(dclint: Path) -> None:
    status, messages = run_dclint(dclint, COMPOSE)

    assert messages == []
    assert status == 0


def test_dclint_refuses_a_file_outside_the_compose_specification(
    dclint: Path, tmp_path: Path
) -> None:
    # The control: the schema is really applied (docker-compose v1.29 would refuse the valid
    # `env_file: {path, required}` instead; a misspelt key must be refused).
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("required: false", "requird: false", 1))

    status, messages = run_dclint(dclint, broken)

    assert status == 1
    assert [m["rule"] for m in messages] == ["invalid-schema"]
    assert "/env_file" in str(messages[0]["message"])


def test_compose_lint_finds_nothing_that_is_not_fixed_or_answered() -> None:
    assert COMPOSE_LINT is not None, "compose-lint comes with the dev extra"
    # --no-env: the committed configuration is graded, not a developer's own .env
    options = ["--fail-on", "low", "--strict-config", "--no-env", "--format", "json"]
    ran = subprocess.run(
        [
            COMPOSE_LINT,
            "check",
            *options,
            "--config",
            str(ROOT / ".compose-lint.yml"),
            str(COMPOSE),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    findings = json.loads(ran.stdout)["findings"]
    assert all(f["suppressed"] and f["suppression_reason"] for f in findings), findings
    answered = {f["rule_id"] for f in findings}
    readme = (ROOT / "README.md").read_text()
    compose_section = readme[readme.index("### Docker compose") : readme.index("### HL7 v2 feed")]
    assert answered <= set(re.findall(r"CL-\d{4}", compose_section))  # the README answers each
