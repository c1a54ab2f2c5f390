"""Devnet configuration: pydantic models with defaults that run.

Precedence, lowest first: defaults < TOML file (`devnet.toml`, or `--config PATH`) <
environment variables (`DEVNET_ENGINE`, `DEVNET_PROFILE__BLOCK_PERIOD_S`, ...) < CLI flags.
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from devnet.components import SERVICE_NAMES
from devnet.core.deploy import DeployConfig
from devnet.profile import DEFAULT_ENGINE, BscProfile, Engine
from devnet.runtime import RuntimeName

DEFAULT_CONFIG_FILE = Path("devnet.toml")


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    #: An external service (e.g. an issuer's own backend): used at this URL, not started.
    url: str | None = None


def _default_services() -> dict[str, ServiceConfig]:
    return {name: ServiceConfig() for name in SERVICE_NAMES}


class DevnetConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVNET_", env_nested_delimiter="__", extra="forbid")

    #: bsc (the BSC client itself) unless told otherwise; geth seals on demand and injects
    #: reorgs, anvil is the fastest.
    engine: Engine = DEFAULT_ENGINE
    #: local (child processes, the default) or docker (containers; needs a Docker engine).
    runtime: RuntimeName = "local"
    #: Where env.json, node data and logs go.
    state_dir: Path = Path(".devnet")
    profile: BscProfile = BscProfile()
    contracts: DeployConfig = DeployConfig()
    services: dict[str, ServiceConfig] = Field(default_factory=_default_services)

    @field_validator("services")
    @classmethod
    def _known_services(cls, value: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
        unknown = set(value) - set(SERVICE_NAMES)
        if unknown:
            raise ValueError(f"unknown service(s) {sorted(unknown)}; the devnet has {list(SERVICE_NAMES)}")
        return {**_default_services(), **value}

    @model_validator(mode="after")
    def _profile_fits_engine(self) -> DevnetConfig:
        conflict = self.profile.engine_conflict(self.engine)
        if conflict:
            raise ValueError(f"profile.{conflict}")
        return self

    def wanted_services(self) -> dict[str, str | None]:
        """name -> None (start it) or URL (external), for every enabled service."""
        return {name: svc.url for name, svc in self.services.items() if svc.enabled}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_config(path: Path | None = None, **overrides: Any) -> DevnetConfig:
    """Read `path` (or ./devnet.toml when it exists), then env vars, then `overrides`."""
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    toml_file = path or (DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None)

    class _FromFile(DevnetConfig):
        model_config = SettingsConfigDict(**{**DevnetConfig.model_config, "toml_file": toml_file})

    # Flags left unset on the command line arrive as None: they do not override.
    init = _nest({k: v for k, v in overrides.items() if v is not None})
    config = _FromFile(**init)
    return DevnetConfig.model_validate(config.model_dump())


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"profile.block_period_s": 1} -> {"profile": {"block_period_s": 1}}"""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        target = nested
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = value
    return nested
