"""Configuration precedence: defaults < TOML file < DEVNET_* environment < flags; typos are errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from devnet.config import load_config
from devnet.profile import BscProfile, measured_block_period


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "devnet.toml"
    path.write_text(
        'engine = "anvil"\n'
        '[profile]\nblock_period_s = 2\nnetwork = "chapel"\n'
        "[services.exchange]\nenabled = false\n"
        '[services.issuer]\nurl = "http://localhost:9000"\n'
    )
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./devnet.toml of the checkout
    for name in ("DEVNET_ENGINE", "DEVNET_RUNTIME", "DEVNET_PROFILE__BLOCK_PERIOD_S", "DEVNET_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_run_as_they_are() -> None:
    config = load_config()
    # the BSC client itself, unless told otherwise
    assert (config.engine, config.runtime, config.profile.block_period_s) == ("bsc", "local", 0)
    assert config.profile.chain_id == 714 and config.profile.seal_until_final
    assert config.wanted_services() == {"bank": None, "custodian": None, "issuer": None, "exchange": None}


def test_the_file_overrides_defaults(toml: Path) -> None:
    config = load_config(toml)
    assert (config.engine, config.profile.block_period_s, config.profile.chain_id) == ("anvil", 2, 97)
    assert config.wanted_services() == {
        "bank": None,
        "custodian": None,
        "issuer": "http://localhost:9000",  # external: used, not started
    }


def test_the_environment_overrides_the_file(toml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVNET_ENGINE", "geth")
    monkeypatch.setenv("DEVNET_PROFILE__BLOCK_PERIOD_S", "5")
    config = load_config(toml)
    assert (config.engine, config.profile.block_period_s) == ("geth", 5)
    assert config.profile.network == "chapel"  # what the environment does not name stays the file's


def test_flags_override_the_environment(toml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVNET_PROFILE__BLOCK_PERIOD_S", "5")
    config = load_config(toml, **{"profile.block_period_s": 1, "engine": None})
    assert config.profile.block_period_s == 1
    assert config.engine == "anvil"  # a flag left unset does not override


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "typo.toml"
    bad.write_text("[profile]\nblock_perod_s = 1\n")
    with pytest.raises(ValidationError, match="block_perod_s"):
        load_config(bad)
    worse = tmp_path / "service.toml"
    worse.write_text("[services.bnak]\nenabled = false\n")
    with pytest.raises(ValidationError, match="bnak"):
        load_config(worse)


def test_a_missing_config_file_is_named() -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.toml"):
        load_config(Path("nowhere.toml"))


def test_a_profile_the_engine_cannot_run_is_refused_naming_the_field() -> None:
    """bsc seals every 450 ms by Parlia's rules: a block period would be silently ignored, so it
    is refused, from a flag as from a file; several validators are bsc's alone."""
    with pytest.raises(ValidationError, match=r"profile\.block_period_s=3 is for geth and anvil"):
        load_config(**{"profile.block_period_s": 3})
    assert load_config(engine="geth", **{"profile.block_period_s": 3}).profile.block_period_s == 3
    with pytest.raises(ValidationError, match=r"profile\.bsc_validators=3 is for the bsc engine"):
        load_config(engine="geth", **{"profile.bsc_validators": 3})
    assert load_config(**{"profile.bsc_validators": 3}).profile.bsc_validators == 3


def test_a_measurement_seals_every_second_unless_told_and_bsc_keeps_its_interval() -> None:
    assert [measured_block_period(e, None) for e in ("geth", "anvil", "bsc")] == [1, 1, 0]
    assert measured_block_period("geth", 2) == 2
    assert BscProfile().blocks_text("bsc") == "450 ms blocks (Parlia)"
    assert BscProfile(block_period_s=1).blocks_text("geth") == "1 s blocks"
    assert BscProfile().blocks_text("anvil") == "blocks on demand"


def test_the_cli_names_the_bad_key_in_one_line_and_starts_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from devnet.cli import app

    result = CliRunner().invoke(app, ["up", "--block-period", "2", "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "bad configuration: profile.block_period_s=2 is for geth and anvil" in result.output
    assert "errors.pydantic.dev" not in result.output and "_FromFile" not in result.output
    assert not (tmp_path / "s").exists()
