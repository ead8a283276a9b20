"""Settings refuse unsafe combinations and derive what was left unset."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapter.settings import Settings


def test_setting_only_the_visibility_timeout_keeps_retries_below_it() -> None:
    settings = Settings(visibility_timeout_seconds=30)
    assert settings.backoff_cap_seconds == 7
    assert settings.backoff_cap_seconds * 2 < settings.visibility_timeout_seconds


def test_default_recovery_is_a_minute() -> None:
    settings = Settings()
    assert settings.visibility_timeout_seconds == 60
    assert settings.backoff_cap_seconds == 15


def test_a_backoff_cap_reaching_half_the_visibility_timeout_is_refused() -> None:
    with pytest.raises(ValidationError, match="RETRY_BACKOFF_MAX_SECONDS"):
        Settings(visibility_timeout_seconds=30, retry_backoff_max_seconds=15)


def test_half_an_oauth_configuration_is_refused() -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(fhir_oauth_token_url="https://auth.example/token")


def test_api_keys_are_split_and_trimmed() -> None:
    assert Settings(adapter_api_keys=" a1 ,b2,, ").api_keys == frozenset({"a1", "b2"})


def test_a_log_level_is_known_and_read_in_any_case() -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"
    with pytest.raises(ValidationError, match="must be one of DEBUG, INFO"):
        Settings(log_level="loud")
