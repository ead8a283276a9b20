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
