"""Every setting of the service, read once from the environment into one typed object.

Each field's environment variable is its name in upper case (`REDIS_URL`, `FHIR_SERVER_URL`,
...); `.env.example` lists them all with a one-line meaning. Unsafe combinations are refused at
start-up rather than discovered in production (see `_refuse_unsafe`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
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
    # The operations console's session cookie: signed with this secret (unset: a random one per
    # API process, so sessions end when it restarts; set it when several API processes serve
    # the console) and ended after this many seconds.
    console_session_secret: SecretStr | None = None
    console_session_seconds: int = Field(default=8 * 3600, ge=60)

    # --- processing ----------------------------------------------------------------------
    # How long patient data is kept in Redis (README "Retention"): every key a store writes
    # expires, its index keys included.
    case_retention_seconds: int = Field(default=90 * 24 * 3600, ge=1)  # a case's observations
    job_retention_seconds: int = Field(default=7 * 24 * 3600, ge=1)  # /jobs/{id} and the outbox
    dead_letter_retention_seconds: int = Field(default=30 * 24 * 3600, ge=1)  # whole messages
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
    # This deployment runs the v2 door (`her2-adapter mllp`): /health/ready then warns when no
    # listener is alive. Off, an HTTP-only deployment is not told about a door it lacks.
    mllp_enabled: bool = False
    mllp_host: str = "127.0.0.1"
    mllp_port: int = 2575
    mllp_tls_cert: Path | None = None
    mllp_tls_key: Path | None = None
    mllp_tls_client_ca: Path | None = None
    mllp_allowed_senders: str | None = None  # comma-separated MSH-4.1 values
    # JSON object: sending facility (MSH-4.1) -> the subject (a CN, or a whole RFC 4514
    # subject) of the client certificate its messages must arrive with. Needs
    # MLLP_TLS_CLIENT_CA; the facilities it names are then the allow-list (adapter/mllp/senders).
    mllp_sender_certificates: str | None = None

    log_level: str = "INFO"  # one of LOG_LEVELS, any case

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, level: str) -> str:
        if level.upper() not in LOG_LEVELS:  # else the first log call fails with a traceback
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level.upper()

    @field_validator(
        "fhir_server_token",
        "fhir_oauth_token_url",
        "fhir_oauth_client_id",
        "fhir_oauth_private_key",
        "fhir_oauth_key_id",
        "fhir_oauth_client_secret",
        "console_session_secret",
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
        self._refuse_unbound_senders()
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

    def _refuse_unbound_senders(self) -> None:
        """Under mutual TLS an allowed facility is bound to its certificate, or any client the
        CA certified could send in its name: MSH-4 is written by the sender itself."""
        bound = self.sender_certificates  # ValueError when it is not a JSON object of strings
        if bound is None:
            if self.mllp_tls_client_ca is not None and self.allowed_senders is not None:
                raise ValueError(
                    "with MLLP_TLS_CLIENT_CA, bind each allowed sender to its client "
                    "certificate: MLLP_SENDER_CERTIFICATES instead of MLLP_ALLOWED_SENDERS"
                )
            return
        if self.mllp_tls_client_ca is None:
            raise ValueError(
                "MLLP_SENDER_CERTIFICATES needs MLLP_TLS_CLIENT_CA: without client "
                "certificates there is nothing to bind a sender to"
            )
        if self.mllp_allowed_senders:
            raise ValueError(
                "set MLLP_SENDER_CERTIFICATES or MLLP_ALLOWED_SENDERS, not both: the "
                "facilities bound to certificates are the allow-list"
            )

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

    @property
    def sender_certificates(self) -> dict[str, str] | None:
        """MLLP_SENDER_CERTIFICATES read: facility -> certificate subject, or None when unset.
        Raises ValueError unless it is a JSON object of non-empty strings."""
        if not self.mllp_sender_certificates:
            return None
        try:
            bound = json.loads(self.mllp_sender_certificates)
        except ValueError as error:
            raise ValueError(f"MLLP_SENDER_CERTIFICATES is not JSON ({error})") from error
        if (
            not isinstance(bound, dict)
            or not bound
            or not all(isinstance(k, str) and k.strip() for k in bound)
            or not all(isinstance(v, str) and v.strip() for v in bound.values())
        ):
            raise ValueError(
                'MLLP_SENDER_CERTIFICATES must be a JSON object {"FACILITY": "certificate '
                'subject", ...} of non-empty strings'
            )
        return {key.strip(): value.strip() for key, value in bound.items()}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    return Settings()
