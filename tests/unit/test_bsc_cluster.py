"""Several bsc validators, without starting them: each one's P2P config names the others as
peers, and the command line starts the first sealing and the others waiting to be told."""

from __future__ import annotations

import json
import re
from pathlib import Path

from eth_keys.datatypes import PrivateKey

from devnet.node.bsc.node import (
    ValidatorRecord,
    _write_p2p_configs,
    bsc_argv,
    node_key,
    validator_dir,
)
from devnet.profile import BscProfile

PROFILE = BscProfile(bsc_validators=3)


def _records(root: Path) -> None:
    for i in range(PROFILE.bsc_validators):
        validator_dir(root, i).mkdir(parents=True)
        address, key, operator = f"0x{i + 1:040x}", "0x" + "aa" * 48, "0x" + "bb" * 20
        record = ValidatorRecord(address=address, bls_public_key=key, operator=operator, bls_proof="0x")
        record.save(validator_dir(root, i))


def test_each_validator_peers_with_the_others_on_loopback(tmp_path: Path) -> None:
    _records(tmp_path)
    _write_p2p_configs(PROFILE, tmp_path)
    configs = [(validator_dir(tmp_path, i) / "config.toml").read_text() for i in range(3)]
    ids = [PrivateKey(node_key(PROFILE, i)).public_key.to_bytes().hex() for i in range(3)]
    for i, config in enumerate(configs):
        port = re.search(r'ListenAddr = "127\.0\.0\.1:(\d+)"', config)
        assert port is not None
        static = re.search(r"StaticNodes = \[(.*)\]", config)
        assert static is not None
        peers = json.loads(f"[{static.group(1)}]")
        others = sorted(ids[:i] + ids[i + 1 :])
        assert sorted(p.split("@")[0].removeprefix("enode://") for p in peers) == others
        assert all("@127.0.0.1:" in p for p in peers)


def test_the_first_validator_seals_at_once_and_the_others_when_told(tmp_path: Path) -> None:
    _records(tmp_path)
    argv = bsc_argv(PROFILE, tmp_path, 8545, python="python3")
    assert argv[:3] == ["python3", "-m", "devnet.node.bsc.cluster"]
    children = [json.loads(a) for a in argv[3:]]
    assert len(children) == 3
    assert "--mine" in children[0] and children[0][children[0].index("--http.port") + 1] == "8545"
    for other in children[1:]:
        assert "--mine" not in other
        assert "miner" in other[other.index("--http.api") + 1].split(",")
        assert other[other.index("--http.addr") + 1] == "127.0.0.1"


def test_the_first_validator_restarts_on_another_port_or_without_sealing(tmp_path: Path) -> None:
    from devnet.node.bsc.cluster import _variant

    _records(tmp_path)
    first = json.loads(bsc_argv(PROFILE, tmp_path, 8545, python="python3")[3])
    private = _variant(first, port=9999)
    assert private[private.index("--http.port") + 1] == "9999" and "--mine" in private
    waiting = _variant(first, seal=False)
    assert waiting[waiting.index("--http.port") + 1] == "8545" and "--mine" not in waiting
    assert "miner" in waiting[waiting.index("--http.api") + 1].split(",")
    assert "--mine" in first  # the original is left as it was


def test_validators_silenced_together_restart_one_after_the_other(tmp_path: Path) -> None:
    """Found in CI: `votes-off` on validators 1 and 2 of three stopped both, then restarted
    them; the chain had stalled at the head both still had, both sealed on it before either
    had synced, and each discarded the other's blocks for good. Now each is stopped and
    restarted (synced, sealing) before the next is stopped, and one going down goes first."""
    from devnet.node.bsc.cluster import Cluster
    from devnet.node.bsc.faults import FaultState

    _records(tmp_path)
    argvs = [json.loads(a) for a in bsc_argv(PROFILE, tmp_path, 8545, python="python3")[3:]]
    calls: list[tuple[str, int]] = []

    class Recording(Cluster):
        def stop_child(self, i: int) -> None:
            calls.append(("stop", i))
            self.children[i] = None

        def restart(self, i: int, vote: bool, side: list[int]) -> None:
            calls.append(("restart", i))
            self.children[i] = object()  # type: ignore[assignment]
            self.voting[i] = vote

        def partition(self, side: list[int]) -> None:
            pass

    cluster = Recording(argvs)
    cluster.children = [object()] * 3  # type: ignore[list-item]
    cluster.apply(FaultState(serial=1, silent=[1, 2]))
    assert calls == [("stop", 1), ("restart", 1), ("stop", 2), ("restart", 2)]

    calls.clear()
    cluster.apply(FaultState(serial=2, down=[2], silent=[1]))
    assert calls == [("stop", 2)]  # 1 stays silent as it is

    calls.clear()
    cluster.apply(FaultState(serial=3))
    assert calls == [("stop", 1), ("restart", 1), ("stop", 2), ("restart", 2)]
