"""Each role can do its own job and nothing else; BEP-20 metadata is what exchanges read."""

from __future__ import annotations

import pytest

from devnet.core.chain import Reverted
from devnet.core.deploy import Deployment
from devnet.core.tokens import StableCoinClient
from devnet.core.wallets import Wallet
from tests.conftest import RoleWallets


def test_bep20_metadata_and_role_addresses(
    kgst: StableCoinClient, usdkg: StableCoinClient, roles: RoleWallets
) -> None:
    assert (kgst.contract.functions.symbol().call(), kgst.contract.functions.decimals().call()) == (
        "KGST",
        18,
    )
    assert (usdkg.contract.functions.symbol().call(), usdkg.contract.functions.decimals().call()) == (
        "USDKG",
        6,
    )
    c = kgst.contract.functions
    assert c.getOwner().call() == roles.owner.address
    assert c.masterMinter().call() == roles.master_minter.address
    assert c.pauser().call() == roles.pauser.address
    assert c.blacklister().call() == roles.blacklister.address
    assert c.rescuer().call() == roles.rescuer.address
    # every role on its own key
    assert (
        len(
            {
                roles.owner.address,
                roles.master_minter.address,
                roles.pauser.address,
                roles.blacklister.address,
                roles.rescuer.address,
                roles.reporter.address,
            }
        )
        == 6
    )


def test_shared_deployment_gives_every_role_its_own_key(deployment: Deployment) -> None:
    roles = deployment.roles
    singles = [
        roles[k]
        for k in ("deployer", "owner", "master_minter", "pauser", "blacklister", "rescuer", "reporter")
    ]
    minters = roles["minters"]
    assert isinstance(minters, list) and len(minters) >= 2
    assert len(set(singles) | set(minters)) == len(singles) + len(minters)


@pytest.mark.parametrize(
    ("fn", "args", "reason"),
    [
        ("configureMinter", ("alice", 1), "StableCoin: caller is not the masterMinter"),
        ("removeMinter", ("alice",), "StableCoin: caller is not the masterMinter"),
        ("mint", ("alice", 1), "StableCoin: caller is not a minter"),
        ("burn", (1,), "StableCoin: caller is not a minter"),
        ("pause", (), "Pausable: caller is not the pauser"),
        ("unpause", (), "Pausable: caller is not the pauser"),
        ("blacklist", ("alice",), "Blacklistable: caller is not the blacklister"),
        ("unBlacklist", ("alice",), "Blacklistable: caller is not the blacklister"),
        ("destroyBlackFunds", ("alice",), "Blacklistable: caller is not the blacklister"),
        ("rescueERC20", ("token", "alice", 1), "Rescuable: caller is not the rescuer"),
        ("setTransferFee", (1, "alice"), "StableCoin: caller is not the owner"),
        ("setReservePolicy", ("alice",), "StableCoin: caller is not the owner"),
        ("transferOwnership", ("alice",), "StableCoin: caller is not the owner"),
        ("updateMasterMinter", ("alice",), "StableCoin: caller is not the owner"),
        ("updatePauser", ("alice",), "StableCoin: caller is not the owner"),
        ("updateBlacklister", ("alice",), "StableCoin: caller is not the owner"),
        ("updateRescuer", ("alice",), "StableCoin: caller is not the owner"),
    ],
)
def test_role_functions_refuse_outsiders(
    kgst: StableCoinClient, roles: RoleWallets, alice: Wallet, fn: str, args: tuple[object, ...], reason: str
) -> None:
    """An ordinary holder, and every *other* role, is refused with the role's reason."""
    real = [alice.address if a == "alice" else kgst.address if a == "token" else a for a in args]
    outsiders = [
        alice,
        roles.owner,
        roles.master_minter,
        roles.pauser,
        roles.blacklister,
        roles.rescuer,
        roles.minter,
    ]
    owner_of = {
        "StableCoin: caller is not the masterMinter": roles.master_minter,
        "StableCoin: caller is not a minter": roles.minter,
        "Pausable: caller is not the pauser": roles.pauser,
        "Blacklistable: caller is not the blacklister": roles.blacklister,
        "Rescuable: caller is not the rescuer": roles.rescuer,
        "StableCoin: caller is not the owner": roles.owner,
    }[reason]
    for caller in outsiders:
        if caller is owner_of:
            continue
        with pytest.raises(Reverted) as e:
            kgst.chain.transact(caller, kgst.contract, fn, *real)
        assert e.value.reason == reason, f"{fn} from {caller}"


def test_owner_reassigns_roles(
    kgst: StableCoinClient, roles: RoleWallets, alice: Wallet, bob: Wallet
) -> None:
    kgst.chain.transact(roles.owner, kgst.contract, "updatePauser", alice.address)
    kgst.pause(alice)
    assert kgst.paused()
    with pytest.raises(Reverted, match=r"caller is not the pauser"):
        kgst.unpause(roles.pauser)
    kgst.unpause(alice)
    kgst.chain.transact(roles.owner, kgst.contract, "transferOwnership", bob.address)
    assert kgst.contract.functions.getOwner().call() == bob.address
    with pytest.raises(Reverted, match=r"caller is not the owner"):
        kgst.chain.transact(roles.owner, kgst.contract, "updatePauser", roles.pauser.address)


def test_rescuer_returns_tokens_sent_to_the_contract(
    funded_kgst: StableCoinClient, roles: RoleWallets, alice: Wallet, bob: Wallet
) -> None:
    kgst = funded_kgst
    kgst.transfer(alice, kgst.address, kgst.units(7))
    kgst.chain.transact(roles.rescuer, kgst.contract, "rescueERC20", kgst.address, bob.address, kgst.units(7))
    assert kgst.balance_of(kgst.address) == 0
    assert kgst.balance_of(bob) == kgst.units(7)
