"""Every command that cannot start says why in one line on standard error and exits 1: missing
or malformed mappings, a bad setting, an address in use, a Redis that does not answer where the
command needs it to start. The real console script runs; nothing is mocked."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"
EXAMPLE = ROOT / "examples" / "fhir" / "breast-ihc3plus.json"
# serve and mllp start without Redis answering (they refuse messages until it does), so a URL
# nobody listens on lets them reach the check under test; the others fail on it.
SETTINGS_CHECKED = {"REDIS_URL": "redis://127.0.0.1:{closed}/0", "ADAPTER_DEMO_MODE": "true"}


@dataclass(frozen=True, slots=True)
class Case:
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    cause: str = ""  # text the one line must hold


@dataclass(frozen=True, slots=True)
class Places:
    closed_port: int  # nothing listens there
    busy_port: int  # something listens there
    broken_mappings: Path
    absent: Path

    def fill(self, text: str) -> str:
        return text.format(
            closed=self.closed_port,
            busy=self.busy_port,
            broken=self.broken_mappings,
            absent=self.absent,
        )


def commands_needing(*names: str) -> list[tuple[str, ...]]:
    every = {
        "interpret": ("interpret", str(EXAMPLE)),
        "serve": ("serve", "--port", "{closed}"),
        "worker": ("worker",),
        "mllp": ("mllp", "--port", "{closed}"),
        "demo": ("demo",),
        "dlq list": ("dlq", "list"),
        "dlq replay": ("dlq", "replay"),
    }
    return [every[name] for name in names]


CASES = {
    **{
        f"{args[0]}: mappings directory missing": Case(
            args, {**SETTINGS_CHECKED, "ADAPTER_MAPPINGS_DIR": "{absent}"}, "no such directory"
        )
        for args in commands_needing("interpret", "serve", "worker", "mllp", "demo")
    },
    **{
        f"{args[0]}: mapping file malformed": Case(
            args,
            {**SETTINGS_CHECKED, "ADAPTER_MAPPINGS_DIR": "{broken}"},
            "mappings: mappings/inbound-roles.conceptmap.json: cannot read",
        )
        for args in commands_needing("interpret", "serve", "worker", "mllp", "demo")
    },
    **{
        f"{' '.join(args[:2])}: bad setting": Case(
            args,
            {**SETTINGS_CHECKED, "WORKER_NICE": "99"},
            "settings: WORKER_NICE: Input should be less than or equal to 19",
        )
        for args in commands_needing("serve", "worker", "mllp", "demo", "dlq list", "dlq replay")
    },
    **{
        f"{args[0]}: address in use": Case(
            (args[0], "--port", "{busy}"), SETTINGS_CHECKED, "cannot listen on 127.0.0.1:{busy}"
        )
        for args in commands_needing("serve", "mllp")
    },
    **{
        f"{' '.join(args[:2])}: Redis does not answer": Case(
            args, SETTINGS_CHECKED, "Redis at redis://127.0.0.1:{closed}/0"
        )
        for args in commands_needing("worker", "demo", "dlq list", "dlq replay")
    },
    "serve: unsafe setting combination": Case(
        commands_needing("serve")[0],
        {**SETTINGS_CHECKED, "VISIBILITY_TIMEOUT_SECONDS": "8", "RETRY_BACKOFF_MAX_SECONDS": "6"},
        "settings: RETRY_BACKOFF_MAX_SECONDS must stay well below VISIBILITY_TIMEOUT_SECONDS",
    ),
    "worker: unknown log level": Case(
        commands_needing("worker")[0],
        {**SETTINGS_CHECKED, "LOG_LEVEL": "LOUD"},
        "settings: LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    ),
}


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Places]:
    broken = tmp_path_factory.mktemp("mappings")
    for mapping in (ROOT / "mappings").glob("*.json"):
        shutil.copy(mapping, broken)
    (broken / "inbound-roles.conceptmap.json").write_text("{", encoding="utf-8")
    with socket.create_server(("127.0.0.1", 0)) as busy, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield Places(
            closed_port=closed.getsockname()[1],
            busy_port=busy.getsockname()[1],
            broken_mappings=broken,
            absent=broken / "absent",
        )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_command_that_cannot_start_prints_one_line_and_exits_1(
    case: Case, places: Places, tmp_path: Path
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ADAPTER_", "REDIS_", "FHIR_", "SINK_", "MLLP_", "LOG_", "WORKER_"))
    }
    env.update({k: places.fill(v) for k, v in case.env.items()})
    args = [places.fill(arg) for arg in case.args]

    ran = subprocess.run(
        [SCRIPT, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert ran.stdout == ""
    (line,) = ran.stderr.splitlines()
    command = " ".join(args[:2]) if args[0] == "dlq" else args[0]
    assert line.startswith(f"her2-adapter {command}: "), line
    assert places.fill(case.cause) in line
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing started
