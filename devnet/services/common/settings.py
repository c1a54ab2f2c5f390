"""Settings every service has; each service extends them with its own."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__")

    host: str = "127.0.0.1"
    port: int = 0
    #: SQLAlchemy URL; SQLite by default (one file per service), PostgreSQL works too.
    database_url: str = ""
    #: Folder for the default SQLite file.
    data_dir: Path = Path(".devnet/services")
    #: Bearer token for /admin endpoints (fault injection, subscriptions).
    admin_token: str = "devnet-admin"
    #: Secret this service signs its outgoing webhooks with.
    webhook_secret: str = Field(default="whsec_devnet", min_length=8)
    #: URLs that receive every webhook this service emits.
    webhook_subscribers: list[str] = []
    #: Secrets of the services whose webhooks this one receives, by sender name.
    inbound_webhook_secrets: dict[str, str] = {}
    #: First retry delay; doubles each attempt up to the maximum.
    webhook_retry_base_s: float = 0.2
    webhook_retry_max_s: float = 5.0
    #: One log line per HTTP request answered (uvicorn's access log). Off by default: under load
    #: it costs the service about 4% of its CPU, and the devnet's own logs name what it did.
    access_log: bool = False

    def db_url(self, name: str) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"
