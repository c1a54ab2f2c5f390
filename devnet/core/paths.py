"""Where things live: the repository, its tools folder and the devnet state folder."""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout this package runs from (editable install); DEVNET_HOME overrides it.
REPO_ROOT = Path(os.environ.get("DEVNET_HOME", Path(__file__).resolve().parents[2]))

CONTRACTS_DIR = REPO_ROOT / "contracts"
CONTRACT_SOURCES = CONTRACTS_DIR / "src"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
NODE_MODULES = REPO_ROOT / "node_modules"
#: Project-local binaries built by `devnet tools install` (not committed).
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"


def state_dir() -> Path:
    """The devnet's runtime folder (env file, node data, logs); DEVNET_STATE_DIR overrides it."""
    return Path(os.environ.get("DEVNET_STATE_DIR", Path.cwd() / ".devnet"))
