"""Locate and install the external tools: geth (Go module proxy), anvil and solc-js (npm).

Nothing is downloaded from anywhere but the package registries: geth is compiled from source
with `go install`, anvil and solc come from npm packages pinned in package.json.
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


class ToolMissing(RuntimeError):
    """A required binary is absent; the message says how to install it."""


def geth_path() -> Path:
    explicit = os.environ.get("DEVNET_GETH")
    path = Path(explicit) if explicit else TOOLS_BIN / "geth"
    if not path.is_file():
        raise ToolMissing(
            f"geth not found at {path}. Install it with `devnet tools install` "
            f"(runs `go install {GETH_MODULE}@{GETH_VERSION}`; needs Go >= 1.24 on PATH), "
            "or point DEVNET_GETH at a geth binary."
        )
    return path


def anvil_path() -> Path:
    explicit = os.environ.get("DEVNET_ANVIL")
    path = Path(explicit) if explicit else NODE_MODULES / "@foundry-rs/anvil-linux-amd64/bin/anvil"
    if not path.is_file():
        raise ToolMissing(
            f"anvil not found at {path}. Install it with `devnet tools install` "
            "(runs `npm ci`, which fetches @foundry-rs/anvil-linux-amd64), "
            "or point DEVNET_ANVIL at an anvil binary."
        )
    return path


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


def installed_geth_version() -> str | None:
    try:
        out = subprocess.run([str(geth_path()), "version"], capture_output=True, text=True, check=True)
    except (ToolMissing, subprocess.CalledProcessError):
        return None
    for line in out.stdout.splitlines():
        if line.startswith("Version:"):
            return "v" + line.split(":", 1)[1].strip().removesuffix("-stable")
    return None
