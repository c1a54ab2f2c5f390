"""Deploy the token suite: for each token its feeds, its reserve policy and the token itself,
every role on its own key, minters configured. Idempotent: a deployment recorded for this
chain, whose code is still on chain, is returned as it is and nothing is sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from devnet.core.accounts import RoleKeys
from devnet.core.artifacts import runtime_matches
from devnet.core.chain import Chain
from devnet.core.money import minor_to_units, units_to_minor
from devnet.core.signing import create_address
from devnet.core.wallets import Wallet

DAY = 86_400


class TokenSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    symbol: str
    decimals: int = Field(ge=0, le=36)
    backing: Literal["fiat", "gold"]
    #: Each issuer minter key's allowance, in whole tokens.
    minter_allowance_tokens: int = 10**15


class DeployConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kgst: TokenSpec = TokenSpec(name="Kyrgyz Som Stablecoin", symbol="KGST", decimals=18, backing="fiat")
    usdkg: TokenSpec = TokenSpec(name="Gold Dollar", symbol="USDKG", decimals=6, backing="gold")
    #: Bank reserve reported in tyiyn (KGS has 2 minor units).
    reserve_feed_decimals: int = 2
    #: LBMA weight lists give fine ounces to 3 decimals.
    ounces_feed_decimals: int = 3
    #: XAU/USD as Chainlink publishes it.
    price_feed_decimals: int = 8
    reserve_heartbeat_s: int = DAY
    ounces_heartbeat_s: int = DAY
    price_heartbeat_s: int = DAY
    #: Minimum collateral ratio for the gold-backed token, in basis points (10000 = 1.0).
    gold_floor_bps: int = Field(default=10_000, ge=10_000)


class TokenDeployment(BaseModel):
    symbol: str
    name: str
    decimals: int
    backing: Literal["fiat", "gold"]
    address: str
    policy: str
    #: feed role -> address: "reserve" (fiat); "ounces" and "price" (gold)
    feeds: dict[str, str]

    def units(self, whole: int) -> int:
        """Whole tokens -> base units."""
        return whole * int(10**self.decimals)

    def from_minor(self, minor: int) -> int:
        """Fiat minor units (tyiyn, cents) -> base units of this token (1:1 with its fiat)."""
        return minor_to_units(minor, self.decimals)

    def to_minor(self, units: int) -> int:
        """Base units -> fiat minor units, floored (a sub-minor remainder is not paid out)."""
        return units_to_minor(units, self.decimals)


class Deployment(BaseModel):
    chain_id: int
    genesis_hash: str
    roles: dict[str, str | list[str]]
    tokens: dict[str, TokenDeployment]

    def token(self, symbol: str) -> TokenDeployment:
        return self.tokens[symbol]

    def contract_addresses(self) -> dict[str, str]:
        """Flat name -> address map (KGST, USDKG, KGST.policy, KGST.feed.reserve, ...)."""
        out: dict[str, str] = {}
        for symbol, t in self.tokens.items():
            out[symbol] = t.address
            out[f"{symbol}.policy"] = t.policy
            out.update({f"{symbol}.feed.{k}": v for k, v in t.feeds.items()})
        return out


def _plan(
    chain: Chain, roles: RoleKeys, config: DeployConfig, first_nonce: int
) -> tuple[list[tuple[str, tuple[object, ...]]], dict[str, TokenDeployment]]:
    """Creation transactions in nonce order and the addresses they will produce.

    Addresses follow from the deployer's nonces, so all contracts go out in one batch
    without waiting for each other.
    """
    deployer = roles.deployer.address
    owner = roles.owner.address
    nonce = first_nonce
    txs: list[tuple[str, tuple[object, ...]]] = []
    tokens: dict[str, TokenDeployment] = {}

    def create(name: str, *args: object) -> str:
        nonce_ = nonce + len(txs)
        txs.append((name, args))
        return create_address(deployer, nonce_)

    token_roles = (
        owner,
        roles.master_minter.address,
        roles.pauser.address,
        roles.blacklister.address,
        roles.rescuer.address,
    )
    for spec in (config.kgst, config.usdkg):
        if spec.backing == "fiat":
            feeds = {
                "reserve": create(
                    "ReserveFeed",
                    config.reserve_feed_decimals,
                    f"{spec.symbol} reserve: bank balance (minor units)",
                    owner,
                    roles.reporter.address,
                )
            }
            policy = create(
                "FiatReservePolicy", owner, feeds["reserve"], spec.decimals, config.reserve_heartbeat_s
            )
        else:
            feeds = {
                "ounces": create(
                    "ReserveFeed",
                    config.ounces_feed_decimals,
                    f"{spec.symbol} collateral: fine troy oz",
                    owner,
                    roles.reporter.address,
                ),
                "price": create(
                    "ReserveFeed", config.price_feed_decimals, "XAU / USD", owner, roles.reporter.address
                ),
            }
            policy = create(
                "GoldCollateralPolicy",
                owner,
                feeds["ounces"],
                feeds["price"],
                spec.decimals,
                config.gold_floor_bps,
                config.ounces_heartbeat_s,
                config.price_heartbeat_s,
            )
        address = create("StableCoin", spec.name, spec.symbol, spec.decimals, token_roles, policy)
        tokens[spec.symbol] = TokenDeployment(
            symbol=spec.symbol,
            name=spec.name,
            decimals=spec.decimals,
            backing=spec.backing,
            address=address,
            policy=policy,
            feeds=feeds,
        )
    return txs, tokens


def _still_deployed(chain: Chain, deployment: Deployment) -> bool:
    if deployment.chain_id != chain.chain_id or deployment.genesis_hash != chain.get_block(0)["hash"]:
        return False
    for token in deployment.tokens.values():
        if not runtime_matches(chain.code(token.address), "StableCoin"):
            return False
        for feed in token.feeds.values():
            if not runtime_matches(chain.code(feed), "ReserveFeed"):
                return False
    return True


def load_deployment(chain: Chain, record: Path) -> Deployment | None:
    """The deployment in `record` if it belongs to this chain and its code is on chain."""
    if not record.is_file():
        return None
    deployment = Deployment.model_validate_json(record.read_text())
    return deployment if _still_deployed(chain, deployment) else None


def deploy_suite(
    chain: Chain, roles: RoleKeys, config: DeployConfig | None = None, record: Path | None = None
) -> Deployment:
    """Deploy KGST and USDKG with their feeds and policies (or return the recorded deployment)."""
    config = config or DeployConfig()
    if record is not None and (existing := load_deployment(chain, record)) is not None:
        return existing

    deployer = Wallet.of(roles.deployer)
    deployer.resync(chain.rpc)
    txs, tokens = _plan(chain, roles, config, chain.nonce(deployer.address, "pending"))
    hashes = [chain.send(deployer, None, chain.encode_deploy(name, *args)) for name, args in txs]
    for h in hashes:
        chain.wait(h)

    master_minter = Wallet.of(roles.master_minter)
    minter_hashes = []
    for spec in (config.kgst, config.usdkg):
        token = chain.contract("StableCoin", tokens[spec.symbol].address)
        allowance = spec.minter_allowance_tokens * 10**spec.decimals
        for minter in roles.minters:
            data = chain.encode_call(token, "configureMinter", minter.address, allowance)
            minter_hashes.append(chain.send(master_minter, token.address, data))
    for h in minter_hashes:
        chain.wait(h)

    deployment = Deployment(
        chain_id=chain.chain_id,
        genesis_hash=chain.get_block(0)["hash"],
        roles=roles.as_addresses(),
        tokens=tokens,
    )
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(deployment.model_dump(), indent=2) + "\n")
    return deployment
