"""Service settings: environment variables (``AMAS_*``), overridable from the command line.

Secrets (API keys, the database password) live here only; :meth:`Settings.describe`
gives the loggable view without them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DEFAULT_MODELS",
    "ProviderConfig",
    "Settings",
    "SettingsError",
    "api_key_env_var",
    "without_password",
]

DEFAULT_MODELS: Mapping[str, str] = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku",
    "mistral_ai": "mistral-small",
}
"""Model used for a provider when AMAS_PROVIDERS names none."""


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message names the variable."""


@dataclass(frozen=True)
class ProviderConfig:
    """One AI provider, in fallback order."""

    name: str
    model: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)


def api_key_env_var(provider: str) -> str:
    """``openai`` → ``AMAS_OPENAI_API_KEY``."""
    return f"AMAS_{re.sub(r'[^A-Za-z0-9]', '_', provider).upper()}_API_KEY"


def without_password(url: str) -> str:
    """The URL with its password (if any) replaced by ``***``, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _parse_providers(raw: str, env: Mapping[str, str]) -> tuple[ProviderConfig, ...]:
    """``name[:model]=url,...`` in fallback order; keys from ``AMAS_<NAME>_API_KEY``."""
    providers = []
    for item in filter(None, (p.strip() for p in raw.split(","))):
        spec, sep, url = item.partition("=")
        name, _, model = spec.partition(":")
        name, model, url = name.strip(), model.strip(), url.strip()
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise SettingsError(
                f"Invalid AMAS_PROVIDERS entry {item!r}: expected name[:model]=http://host:port, e.g. "
                "openai:gpt-4o-mini=http://127.0.0.1:8101"
            )
        model = model or DEFAULT_MODELS.get(name, "")
        if not model:
            raise SettingsError(
                f"Invalid AMAS_PROVIDERS entry {item!r}: no default model for {name!r}; name one"
            )
        providers.append(ProviderConfig(name, model, url.rstrip("/"), env.get(api_key_env_var(name)) or None))
    if len({p.name for p in providers}) != len(providers):
        raise SettingsError(f"Invalid AMAS_PROVIDERS {raw!r}: a provider is named twice")
    return tuple(providers)


def _parse_users(raw: str) -> dict[str, str]:
    users = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, password = item.partition(":")
        if not sep or not name or not password:
            raise SettingsError("Invalid AMAS_USERS: expected user:password,user2:password2")
        users[name] = password
    return users


def _number(
    env: Mapping[str, str], var: str, default: float, *, minimum: float, integer: bool = False
) -> Any:
    raw = env.get(var)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        kind = "a whole number" if integer else "a number"
        raise SettingsError(f"Invalid {var}: expected {kind} of at least {minimum}, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default="postgresql://amas@127.0.0.1:5432/amas", repr=False)
    redis_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)
    providers: tuple[ProviderConfig, ...] = ()
    workers: int = 4
    key_prefix: str = "amas"
    """Prefix of every Redis key (queues, cache), so several services or tests share one Redis."""
    db_pool_min: int = 2
    db_pool_max: int = 10
    cache_ttl_seconds: float = 30.0
    provider_timeout_seconds: float = 10.0
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 10.0
    active_user_window_seconds: float = 300.0
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Demo accounts for POST /login (user → password), stored hashed in PostgreSQL."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``AMAS_*`` variables; keyword overrides (the CLI) win over them."""
        env = os.environ if env is None else env
        base = cls()
        settings = cls(
            database_url=env.get("AMAS_DATABASE_URL", base.database_url),
            redis_url=env.get("AMAS_REDIS_URL", base.redis_url),
            providers=_parse_providers(env.get("AMAS_PROVIDERS", ""), env),
            workers=_number(env, "AMAS_WORKERS", base.workers, minimum=0, integer=True),
            key_prefix=env.get("AMAS_KEY_PREFIX", base.key_prefix),
            db_pool_min=_number(env, "AMAS_DB_POOL_MIN", base.db_pool_min, minimum=1, integer=True),
            db_pool_max=_number(env, "AMAS_DB_POOL_MAX", base.db_pool_max, minimum=1, integer=True),
            cache_ttl_seconds=_number(env, "AMAS_CACHE_TTL_SECONDS", base.cache_ttl_seconds, minimum=0.001),
            provider_timeout_seconds=_number(
                env, "AMAS_PROVIDER_TIMEOUT_SECONDS", base.provider_timeout_seconds, minimum=0.001
            ),
            breaker_failure_threshold=_number(
                env, "AMAS_BREAKER_FAILURE_THRESHOLD", base.breaker_failure_threshold, minimum=1, integer=True
            ),
            breaker_reset_seconds=_number(
                env, "AMAS_BREAKER_RESET_SECONDS", base.breaker_reset_seconds, minimum=0
            ),
            active_user_window_seconds=_number(
                env, "AMAS_ACTIVE_USER_WINDOW_SECONDS", base.active_user_window_seconds, minimum=1
            ),
            users=_parse_users(env.get("AMAS_USERS", "")),
        )
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if isinstance(overrides.get("providers"), str):
            overrides["providers"] = _parse_providers(overrides["providers"], env)
        return replace(settings, **overrides).validated()

    def validated(self) -> Settings:
        if not self.providers:
            raise SettingsError("No AI provider: set AMAS_PROVIDERS, e.g. openai=http://127.0.0.1:8101")
        if self.db_pool_min > self.db_pool_max:
            raise SettingsError("Invalid AMAS_DB_POOL_MIN: must not exceed AMAS_DB_POOL_MAX")
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError(
                f"Invalid AMAS_DATABASE_URL {without_password(self.database_url)!r}: expected postgresql://"
            )
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                f"Invalid AMAS_REDIS_URL {without_password(self.redis_url)!r}: expected redis://"
            )
        return self

    def describe(self) -> dict[str, Any]:
        """What is safe to log: no passwords, no keys."""
        return {
            "database_url": without_password(self.database_url),
            "redis_url": without_password(self.redis_url),
            "providers": [f"{p.name}:{p.model}={p.base_url}" for p in self.providers],
            "workers": self.workers,
            "key_prefix": self.key_prefix,
        }
