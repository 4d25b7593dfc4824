"""Who may hold a key and what a key is: roles, scopes, the key format, and the users and api_keys tables.

A module of its own because two others read it: access.py (which creates,
checks and revokes keys) and leaks.py (whose request counter writes a key's
last_used_at). Keys are `ork_` + 43 URL-safe characters; only their
HMAC-SHA256 digest is stored (access.py computes it under the server secret).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, String, Table, Text

from .store import metadata

SCOPES = ("videos:create", "videos:read", "videos:delete", "review", "admin")
ROLES: dict[str, tuple[str, ...]] = {  # the scopes a role's keys may carry
    "admin": SCOPES,
    "reviewer": ("videos:read", "review"),
    "creator": ("videos:create", "videos:read", "videos:delete"),
    "viewer": ("videos:read",),
}
KEY_PREFIX = "ork_"

users = Table(
    "users", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),  # key_...: how admins refer to a key; never the secret
    Column("digest", String(64), unique=True, nullable=False),  # HMAC-SHA256(server secret, key), hex
    Column("prefix", String(16), nullable=False),  # the first characters, for people to recognise it
    Column("name", String(200), nullable=False),
    Column("owner_id", String(40), nullable=False, index=True),
    Column("scopes", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger),
    Column("expires_at", BigInteger),
    Column("revoked_at", BigInteger),
    Column("suspended_at", BigInteger),
    Column("suspended_reason", Text),
    # Limits (null = no limit).
    Column("rpm", Integer),  # requests per minute
    Column("max_concurrent", Integer),  # queued + running jobs at once
    Column("max_seconds", Integer),  # per video
    Column("max_pixels", Integer),  # per video, width x height of the output
    Column("daily_seconds", Integer),  # video-seconds per UTC day
    Column("allowed_cidrs", JSON),  # client networks, e.g. ["10.0.0.0/8"]
)
