"""All configuration in one place, read from the environment (and an optional `.env`)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class SmtpTls(StrEnum):
    NONE = "none"
    # Plain connection, upgraded with STARTTLS before anything is sent (port 587).
    STARTTLS = "starttls"
    # TLS from the first byte (port 465).
    TLS = "tls"


class Settings(BaseSettings):
    """Settings of one process. Neo4j names follow the variables operators already know."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    environment: Environment = Field(default=Environment.DEVELOPMENT, alias="HOMEWARD_ENV")

    # External Neo4j. When NEO4J_URI is set no local Neo4j is started.
    neo4j_uri: str | None = Field(default=None, alias="NEO4J_URI")
    neo4j_user: str = Field(default="neo4j", alias="NEO4J_USER")
    neo4j_password: SecretStr = Field(default=SecretStr("neo4j"), alias="NEO4J_PASSWORD")
    neo4j_database: str | None = Field(default=None, alias="NEO4J_DATABASE")
    # Short, so that /health and requests fail fast with 503 instead of hanging.
    neo4j_connection_timeout_s: float = Field(default=2.0, alias="NEO4J_CONNECTION_TIMEOUT")
    # How long the API waits for one transaction before answering 503. Without it, a Neo4j
    # that hangs (alive but not answering) would hold a counsellor's request for ever; Neo4j
    # is told the same limit, so that it ends the transaction on its side too. Long enough for
    # the batches of an uploaded import. The command line and the benchmarks set none.
    neo4j_query_timeout_s: float = Field(default=30.0, gt=0, alias="NEO4J_QUERY_TIMEOUT")

    # The local Neo4j that `make run` starts (ignored when NEO4J_URI is set).
    local_neo4j_home: Path = Field(
        default=PROJECT_ROOT / ".neo4j" / "data", alias="HOMEWARD_NEO4J_HOME"
    )
    local_neo4j_port: int = Field(default=7687, alias="HOMEWARD_NEO4J_PORT")
    local_neo4j_heap: str = Field(default="1g", alias="HOMEWARD_NEO4J_HEAP")
    local_neo4j_pagecache: str = Field(default="512m", alias="HOMEWARD_NEO4J_PAGECACHE")
    # The hard cap on a start; before it, a start gives up only when Neo4j exits or its logs
    # stop moving (homeward/neo4j_server.py), so a slow start on a busy machine still succeeds.
    local_neo4j_start_timeout_s: float = Field(
        default=600.0, gt=0, alias="HOMEWARD_NEO4J_START_TIMEOUT"
    )

    api_host: str = Field(default="127.0.0.1", alias="HOMEWARD_HOST")
    api_port: int = Field(default=8000, alias="HOMEWARD_PORT")
    # The address people reach the pages at, for links sent or printed outside them (a link
    # to set a password); by default the address the API listens on.
    public_url: str | None = Field(default=None, alias="HOMEWARD_PUBLIC_URL")
    migrate_on_startup: bool = Field(default=True, alias="HOMEWARD_MIGRATE_ON_STARTUP")

    # Anonymous callers may read the public directory (organisations, services, areas,
    # needs) when this is on; everything else always needs a token.
    allow_anonymous_read: bool = Field(default=True, alias="HOMEWARD_ALLOW_ANONYMOUS_READ")
    # One demo user per role with well-known tokens, for trying the API. Never in production.
    demo_users: bool = Field(default=True, alias="HOMEWARD_DEMO_USERS")

    # Freshness of a service: fresh until `ageing` days after its last verification, ageing
    # until `stale` days, stale after; never verified is "unverified".
    verification_ageing_days: int = Field(
        default=180, ge=1, alias="HOMEWARD_VERIFICATION_AGEING_DAYS"
    )
    verification_stale_days: int = Field(
        default=365, ge=1, alias="HOMEWARD_VERIFICATION_STALE_DAYS"
    )

    # How addresses without coordinates are placed: the offline gazetteer, or Nominatim.
    geocoder: str = Field(
        default="gazetteer", pattern="^(gazetteer|nominatim)$", alias="HOMEWARD_GEOCODER"
    )
    nominatim_user_agent: str = Field(
        default="homeward-directory", alias="HOMEWARD_NOMINATIM_USER_AGENT"
    )
    nominatim_domain: str = Field(
        default="nominatim.openstreetmap.org", alias="HOMEWARD_NOMINATIM_DOMAIN"
    )
    nominatim_scheme: str = Field(default="https", alias="HOMEWARD_NOMINATIM_SCHEME")

    # OIDC / JWT access tokens from an identity provider (all unset: API tokens only).
    oidc_issuer: str | None = Field(default=None, alias="HOMEWARD_OIDC_ISSUER")
    oidc_audience: str | None = Field(default=None, alias="HOMEWARD_OIDC_AUDIENCE")
    oidc_jwks_url: str | None = Field(default=None, alias="HOMEWARD_OIDC_JWKS_URL")
    # The provider's keys inline (a JWKS JSON document), for deployments without a JWKS URL.
    oidc_jwks: str | None = Field(default=None, alias="HOMEWARD_OIDC_JWKS")
    oidc_email_claim: str = Field(default="email", alias="HOMEWARD_OIDC_EMAIL_CLAIM")

    # Personal data at rest: Fernet keys, comma-separated, newest first (see core/crypto.py).
    data_keys: SecretStr | None = Field(default=None, alias="HOMEWARD_DATA_KEYS")
    # Outside production, without HOMEWARD_DATA_KEYS: a key generated once into this file.
    data_key_file: Path = Field(
        default=PROJECT_ROOT / ".homeward" / "data.key", alias="HOMEWARD_DATA_KEY_FILE"
    )

    # Referrals. A sent referral is overdue when not acknowledged within the service's
    # expected response days, or this many days when the service does not say.
    referral_default_response_days: int = Field(
        default=5, ge=1, le=90, alias="HOMEWARD_REFERRAL_RESPONSE_DAYS"
    )
    # Months after arrival at which a monitoring visit is due.
    follow_up_months: list[int] = Field(default=[1, 3, 6, 12], alias="HOMEWARD_FOLLOW_UP_MONTHS")
    # Personal categories of a closed referral, and the personal data of a closed return
    # case, are erased this many days after it closed.
    referral_retention_days: int = Field(
        default=365, ge=1, alias="HOMEWARD_REFERRAL_RETENTION_DAYS"
    )
    # Coordinators' counts below this are suppressed: small cells identify families.
    statistics_minimum_count: int = Field(
        default=3, ge=1, alias="HOMEWARD_STATISTICS_MINIMUM_COUNT"
    )
    # Webhook deliveries are sent by a periodic job this often (seconds); 0 switches the job
    # off in this process (another process, or `homeward`, may deliver instead).
    webhook_interval_s: float = Field(default=10.0, ge=0, alias="HOMEWARD_WEBHOOK_INTERVAL_S")
    # Webhooks go to public addresses only; these networks (JSON list of addresses or CIDR
    # ranges, e.g. ["10.20.0.0/16"]) are allowed too, for a receiver inside the deployment.
    webhook_allowed_networks: list[str] = Field(
        default=[], alias="HOMEWARD_WEBHOOK_ALLOWED_NETWORKS"
    )
    # Overdue announcements and the retention purge run this often (seconds); 0 switches
    # them off in this process (`homeward referrals purge` does the purge by hand).
    housekeeping_interval_s: float = Field(
        default=300.0, ge=0, alias="HOMEWARD_HOUSEKEEPING_INTERVAL_S"
    )
    # The batch duplicate scan (organisations, then services) runs this often (seconds), so
    # the review queue fills without anyone running `homeward duplicates scan`; 0 switches it
    # off in this process. Daily by default: a scan of a large directory takes a while.
    duplicate_scan_interval_s: float = Field(
        default=86_400.0, ge=0, alias="HOMEWARD_DUPLICATE_SCAN_INTERVAL_S"
    )

    # Mail (notices, digests, password links) through an SMTP server; off while no host is
    # set. Mails wait in an outbox in Neo4j until the server takes them (api/mail_delivery.py).
    smtp_host: str | None = Field(default=None, alias="HOMEWARD_SMTP_HOST")
    smtp_port: int = Field(default=587, ge=1, le=65535, alias="HOMEWARD_SMTP_PORT")
    smtp_tls: SmtpTls = Field(default=SmtpTls.STARTTLS, alias="HOMEWARD_SMTP_TLS")
    smtp_user: str | None = Field(default=None, alias="HOMEWARD_SMTP_USER")
    smtp_password: SecretStr | None = Field(default=None, alias="HOMEWARD_SMTP_PASSWORD")
    smtp_timeout_s: float = Field(default=10.0, gt=0, alias="HOMEWARD_SMTP_TIMEOUT_S")
    mail_from: str = Field(default="homeward@localhost", alias="HOMEWARD_MAIL_FROM")
    # The outbox is sent this often (seconds); 0 switches the job off in this process.
    mail_interval_s: float = Field(default=30.0, ge=0, alias="HOMEWARD_MAIL_INTERVAL_S")
    # Daily digests go out at the first run of the mail job after this hour (UTC).
    mail_digest_hour: int = Field(default=7, ge=0, le=23, alias="HOMEWARD_MAIL_DIGEST_HOUR")

    # The in-process search index (graph/search_index.py) is built only for a directory of at
    # most this many services; above it the database ranks every search. 0: never built.
    search_index_max_services: int = Field(
        default=1_000_000, ge=0, alias="HOMEWARD_SEARCH_INDEX_MAX_SERVICES"
    )
    # With the index, the models of the services (and as many organisations) its result pages
    # showed are kept in memory (graph/search_cache.py), least recently used out first;
    # 0: every page is read from the database. About 10 KB per service: 50 MB at the default.
    search_cache_max_entries: int = Field(
        default=5_000, ge=0, alias="HOMEWARD_SEARCH_CACHE_MAX_ENTRIES"
    )

    # Largest upload the import endpoints accept (bytes); larger files get a 413 and are
    # imported with `homeward import` instead.
    import_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1, alias="HOMEWARD_IMPORT_MAX_BYTES")
    # Origins whose web pages may read the public, read-only `/hsds/` API (CORS, GET only):
    # "*" for any, else a comma-separated list; empty: none.
    hsds_cors_origins: str = Field(default="*", alias="HOMEWARD_HSDS_CORS_ORIGINS")

    # Protection of the HTTP API (docs/operations.md). Rate limits use the `limits` notation
    # ("600/minute", "20/second;600/minute"); an empty value switches that limit off.
    rate_limit: str = Field(default="600/minute", alias="HOMEWARD_RATE_LIMIT")
    rate_limit_anonymous: str = Field(default="300/minute", alias="HOMEWARD_RATE_LIMIT_ANONYMOUS")
    # Larger bodies are refused with 413 before they are read to the end.
    max_body_bytes: int = Field(default=1_000_000, ge=1_024, alias="HOMEWARD_MAX_BODY_BYTES")
    # The API's own documentation (/docs, /redoc, /openapi.json): on outside production
    # unless switched off, off in production unless switched on.
    api_docs: bool | None = Field(default=None, alias="HOMEWARD_API_DOCS")
    # /metrics needs an admin token; with this on, requests from the loopback address need
    # none (a Prometheus on the same host). Never on behind a proxy on the same host.
    metrics_from_loopback: bool = Field(default=False, alias="HOMEWARD_METRICS_FROM_LOOPBACK")

    # Operations. Logs are one JSON object per line unless `text` is asked for.
    log_format: str = Field(default="json", pattern="^(json|text)$", alias="HOMEWARD_LOG_FORMAT")
    log_level: str = Field(
        default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", alias="HOMEWARD_LOG_LEVEL"
    )
    # On SIGTERM: how long in-flight requests, then a periodic job's run in progress, may
    # take to finish before they are cut off.
    shutdown_grace_s: float = Field(default=20.0, ge=0, alias="HOMEWARD_SHUTDOWN_GRACE_S")

    @field_validator("rate_limit", "rate_limit_anonymous")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if value.strip():
            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a rate limit such as '600/minute'") from exc
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ip_network(value.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"{value!r} is not an address or a network such as 10.0.0.0/8"
                ) from exc
        return values

    @property
    def uses_local_neo4j(self) -> bool:
        return self.neo4j_uri is None

    @property
    def effective_neo4j_uri(self) -> str:
        if self.neo4j_uri is not None:
            return self.neo4j_uri
        return f"bolt://127.0.0.1:{self.local_neo4j_port}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def demo_users_enabled(self) -> bool:
        return self.demo_users and self.environment is not Environment.PRODUCTION

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None and (
            self.oidc_jwks_url is not None or self.oidc_jwks is not None
        )

    @property
    def graphiql_enabled(self) -> bool:
        return self.environment is not Environment.PRODUCTION

    @property
    def api_docs_enabled(self) -> bool:
        if self.api_docs is not None:
            return self.api_docs
        return self.environment is not Environment.PRODUCTION

    @property
    def introspection_enabled(self) -> bool:
        # A production schema is documented in schema.graphql; there is no need to let any
        # caller map it out field by field.
        return self.environment is not Environment.PRODUCTION


@lru_cache
def get_settings() -> Settings:
    return Settings()
