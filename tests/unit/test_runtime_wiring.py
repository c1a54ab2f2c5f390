"""Each component's wiring: which of the world's URLs and secrets a service gets, as it reaches
them from where each runtime puts it; the environment its settings reach it by; the node's
command lines and Output. Pure functions: nothing starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from devnet.components import (
    GETH_CONTAINER_PORTS,
    SERVICE_NAMES,
    SPECS,
    NodeInput,
    Wiring,
    node_component,
    node_entry,
    service_entry,
)
from devnet.core.accounts import ROLE_LAYOUT
from devnet.core.env import DevnetEnv, Launch
from devnet.profile import BscProfile
from devnet.runtime.base import Placement, Started
from devnet.runtime.local import LocalRuntime

RPC = "http://127.0.0.1:8545"
KGST, USDKG = "0x" + "1" * 40, "0x" + "2" * 40
SECRETS = {name: f"whsec_{name}_0123456789" for name in SERVICE_NAMES}


def _token(symbol: str, address: str) -> dict[str, object]:
    backing = "fiat" if symbol == "KGST" else "gold"
    return {"symbol": symbol, "name": symbol, "decimals": 18, "backing": backing, "address": address,
            "policy": address, "feeds": {}}  # fmt: skip


def _env(**components: dict[str, object]) -> DevnetEnv:
    """A devnet with the node at RPC and `components` (name -> ComponentEntry fields) up."""
    return DevnetEnv.model_validate(
        {
            "chain_id": 714,
            "rpc_url": RPC,
            "gas_price_wei": 50_000_000,
            "mnemonic": "test test test test test test test test test test test junk",
            "free_accounts": (20, 500),
            "contracts": {"KGST": KGST, "USDKG": USDKG},
            "deployment": {
                "chain_id": 714,
                "genesis_hash": "0x00",
                "roles": {},
                "tokens": {"KGST": _token("KGST", KGST), "USDKG": _token("USDKG", USDKG)},
            },
            "node": {"engine": "geth", "pid": 1},
            "services": {name: c["url"] for name, c in components.items()},
            "webhook_secrets": SECRETS,
            "components": components,
        }
    )


BANK = {"url": "http://127.0.0.1:4001", "pid": 11}
CUSTODIAN = {"url": "http://127.0.0.1:4002", "pid": 12}


def test_locally_the_issuer_gets_the_host_urls_and_env_json_where_it_is(tmp_path: Path) -> None:
    env = _env(bank=BANK, custodian=CUSTODIAN)
    reach = LocalRuntime().reach(env, tmp_path / "env.json", "issuer", 8000)
    settings = SPECS["issuer"].wire(Wiring(env, reach, custodian_signer="0xSigner"))
    assert SPECS["issuer"].environment(settings) == {
        "ISSUER_ENV_FILE": str((tmp_path / "env.json").resolve()),
        "ISSUER_BANK_URL": BANK["url"],
        "ISSUER_CUSTODIAN_URL": CUSTODIAN["url"],
        "ISSUER_PUBLIC_URL": "",  # its own host and port
        "ISSUER_WEBHOOK_SECRET": SECRETS["issuer"],
        "ISSUER_INBOUND_WEBHOOK_SECRETS": json.dumps(
            {"bank": SECRETS["bank"], "custodian": SECRETS["custodian"]}
        ),
        "ISSUER_CUSTODIAN_SIGNER": "0xSigner",
    }
    assert reach.files == ()


def test_in_a_container_the_issuer_reaches_the_others_by_alias_and_reads_its_own_env_json() -> None:
    pytest.importorskip("testcontainers")
    from devnet.runtime.docker import CONTAINER_ENV_FILE, container_reach

    external = {"url": "https://vault.example", "external": True}
    env = _env(bank={"url": "http://127.0.0.1:4001", "container": "c1"}, custodian=external)
    inside = {"node": "http://node:8545", "bank": "http://bank:8000"}
    reach = container_reach(env, inside, "issuer", 8000)
    settings = SPECS["issuer"].wire(Wiring(env, reach))
    assert (settings.bank_url, settings.custodian_url) == ("http://bank:8000", "https://vault.example")
    assert (str(settings.env_file), settings.public_url) == (CONTAINER_ENV_FILE, "http://issuer:8000")
    (copied,) = reach.files
    assert copied.destination == CONTAINER_ENV_FILE and isinstance(copied.source, bytes)
    seen = DevnetEnv.model_validate_json(copied.source)
    assert seen.rpc_url == "http://node:8545"
    assert seen.services == {"bank": "http://bank:8000", "custodian": "https://vault.example"}
    assert seen.contracts == env.contracts and env.rpc_url == RPC  # the host's copy is untouched


def test_the_exchange_gets_the_node_the_tokens_and_its_gas_funder() -> None:
    pytest.importorskip("testcontainers")
    from devnet.runtime.docker import container_reach

    env = _env()
    settings = SPECS["exchange"].wire(
        Wiring(env, container_reach(env, {"node": "http://node:8545"}, "exchange", 8000))
    )
    assert settings.rpc_url == "http://node:8545" and settings.chain_id == 714
    assert settings.tokens == {"KGST": KGST, "USDKG": USDKG}
    assert (settings.gas_funder_mnemonic, settings.gas_funder_index) == (
        env.mnemonic,
        ROLE_LAYOUT.exchange_gas_funder,
    )
    environment = SPECS["exchange"].environment(settings)
    assert json.loads(environment["EXCHANGE_TOKENS"]) == {"KGST": KGST, "USDKG": USDKG}
    assert environment["EXCHANGE_CHAIN_ID"] == "714" and environment["EXCHANGE_GAS_PRICE_WEI"] == "50000000"


@pytest.mark.parametrize("name", ["bank", "custodian"])
def test_the_bank_and_the_custodian_get_their_webhook_secret_only(name: str, tmp_path: Path) -> None:
    env = _env()
    settings = SPECS[name].wire(Wiring(env, LocalRuntime().reach(env, tmp_path / "env.json", name, 8000)))
    assert SPECS[name].environment(settings) == {f"{name.upper()}_WEBHOOK_SECRET": SECRETS[name]}


def test_settings_are_made_from_the_given_values_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's variables are the service's to read where it runs, not the wiring's:
    a container would otherwise get the host's."""
    monkeypatch.setenv("BANK_BIC", "HOSTKG22")
    settings = SPECS["bank"].settings({"webhook_subscribers": ["http://127.0.0.1:9/hook"]})
    assert settings.bic == "MOCKKG22"
    assert SPECS["bank"].environment(settings) == {"BANK_WEBHOOK_SUBSCRIBERS": '["http://127.0.0.1:9/hook"]'}
    with pytest.raises(ValidationError, match="no_such_setting"):
        SPECS["bank"].settings({"no_such_setting": 1})


def test_a_service_runs_on_its_placement() -> None:
    settings = SPECS["custodian"].settings({})
    component = SPECS["custodian"].component(settings, Path("/state/services"))
    local = component.argv(Placement(host="127.0.0.1", port=4002, python="/venv/python", in_container=False))
    inside = component.argv(Placement(host="0.0.0.0", port=8000, python="python", in_container=True))
    assert local == [
        *("/venv/python", "-m", "devnet.services.custodian"),
        *("--host", "127.0.0.1", "--port", "4002", "--data-dir", "/state/services"),
    ]
    assert inside[0] == "python" and inside[-4:] == ["--port", "8000", "--data-dir", "/data"]
    assert (component.port, component.log_path) == (8000, Path("/state/services/custodian.log"))


def test_the_geth_node_runs_on_its_datadir_locally_and_on_the_copy_in_its_container(tmp_path: Path) -> None:
    node = NodeInput(engine="geth", profile=BscProfile(), workdir=tmp_path)
    component = node_component(node)
    assert component.datadir == tmp_path / "geth-data" and component.log_path == tmp_path / "geth.log"
    ((copied, destination),) = [(f.source, f.destination) for f in component.files]
    assert (copied, destination) == (tmp_path / "geth-data", "/")  # lands at /geth-data
    inside = component.argv(Placement(host="0.0.0.0", port=8545, python="python", in_container=True))
    geth = inside[inside.index("--") + 1 :]
    assert geth[0] == "geth" and geth[geth.index("--datadir") + 1] == "/geth-data"
    assert geth[geth.index("--http.port") + 1] == str(GETH_CONTAINER_PORTS[0])
    assert inside[:3] == ["python", "-m", "devnet.consensus"] and inside[inside.index("--port") + 1] == "8545"
    assert component.readiness.rpc_result == hex(714)


def test_the_nodes_output_is_its_env_json_entry() -> None:
    node = NodeInput(engine="geth", profile=BscProfile(block_period_s=2), workdir=Path("/state/node"))
    launch = Launch(argv=["python"], cwd="/", log_path="/state/node/geth.log")
    local = Started(url=RPC, pid=7, log_path="/state/node/geth.log", datadir="/state/node/geth-data",
                    launch=launch, seconds=1.5)  # fmt: skip
    entry = node_entry(node, local)
    assert (entry.engine, entry.pid, entry.datadir, entry.block_period_s) == (
        "geth",
        7,
        "/state/node/geth-data",
        2,
    )
    assert entry.launch == launch and entry.container is None
    docker = node_entry(node, Started(url=RPC, container="c0ffee", seconds=2.0))
    assert (docker.container, docker.pid, docker.log_path, docker.datadir) == ("c0ffee", None, None, None)
    bank = service_entry(Started(url=BANK["url"], pid=11, log_path="/state/services/bank.log", seconds=1.0))
    assert (bank.url, bank.pid, bank.external) == (BANK["url"], 11, False)
