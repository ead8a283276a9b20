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


def test_retentions_below_one_second_are_refused() -> None:
    for name in ("case", "job", "dead_letter"):
        with pytest.raises(ValidationError, match=f"{name}_retention_seconds"):
            Settings(**{f"{name}_retention_seconds": 0})


BINDING = '{"LAB_A": "lis-a.example.org", "LAB_B": "CN=lis-b,O=Hospital B,C=GB"}'


def test_sender_certificates_are_the_allow_list_under_mutual_tls() -> None:
    settings = Settings(mllp_tls_client_ca="ca.pem", mllp_sender_certificates=BINDING)
    assert settings.sender_certificates == {
        "LAB_A": "lis-a.example.org",
        "LAB_B": "CN=lis-b,O=Hospital B,C=GB",
    }


@pytest.mark.parametrize(
    ("values", "refusal"),
    [
        ({"mllp_sender_certificates": BINDING}, "needs MLLP_TLS_CLIENT_CA"),
        (
            {"mllp_tls_client_ca": "ca.pem", "mllp_allowed_senders": "LAB_A"},
            "bind each allowed sender",
        ),
        (
            {
                "mllp_tls_client_ca": "ca.pem",
                "mllp_sender_certificates": BINDING,
                "mllp_allowed_senders": "LAB_A",
            },
            "not both",
        ),
        ({"mllp_tls_client_ca": "ca.pem", "mllp_sender_certificates": "{"}, "is not JSON"),
        ({"mllp_tls_client_ca": "ca.pem", "mllp_sender_certificates": '["LAB_A"]'}, "object"),
        ({"mllp_tls_client_ca": "ca.pem", "mllp_sender_certificates": '{"A": ""}'}, "object"),
        ({"mllp_tls_client_ca": "ca.pem", "mllp_sender_certificates": "{}"}, "object"),
    ],
)
def test_an_allow_list_a_client_could_claim_is_refused(
    values: dict[str, str], refusal: str
) -> None:
    with pytest.raises(ValidationError, match=refusal):
        Settings(**values)


def test_a_log_level_is_known_and_read_in_any_case() -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"
    with pytest.raises(ValidationError, match="must be one of DEBUG, INFO"):
        Settings(log_level="loud")


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        ({"redis_sentinels": "s1:26379"}, "REDIS_SENTINELS and REDIS_SENTINEL_SERVICE go together"),
        ({"redis_sentinel_service": "her2"}, "go together"),
        ({"redis_sentinels": "s1", "redis_sentinel_service": "her2"}, "host:port"),
        ({"redis_replica_wait_ms": 5000}, "less than 5000"),
        ({"redis_min_replicas": -1}, "greater than or equal to 0"),
    ],
)
def test_sentinel_and_replica_settings_are_refused_with_one_line(
    given: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ValidationError, match=refusal):
        Settings(**given)


def test_sentinels_name_redis_without_a_url() -> None:
    settings = Settings(redis_sentinels="s1:26379, s2:26380", redis_sentinel_service="her2")
    assert settings.redis_configured
    assert settings.sentinel_addresses == [("s1", 26379), ("s2", 26380)]
