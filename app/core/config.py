"""Settings read from the environment (and `.env`), one place for every knob.

Why a cached factory rather than a module global: tests switch databases per run,
and `get_settings.cache_clear()` is all it takes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-change-me"  # noqa: S105 - refused in production below


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", env_prefix=""
    )

    database_url: str = "sqlite:///./alertdrill.db"
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    alertdrill_env: Literal["development", "test", "production"] = "development"
    session_cookie_secure: bool = False
    session_max_age_s: int = 12 * 3600
    login_max_failures: int = 5
    login_lockout_s: int = 300
    scenarios_dir: str = "scenarios"
    db_pool_size: int = 10
    argon2_profile: Literal["default", "test"] = "default"
    log_level: str = "INFO"
    # Mounts /bench/hello and /bench/insert, the baselines the load benchmarks compare
    # against on the same server. Off by default; never enable in production.
    bench_routes: bool = False

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, v: str) -> str:
        # Heroku-style URLs and bare postgresql:// both mean psycopg 3 here.
        for prefix in ("postgres://", "postgresql://"):
            if v.startswith(prefix):
                return "postgresql+psycopg://" + v[len(prefix) :]
        return v

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.alertdrill_env == "production" and self.secret_key.get_secret_value() in ("", DEV_SECRET):
            raise ValueError("SECRET_KEY must be set when ALERTDRILL_ENV=production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.alertdrill_env == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
