"""Every setting of the service, read once from the environment into one typed object.

Each field's environment variable is its name in upper case (`REDIS_URL`, `FHIR_SERVER_URL`,
...); `.env.example` lists them all with a one-line meaning. Unsafe combinations are refused at
start-up rather than discovered in production (see `_refuse_unsafe`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# SMART v1 system scopes for what the worker does: write the report's resources (the HL7 v2
# door also its inputs and Specimen) and read what a references-only message names.
DEFAULT_FHIR_SCOPE: Final = (
    "system/Observation.write system/DiagnosticReport.write system/Provenance.write "
    "system/Specimen.write system/Observation.read system/Specimen.read system/Patient.read"
)


class Settings(BaseSettings):
    # hide_input_in_errors: a refused combination is reported without the values (secrets).
    model_config = SettingsConfigDict(
        frozen=True, env_file=None, extra="ignore", hide_input_in_errors=True
    )

    # --- Redis: broker, case store, job records, dead letters, metrics --------------------
    redis_url: str | None = None  # None: `demo` starts an embedded Redis; serve/worker refuse

    # --- write-back ----------------------------------------------------------------------
    fhir_server_url: str | None = None  # None: write Bundles to `sink_dir` instead
    fhir_server_token: SecretStr | None = None  # static bearer token for the FHIR server
    # OAuth2 client credentials (SMART Backend Services): the client authenticates with a JWT
    # signed by its private key (private_key_jwt), or with a client secret.
    fhir_oauth_token_url: str | None = None
    fhir_oauth_client_id: str | None = None
    fhir_oauth_private_key: Path | None = None  # PEM file; its public key is `jwks`' output
    fhir_oauth_key_id: str | None = None  # the key's `kid` in the JWKS registered with the EHR
    fhir_oauth_algorithm: Literal["RS384", "ES384"] = "RS384"
    fhir_oauth_client_secret: SecretStr | None = None
    fhir_oauth_scope: str = DEFAULT_FHIR_SCOPE
    fhir_timeout_seconds: float = 10.0
    sink_dir: Path = Path("out/bundles")

    # --- ingest --------------------------------------------------------------------------
    adapter_api_keys: SecretStr | None = None  # comma-separated; required unless demo mode
    adapter_demo_mode: bool = False  # demo: no API key required (never in production)
    max_body_bytes: int = 5 * 1024 * 1024

    # --- processing ----------------------------------------------------------------------
    case_retention_seconds: int = 90 * 24 * 3600  # how long a case's observations are kept
    job_retention_seconds: int = 7 * 24 * 3600  # how long /jobs/{id} answers
    # A killed worker's task is redelivered after this: the recovery the service promises.
    # Everything a worker holds unacknowledged (a task running, a retry waiting for its
    # countdown) must take well under this, or Redis hands it to a second worker too.
    visibility_timeout_seconds: int = 60
    max_retries: int = 10  # retries of a transient fault before a job may be dead-lettered...
    retry_window_seconds: int = 900  # ...and only once it was received this long ago
    # Cap of the exponential backoff; unset, a quarter of the visibility timeout.
    retry_backoff_max_seconds: int | None = None
    worker_heartbeat_seconds: int = 5
    worker_concurrency: int = 2
    # Added to the worker's nice value at start (0..19): on a host it shares with the API and
    # the MLLP listener, a busy worker must not make the doors answer slowly; a backlog waits
    # safely in the queue, a sender waiting for its 202 or ACK does not.
    worker_nice: int = Field(default=5, ge=0, le=19)

    # --- MLLP (HL7 v2) -------------------------------------------------------------------
    mllp_host: str = "127.0.0.1"
    mllp_port: int = 2575
    mllp_tls_cert: Path | None = None
    mllp_tls_key: Path | None = None
    mllp_tls_client_ca: Path | None = None
    mllp_allowed_senders: str | None = None  # comma-separated MSH-4.1 values

    log_level: str = "INFO"

    @field_validator(
        "fhir_server_token",
        "fhir_oauth_token_url",
        "fhir_oauth_client_id",
        "fhir_oauth_private_key",
        "fhir_oauth_key_id",
        "fhir_oauth_client_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `FHIR_OAUTH_CLIENT_SECRET=` in an env file is "not set", not an empty secret.
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.backoff_cap_seconds * 2 >= self.visibility_timeout_seconds:
            raise ValueError(
                "RETRY_BACKOFF_MAX_SECONDS must stay well below VISIBILITY_TIMEOUT_SECONDS "
                "(a retry waiting longer than the visibility timeout is delivered twice)"
            )
        problem = self._outbound_auth_problem()
        if problem:
            raise ValueError(problem)
        return self

    def _outbound_auth_problem(self) -> str | None:
        """Why the FHIR_SERVER_TOKEN / FHIR_OAUTH_* settings cannot work together, or None."""
        oauth = (
            self.fhir_oauth_token_url,
            self.fhir_oauth_client_id,
            self.fhir_oauth_private_key,
            self.fhir_oauth_key_id,
            self.fhir_oauth_client_secret,
        )
        if not any(oauth):
            return None
        if self.fhir_server_token is not None:
            return "FHIR_SERVER_TOKEN and FHIR_OAUTH_* are two ways to authenticate: set one"
        if not (self.fhir_oauth_token_url and self.fhir_oauth_client_id):
            return "FHIR_OAUTH_TOKEN_URL and FHIR_OAUTH_CLIENT_ID are both needed for OAuth2"
        key, secret = self.fhir_oauth_private_key, self.fhir_oauth_client_secret
        if key is not None and secret is not None:
            return "FHIR_OAUTH_PRIVATE_KEY and FHIR_OAUTH_CLIENT_SECRET are alternatives: set one"
        if key is None and secret is None:
            return "OAuth2 needs FHIR_OAUTH_PRIVATE_KEY (and KEY_ID) or FHIR_OAUTH_CLIENT_SECRET"
        if (key is None) != (self.fhir_oauth_key_id is None):
            return "FHIR_OAUTH_PRIVATE_KEY and FHIR_OAUTH_KEY_ID go together (the key and its kid)"
        return None

    @property
    def backoff_cap_seconds(self) -> int:
        """The longest wait between two retries: as set, else a quarter of the visibility
        timeout, so that setting only VISIBILITY_TIMEOUT_SECONDS stays safe."""
        if self.retry_backoff_max_seconds is not None:
            return self.retry_backoff_max_seconds
        return max(1, self.visibility_timeout_seconds // 4)

    @property
    def api_keys(self) -> frozenset[str]:
        raw = self.adapter_api_keys.get_secret_value() if self.adapter_api_keys else ""
        return frozenset(key.strip() for key in raw.split(",") if key.strip())

    @property
    def allowed_senders(self) -> frozenset[str] | None:
        if not self.mllp_allowed_senders:
            return None
        return frozenset(s.strip() for s in self.mllp_allowed_senders.split(",") if s.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    return Settings()
