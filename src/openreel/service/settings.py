"""Service settings: one typed, flat object, loaded once from OPENREEL_* environment variables.

Every field has a working default for the embedded set-up (SQLite and files
under ./openreel-data, no other server), so `openreel serve` needs nothing.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENREEL_", extra="ignore")

    # Deployment. Outside development the server refuses to start with the default secret.
    environment: str = "development"  # development | production
    secret_key: str = "dev-insecure-secret"  # HMAC key for API-key digests; set a long random value in production

    # Access program.
    bootstrap_admin_key: str = ""  # ork_...: registered as the first admin's key; empty = generate and print once
    admin_webhook_urls: list[str] = Field(default_factory=list)  # get key.suspended events (signed like video ones)
    leak_rules: dict[str, float] = Field(default_factory=dict)  # overrides of access.LeakRules fields
    cors_origins: list[str] = Field(default_factory=list)  # browsers from these origins may call the API; none by default
    forwarded_allow_ips: str = ""  # proxies whose X-Forwarded-For is believed, e.g. "127.0.0.1" behind a local reverse proxy; empty = none

    # Where things live.
    data_dir: Path = Path("openreel-data")  # media files; the SQLite database too, unless database_url is set
    database_url: str = ""  # empty = sqlite:///<data_dir>/openreel.db; "postgresql+psycopg://..." for PostgreSQL
    weights: str = ""  # the built-in model's weights folder (saved by `openreel train`); empty = the shipped weights

    # Models: the built-in one plus the catalog in <data_dir>/models.json (`openreel models add`).
    # Sora's names are accepted as aliases, so unmodified client code keeps working.
    model_name: str = "openreel-1"  # what this instance calls its built-in model
    model_aliases: dict[str, str] = Field(default_factory=lambda: {"sora-2": "openreel-1", "sora-2-pro": "openreel-1"})  # client name -> catalog name
    commercial_use: bool = False  # refuse to serve models whose licence is non-commercial (cc-by-nc-*, ...)
    refuse_unplaced_prompts: bool = False  # built-in model: refuse (400) prompts with words it cannot draw, instead of warning
    worker_models: list[str] = Field(default_factory=list)  # models the server's own workers serve; empty = every model
    default_model: str = "sora-2"  # a request without `model` gets this (Sora's default)
    default_size: str = "720x1280"  # Sora's default; generated natively at the same aspect, then scaled
    default_seconds: int = 4  # Sora's default

    # Workers and jobs.
    workers: int = 1  # worker processes, each with the model loaded once
    worker_nice: int = 10  # workers' CPU priority below the API's (0 = equal): polls are answered first, generation gets the rest
    lease_seconds: float = 30.0  # a job whose worker has not heartbeaten for this long is presumed lost
    heartbeat_seconds: float = 2.0  # how often a busy worker renews its lease
    max_attempts: int = 3  # a lost job is retried until this many attempts, then fails with worker_lost
    poll_idle_seconds: float = 0.05  # how long an idle worker sleeps between looks at the queue (a cheap query)
    retention_seconds: int = 7 * 24 * 3600  # downloadable assets expire this long after completion
    poll_after_ms: int = 500  # sent as openai-poll-after-ms, which the SDK's poll() honours

    # Sharing and review.
    auto_approve_roles: list[str] = Field(default_factory=list)  # roles whose share requests skip review, e.g. ["admin"]
    public_base_url: str = ""  # how public pages' URLs start, e.g. https://reels.example.org; empty = from the request
    public_page_ttl_seconds: int = 0  # an approved page stops answering this long after approval (0 = never)

    # Provenance. Every output carries an invisible watermark and C2PA credentials.
    c2pa: bool = True  # sign every MP4 with the instance's certificate chain (made on first start)
    c2pa_chain_pem: str = ""  # an organisation's signing chain (leaf first, PEM); empty = the instance's own CA
    c2pa_key_pem: str = ""  # that leaf's private key (PEM)
    c2pa_ca_pem: str = ""  # the trust anchor verifiers should use for it (PEM); default: the chain's last cert
    visible_watermark: bool = False  # also stamp a small visible label (off by default for self-hosting)
    visible_watermark_text: str = "AI · OpenReel"

    # Moderation.
    moderation: bool = True  # check every prompt before anything is queued
    moderation_policy: str = ""  # a policy YAML; empty = the shipped service/policy.yaml

    # Uploads.
    max_upload_bytes: int = 50 * 1024 * 1024  # whole request body, multipart included
    max_image_pixels: int = 40_000_000  # bigger images are refused before decoding (decompression bombs)
    max_source_seconds: float = 120.0  # longest source video accepted for edits and extensions

    # Webhooks (Standard Webhooks signing).
    webhook_urls: list[str] = Field(default_factory=list)  # receive video.completed and video.failed
    webhook_secret: str = ""  # "whsec_" + base64; required when webhook_urls is set
    webhook_max_attempts: int = 6  # with exponential backoff: 1, 2, 4, 8, 16 s between tries
    webhook_timeout_seconds: float = 5.0

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.environment != "development" and self.secret_key == "dev-insecure-secret":
            raise ValueError("OPENREEL_SECRET_KEY is the development default; set a long random secret "
                             "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))') outside development")
        if self.environment not in ("development", "production"):
            raise ValueError(f"OPENREEL_ENVIRONMENT must be development or production, got {self.environment!r}")
        if (self.webhook_urls or self.admin_webhook_urls) and not self.webhook_secret.startswith("whsec_"):
            raise ValueError("OPENREEL_WEBHOOK_SECRET must be set (whsec_ + base64) when webhook URLs are configured")
        return self

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'openreel.db').resolve()}"


