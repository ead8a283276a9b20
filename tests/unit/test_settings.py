"""Settings refuse unsafe combinations and derive what was left unset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


OAUTH = {"fhir_oauth_token_url": "https://auth.example/token", "fhir_oauth_client_id": "her2"}
KEY = {"fhir_oauth_private_key": Path("key.pem"), "fhir_oauth_key_id": "k1"}
SECRET = {"fhir_oauth_client_secret": "s3cret"}


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        ({"fhir_oauth_token_url": "https://auth.example/token"}, "CLIENT_ID are both needed"),
        ({**KEY, "fhir_oauth_client_id": "her2"}, "TOKEN_URL and FHIR_OAUTH_CLIENT_ID"),
        (OAUTH, "OAuth2 needs FHIR_OAUTH_PRIVATE_KEY"),
        ({**OAUTH, **KEY, **SECRET}, "are alternatives: set one"),
        ({**OAUTH, "fhir_oauth_private_key": Path("key.pem")}, "KEY_ID go together"),
        ({**OAUTH, **SECRET, "fhir_oauth_key_id": "k1"}, "KEY_ID go together"),
        ({**OAUTH, **SECRET, "fhir_server_token": "t"}, "two ways to authenticate"),
    ],
)
def test_inconsistent_outbound_auth_is_refused_with_one_line(
    given: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ValidationError, match=refusal) as caught:
        Settings(**given)
    assert "\n" not in caught.value.errors()[0]["msg"]


def test_a_refusal_never_shows_the_values_given() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**OAUTH, **KEY, fhir_oauth_client_secret="s3cret-value")
    assert "s3cret" not in str(caught.value)


def test_a_key_or_a_secret_with_the_token_url_and_client_id_is_accepted() -> None:
    assert Settings(**OAUTH, **KEY).fhir_oauth_algorithm == "RS384"
    assert Settings(**OAUTH, **SECRET, fhir_oauth_algorithm="ES384").fhir_oauth_client_secret


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # `FHIR_OAUTH_CLIENT_SECRET=` as an env file writes it: not an empty secret
    for name in ("FHIR_SERVER_TOKEN", "FHIR_OAUTH_CLIENT_SECRET", "FHIR_OAUTH_PRIVATE_KEY"):
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert settings.fhir_server_token is None
    assert settings.fhir_oauth_client_secret is None
    assert settings.fhir_oauth_private_key is None


def test_an_algorithm_other_than_rs384_or_es384_is_refused() -> None:
    with pytest.raises(ValidationError, match="RS384"):
        Settings(**OAUTH, **KEY, fhir_oauth_algorithm="RS256")


def test_api_keys_are_split_and_trimmed() -> None:
    assert Settings(adapter_api_keys=" a1 ,b2,, ").api_keys == frozenset({"a1", "b2"})
