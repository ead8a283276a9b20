"""The task never lets a job's message go before its outcome is stored (workers/tasks.py).

Celery's own paths drop a message when Redis is away at the wrong moment: a retry whose publish
fails is rejected without requeue, and a failure handler that cannot write the dead letter
still lets the message be acknowledged. The soak (tests/soak) found the jobs this loses while
Redis restarts; these tests pin each path without a broker.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
import redis
from celery.exceptions import Reject, Retry

from adapter.errors import DependencyUnavailable, InvalidResource
from adapter.queue import InterpretJob
from adapter.settings import get_settings


@pytest.fixture(scope="module")
def tasks() -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # never reached: nothing connects
        get_settings.cache_clear()
        import workers.tasks

        yield workers.tasks
    get_settings.cache_clear()


class _Jobs:
    def __init__(self, *_: Any) -> None:
        self.done_ids: list[str] = []

    def seen(self, job: InterpretJob) -> None:
        pass

    def done(self, job_id: str, _written: Any) -> None:
        self.done_ids.append(job_id)


def _job(received: datetime | None = None) -> InterpretJob:
    return InterpretJob(
        job_id="j1", door="http", received_at=received or datetime.now(UTC), body="{}"
    )


def _fail_with(error: Exception) -> Any:
    def interpret_job(*_: Any) -> list[str]:
        raise error

    return interpret_job


@pytest.fixture
def wired(tasks: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(tasks, "JobStore", _Jobs)
    monkeypatch.setattr(tasks, "_redis", lambda: None)
    monkeypatch.setattr(tasks, "services", lambda: None)
    return tasks


def test_bad_input_whose_dead_letter_cannot_be_written_is_kept(
    wired: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wired, "process_job", _fail_with(InvalidResource("bad", expression="x")))

    def redis_restarting(*_: Any) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(wired, "dead_letter", redis_restarting)
    with pytest.raises(Reject) as kept:
        wired.interpret_her2.run(_job().model_dump(mode="json"))
    assert kept.value.requeue is True


def test_retry_that_cannot_be_published_keeps_the_message(
    wired: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wired, "process_job", _fail_with(DependencyUnavailable("down")))

    def publish_failed(*_: Any, **__: Any) -> None:  # what Task.retry raises then
        raise Reject(OSError("Connection refused"), requeue=False)

    monkeypatch.setattr(wired.interpret_her2, "retry", publish_failed)
    with pytest.raises(Reject) as kept:
        wired.interpret_her2.run(_job().model_dump(mode="json"))
    assert kept.value.requeue is True


def test_transient_fault_is_retried_with_a_countdown(
    wired: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wired, "process_job", _fail_with(DependencyUnavailable("down")))
    asked: dict[str, Any] = {}

    def retry(**options: Any) -> Retry:
        asked.update(options)
        return Retry("later", when=options["countdown"])

    monkeypatch.setattr(wired.interpret_her2, "retry", retry)
    with pytest.raises(Retry):
        wired.interpret_her2.run(_job().model_dump(mode="json"))
    assert 0.5 <= asked["countdown"] <= 1.0


def test_backoff_waits_at_least_half_of_each_nominal_wait(tasks: ModuleType) -> None:
    rng = random.Random(6)
    for retries in range(12):
        nominal = min(2**retries, 60)
        waits = [tasks.backoff(retries, 60, rng) for _ in range(200)]
        assert nominal / 2 <= min(waits)
        assert max(waits) <= nominal


def test_default_retries_ride_through_a_30_second_outage_at_the_least(tasks: ModuleType) -> None:
    settings = tasks.settings
    least = sum(min(2**n, settings.backoff_cap_seconds) / 2 for n in range(settings.max_retries))
    assert least > 30


def test_young_job_is_retried_past_max_retries(tasks: ModuleType) -> None:
    now = datetime.now(UTC)
    assert tasks.may_retry(_job(now), retries=10_000, now=now + timedelta(seconds=60))


def test_old_job_is_dead_lettered_once_max_retries_are_spent(tasks: ModuleType) -> None:
    now = datetime.now(UTC)
    window = timedelta(seconds=tasks.settings.retry_window_seconds + 1)
    job = _job(now - window)
    assert tasks.may_retry(job, retries=tasks.settings.max_retries - 1, now=now)
    assert not tasks.may_retry(job, retries=tasks.settings.max_retries, now=now)
