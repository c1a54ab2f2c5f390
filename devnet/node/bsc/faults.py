"""Finality faults on a bsc chain of several validators (`devnet fault`), carried out by the
process that runs them (`devnet.node.bsc.cluster`): the real Parlia engine and its BLS votes,
not a simulation.

- **votes off / on**: validators restarted without `--vote` (bsc has no switch for voting
  alone: it votes while it seals). With fewer voters than the quorum (two thirds of the
  validators, rounded up) no block is justified: `finalized` stalls while blocks continue,
  which is what an exchange or an issuer must survive.
- **validator down / up**: a validator stopped (its turns pass to the others after Parlia's
  out-of-turn delay) and started again (it syncs, then seals and votes again).
- **partition / heal**: the validators split in two groups that do not peer (both sides drop
  each other as static and trusted peers). Parlia lets a validator seal only if it has not
  sealed one of the last `validators // 2 + 1` blocks, so a minority seals a block or two and
  stalls, while a majority carries on and, with two thirds of the votes, finalizes. When they
  heal, the minority's blocks are replaced: a real reorg, as deep as fast finality allows.

The client writes the wanted state, `FaultState`, to `faults.json` in the engine's folder;
the cluster applies it and reports the outcome in `cluster.json` (`ClusterStatus`). Validator
0 serves the devnet's JSON-RPC: it is never stopped or restarted by a fault.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from devnet.core.rpc import Rpc
from devnet.node.process import pid_alive

FAULTS_FILE = "faults.json"
STATUS_FILE = "cluster.json"
#: How far back `heal` compares validator 0's chain before and after (a minority side seals a
#: block or two at most: see the docstring).
HEAL_LOOKBACK = 32
#: How long a fault may take to apply: restarts and syncs of validators, one after the other.
APPLY_TIMEOUT_S = 180.0


class FaultError(ValueError):
    """A fault the chain cannot take (one validator, an unknown one, validator 0 down...)."""


class FaultState(BaseModel):
    """What the cluster should look like. `serial` orders the requests."""

    serial: int = 0
    #: Validators stopped.
    down: list[int] = Field(default_factory=list)
    #: Validators running without `--vote`.
    silent: list[int] = Field(default_factory=list)
    #: Validators cut off from the others (empty: no partition).
    partition: list[int] = Field(default_factory=list)


class ValidatorStatus(BaseModel):
    index: int
    address: str
    url: str
    running: bool
    voting: bool
    #: The others it peers with (by index).
    peers: list[int] = Field(default_factory=list)
    head: int | None = None


class ClusterStatus(BaseModel):
    pid: int
    #: The last `FaultState.serial` carried out, and that state.
    applied: FaultState = Field(default_factory=FaultState)
    validators: list[ValidatorStatus] = Field(default_factory=list)
    #: Why the last request could not be carried out, if it could not.
    error: str | None = None

    def quorum(self) -> int:
        """Votes that justify a block: two thirds of the validators, rounded up (bsc's parlia)."""
        return -(-2 * len(self.validators) // 3)

    def voters(self) -> list[int]:
        return [v.index for v in self.validators if v.running and v.voting]


class ReplacedBlock(BaseModel):
    number: int
    old: str
    new: str


class Healed(BaseModel):
    """A partition healed: the validators, and validator 0's blocks the others' chain replaced."""

    status: ClusterStatus
    replaced: list[ReplacedBlock]

    @property
    def depth(self) -> int:
        return len(self.replaced)


def _number(rpc: Rpc) -> int:
    return int(rpc.call("eth_blockNumber"), 16)


def _hash(rpc: Rpc, number: int) -> str:
    return _hashes(rpc, [number])[number]


def _hashes(rpc: Rpc, numbers: list[int]) -> dict[int, str]:
    """Block number -> hash, in one batch."""
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
    found = {n: str(b["hash"]) for n, b in zip(numbers, blocks, strict=True) if isinstance(b, dict)}
    if len(found) < len(numbers):
        raise FaultError(f"{rpc.url} has no block {min(set(numbers) - set(found))}")
    return found


def write_json_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


class BscCluster:
    """The faults of the validators whose folder is `root` (a devnet's `node.datadir`)."""

    def __init__(self, root: Path, progress: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.progress = progress or (lambda _m: None)

    def status(self) -> ClusterStatus:
        if not (self.root / "validator1").exists():
            raise FaultError(
                "this bsc chain has one validator: faults need several "
                "(`devnet up --engine bsc --validators 3`)"
            )
        path = self.root / STATUS_FILE
        status = ClusterStatus.model_validate_json(path.read_text()) if path.exists() else None
        if status is None or not pid_alive(status.pid):
            raise FaultError("the validators are not running (or still starting): `devnet status` says which")
        return status

    # ---- the faults ----------------------------------------------------------------------------

    def votes_off(self, validators: list[int] | None = None) -> ClusterStatus:
        """Validators vote no more (default: all but validator 0, which serves JSON-RPC and,
        alone, is below the quorum of any cluster)."""
        n = len(self.status().validators)
        chosen = list(range(1, n)) if validators is None else validators
        self._check(chosen, n, allow_first=False)
        return self._apply(lambda s: s.model_copy(update={"silent": sorted(set(s.silent) | set(chosen))}))

    def votes_on(self) -> ClusterStatus:
        return self._apply(lambda s: s.model_copy(update={"silent": []}))

    def validator_down(self, index: int) -> ClusterStatus:
        self._check([index], len(self.status().validators), allow_first=False)
        return self._apply(lambda s: s.model_copy(update={"down": sorted({*s.down, index})}))

    def validator_up(self, index: int | None = None) -> ClusterStatus:
        """Start a stopped validator again (default: all of them)."""
        return self._apply(
            lambda s: s.model_copy(
                update={"down": [] if index is None else [i for i in s.down if i != index]}
            )
        )

    def partition(self, side: list[int]) -> ClusterStatus:
        """Cut `side` off from the other validators."""
        n = len(self.status().validators)
        self._check(side, n, allow_first=True)
        if len(set(side)) >= n:
            raise FaultError("a partition needs validators on both sides")
        return self._apply(lambda s: s.model_copy(update={"partition": sorted(set(side))}))

    def heal(self, settle_timeout: float = 60.0) -> Healed:
        """Join the sides again; then wait until validator 0 agrees with the others on the
        block below their lowest head, and report the blocks of its own it lost to theirs."""
        status = self.status()
        rpc = Rpc(status.validators[0].url)
        head = _number(rpc)
        before = _hashes(rpc, list(range(max(1, head - HEAL_LOOKBACK), head + 1)))
        status = self._apply(lambda s: s.model_copy(update={"partition": []}))
        rpcs = [Rpc(v.url) for v in status.validators if v.running]
        deadline = time.monotonic() + settle_timeout
        while True:
            heads = [_number(r) for r in rpcs]
            mark = min(heads) - 1
            if min(heads) > head and len({_hash(r, mark) for r in rpcs}) == 1:
                break
            if time.monotonic() > deadline:
                raise FaultError(
                    f"the validators did not agree on one chain within {settle_timeout:.0f} s: heads {heads}"
                )
            time.sleep(0.2)
        after = _hashes(rpc, sorted(before))
        replaced = [
            ReplacedBlock(number=n, old=old, new=after[n])
            for n, old in sorted(before.items())
            if after[n] != old
        ]
        # The status the cluster writes next shows them peered again.
        running = [v.index for v in status.validators if v.running]
        while time.monotonic() < deadline:
            status = self.status()
            if all(len(v.peers) == len(running) - 1 for v in status.validators if v.index in running):
                break
            time.sleep(0.2)
        return Healed(status=status, replaced=replaced)

    # ---- carrying out --------------------------------------------------------------------------

    @staticmethod
    def _check(indices: list[int], n: int, allow_first: bool) -> None:
        if not indices:
            raise FaultError("name at least one validator")
        for i in indices:
            if not 0 <= i < n:
                raise FaultError(f"no validator {i}: this chain has validators 0 to {n - 1}")
            if i == 0 and not allow_first:
                raise FaultError(
                    f"validator 0 serves the devnet's JSON-RPC and stays up: choose among 1 to {n - 1}"
                )

    def _apply(
        self, change: Callable[[FaultState], FaultState], timeout: float = APPLY_TIMEOUT_S
    ) -> ClusterStatus:
        current = self.status()
        wanted = change(current.applied).model_copy(update={"serial": current.applied.serial + 1})
        write_json_atomically(self.root / FAULTS_FILE, wanted.model_dump_json())
        self.progress(f"waiting for the validators to apply {wanted.model_dump(exclude={'serial'})}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status.applied.serial >= wanted.serial:
                if status.error:
                    raise FaultError(status.error)
                return status
            time.sleep(0.2)
        raise FaultError(f"the validators did not apply the fault within {timeout:.0f} s")
