"""`her2-adapter demo`: embedded Redis, the API, a worker; the examples through HTTP and MLLP."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.api.test_serve_process import SCRIPT
from tests.support.demo_output import assert_every_example_interpreted, output_directory


@pytest.mark.integration
def test_demo_feeds_every_example_and_prints_each_case(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FHIR_SERVER_URL")}
    out = tmp_path / "demo-out"
    ran = subprocess.run(
        [SCRIPT, "demo", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    assert_every_example_interpreted(ran.stdout)
    assert output_directory(ran.stdout) == out
    console = (
        r"^Operations console http://127\.0\.0\.1:\d+/console \(log in with the demo key \S+\)$"
    )
    assert re.search(console, ran.stdout, re.MULTILINE), ran.stdout
    assert list((out / "bundles").glob("*.json"))
    assert {"api.log", "worker.log", "redis.log"} <= {p.name for p in out.iterdir()}
