"""The fault-injection soak (issue 6, item 2): nothing accepted is lost or duplicated.

The short form (about 1,000 messages, each fault once, FHIR server down 10 s) runs with the
suite and in CI. The long form (`-m soak`, HER2_SOAK_MESSAGES, default 10,000; a worker
SIGKILLed every 10 s, FHIR server down 30 s) runs on demand; README "Reliability" has its
figures. Both write their summary to out/.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.soak.failover import FailoverConfig, FailoverSoak
from tests.soak.run import SoakConfig, run
from tests.soak.verify import problems

OUT = Path(__file__).resolve().parents[2] / "out"


def _check(summary: dict[str, object], name: str, directory: Path) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / name).write_text(json.dumps(summary, indent=2, default=str))
    findings = summary["findings"]
    assert isinstance(findings, dict)
    failed = problems(findings)
    if failed:  # keep the logs: pytest rotates its temp dirs away
        kept = OUT / name.replace(".json", "-logs")
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir()
        for log in directory.glob("*.log"):
            shutil.copy(log, kept / log.name)
    assert not failed, json.dumps(failed, indent=2, default=str)[:4000]


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_short_soak_loses_nothing_and_writes_one_report_per_case(tmp_path: Path) -> None:
    config = SoakConfig(messages=int(os.environ.get("HER2_SOAK_SHORT_MESSAGES", "1000")))
    _check(run(config, tmp_path), "soak-summary-short.json", tmp_path)


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_long_soak_loses_nothing_under_repeated_kills(tmp_path: Path) -> None:
    messages = int(os.environ.get("HER2_SOAK_MESSAGES", "10000"))
    config = SoakConfig(
        messages=messages,
        kill_every=10.0,
        fhir_outage=30.0,
        bursts=max(1, messages // 2000),
        bad=max(5, messages // 500),
        settle_timeout=900.0,
    )
    _check(run(config, tmp_path), "soak-summary.json", tmp_path)


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_short_failover_soak_loses_duplicates_and_overwrites_nothing(tmp_path: Path) -> None:
    """Two failovers of the Redis primary and a stalled writer (tests/soak/failover.py)."""
    config = FailoverConfig(
        messages=int(os.environ.get("HER2_FAILOVER_SOAK_SHORT_MESSAGES", "200")),
        v2_messages=20,
        bursts=1,
        bad=3,
        settle_timeout=180.0,
    )
    _check(run(config, tmp_path, FailoverSoak), "failover-soak-summary-short.json", tmp_path)
