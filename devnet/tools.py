"""Locate and install the external tools: geth and bsc (Go module proxy), anvil and solc-js (npm).

Nothing is downloaded from anywhere but the package registries: geth is compiled from source
with `go install`, bsc with `go build` in the Go tools module `devnet/node/bsc/module`
(its go.mod and go.sum pin bnb-chain/bsc), anvil and solc come from npm packages pinned in
package.json.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from devnet.core.paths import NODE_MODULES, REPO_ROOT, TOOLS_BIN

#: geth 1.17.5 adds a post-Osaka fork to dev mode that BSC does not have; stay on 1.17.4.
GETH_VERSION = "v1.17.4"
GETH_MODULE = "github.com/ethereum/go-ethereum/cmd/geth"
#: bnb-chain/bsc, the BSC client (Parlia, BLS fast finality, 450 ms blocks since Fermi). It keeps
#: go-ethereum's module path, so its command is GETH_MODULE built inside BSC_GO_MODULE, whose
#: go.mod replaces go-ethereum by bnb-chain/bsc at this version.
BSC_VERSION = "v1.7.8"
BSC_GO_MODULE = REPO_ROOT / "devnet" / "node" / "bsc" / "module"


class ToolMissing(RuntimeError):
    """A required binary is absent; the message says how to install it."""


def _located(override: str, default: Path, how: str) -> Path:
    """The binary the environment variable `override` names, else `default`; ToolMissing
    (saying `how` to get it) when there is no file there."""
    explicit = os.environ.get(override)
    path = Path(explicit) if explicit else default
    if not path.is_file():
        raise ToolMissing(
            f"{default.name} not found at {path}. Install it with `devnet tools install` ({how}), "
            f"or set {override} to the path of one."
        )
    return path


def geth_path() -> Path:
    return _located(
        "DEVNET_GETH",
        TOOLS_BIN / "geth",
        f"runs `go install {GETH_MODULE}@{GETH_VERSION}`; needs Go >= 1.24 on PATH",
    )


def bsc_path() -> Path:
    return _located(
        "DEVNET_BSC",
        TOOLS_BIN / "bsc",
        f"builds bnb-chain/bsc {BSC_VERSION} from the Go tools module in {BSC_GO_MODULE}; "
        "needs Go >= 1.25 and a C compiler on PATH",
    )


def anvil_path() -> Path:
    return _located(
        "DEVNET_ANVIL",
        NODE_MODULES / "@foundry-rs/anvil-linux-amd64/bin/anvil",
        "runs `npm ci`, which fetches @foundry-rs/anvil-linux-amd64",
    )


def solcjs_path() -> Path:
    path = NODE_MODULES / ".bin" / "solcjs"
    if not path.is_file():
        raise ToolMissing(f"solc-js not found at {path}. Install it with `devnet tools install` (npm ci).")
    return path


def install_npm_packages(log: Callable[[str], None] = print) -> float:
    """`npm ci` from the committed lock file; returns seconds taken."""
    if shutil.which("npm") is None:
        raise ToolMissing("npm is not on PATH: install Node.js >= 18 (Debian: apt-get install nodejs npm).")
    started = time.monotonic()
    log("npm ci (solc, @openzeppelin/contracts, anvil; ethers and cast for the client tests) ...")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=REPO_ROOT, check=True)
    return time.monotonic() - started


def install_geth(log: Callable[[str], None] = print) -> float:
    """Compile the pinned geth into the project's tools folder; returns seconds taken."""
    go = shutil.which("go")
    if go is None:
        raise ToolMissing(
            "Go is not on PATH: geth is built from source through the Go module proxy. "
            "Install Go >= 1.24 (Debian: apt-get install golang-go, or the go.dev tarball)."
        )
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"go install {GETH_MODULE}@{GETH_VERSION} (a few minutes on a cold module cache) ...")
    # CGO off gives a static binary that a FROM-scratch image can run.
    env = {**os.environ, "GOBIN": str(TOOLS_BIN), "CGO_ENABLED": "0"}
    subprocess.run([go, "install", f"{GETH_MODULE}@{GETH_VERSION}"], env=env, check=True)
    return time.monotonic() - started


def install_bsc(log: Callable[[str], None] = print) -> float:
    """Compile the pinned bsc into the project's tools folder; returns seconds taken.

    `go build` inside the Go tools module: the module's go.mod pins bnb-chain/bsc (as the
    replacement of go-ethereum) and repeats bsc's own replace directives, which is why
    `go install ...@version` cannot build it. cgo stays on: the BLS vote keys need it."""
    go = shutil.which("go")
    if go is None:
        raise ToolMissing(
            "Go is not on PATH: bsc is built from source through the Go module proxy. "
            "Install Go >= 1.25 (Debian: apt-get install golang-go, or the go.dev tarball)."
        )
    if shutil.which(os.environ.get("CC", "gcc")) is None:
        raise ToolMissing(
            "bsc needs cgo (its BLS library): install a C compiler (Debian: apt-get install gcc)."
        )
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(
        f"go build bnb-chain/bsc {BSC_VERSION} (cmd/geth) in {BSC_GO_MODULE.relative_to(REPO_ROOT)} "
        "(3-4 minutes on 2 cores with a cold cache) ..."
    )
    env = {**os.environ, "CGO_ENABLED": "1"}
    subprocess.run(
        [go, "build", "-o", str(TOOLS_BIN / "bsc"), GETH_MODULE], cwd=BSC_GO_MODULE, env=env, check=True
    )
    return time.monotonic() - started


def _version_of(binary: Callable[[], Path]) -> str | None:
    """What `<binary> version` reports as its version, "v1.2.3"; None when it is missing."""
    try:
        out = subprocess.run([str(binary()), "version"], capture_output=True, text=True, check=True)
    except (ToolMissing, subprocess.CalledProcessError):
        return None
    for line in out.stdout.splitlines():
        if line.startswith("Version:"):
            return "v" + line.split(":", 1)[1].strip().removesuffix("-stable")
    return None


def installed_geth_version() -> str | None:
    return _version_of(geth_path)


def installed_bsc_version() -> str | None:
    return _version_of(bsc_path)
