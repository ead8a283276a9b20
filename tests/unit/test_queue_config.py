"""The broker settings that decide how fast a killed worker's jobs come back."""

from __future__ import annotations

from adapter.queue import make_celery
from adapter.settings import Settings


def transport_options(visibility: int) -> dict[str, object]:
    settings = Settings(redis_url="redis://127.0.0.1:6379/0", visibility_timeout_seconds=visibility)
    options: dict[str, object] = make_celery(settings).conf.broker_transport_options
    return options


def test_a_killed_workers_jobs_are_restored_soon_after_the_visibility_timeout() -> None:
    options = transport_options(60)
    assert options["visibility_timeout"] == 60
    assert options["unacked_restore_interval"] <= 12  # swept every few seconds, not every 100
    assert options["unacked_restore_throttle"] == 1


def test_a_worker_killed_inside_a_restore_sweep_blocks_restores_only_briefly() -> None:
    # kombu's default mutex lives 300 s: a SIGKILL during a sweep stopped every restore
    for visibility in (30, 60, 300):
        assert transport_options(visibility)["unacked_mutex_expire"] <= 10


def test_with_sentinels_the_broker_asks_each_for_the_named_primary() -> None:
    settings = Settings(
        redis_url="redis://:s3cret@unused/2",
        redis_sentinels="10.0.0.1:26379,10.0.0.2:26380",
        redis_sentinel_service="her2",
    )
    app = make_celery(settings)
    assert app.conf.broker_url == (
        "sentinel://:s3cret@10.0.0.1:26379/2;sentinel://:s3cret@10.0.0.2:26380/2"
    )
    assert app.conf.broker_transport_options["master_name"] == "her2"


def test_without_sentinels_the_broker_is_redis_url_and_names_no_primary() -> None:
    app = make_celery(Settings(redis_url="redis://127.0.0.1:6379/0"))
    assert app.conf.broker_url == "redis://127.0.0.1:6379/0"
    assert "master_name" not in app.conf.broker_transport_options
