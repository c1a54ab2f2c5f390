"""Contract artifacts committed under contracts/artifacts, and bytecode verification."""

from __future__ import annotations

import json
import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from eth_utils import function_abi_to_4byte_selector

from devnet.core import paths

#: The repository's artifacts; DEVNET_ARTIFACTS_DIR points elsewhere (e.g. an installed copy).
ARTIFACTS_DIR = Path(os.environ.get("DEVNET_ARTIFACTS_DIR", paths.ARTIFACTS_DIR))


@cache
def load_artifact(name: str) -> dict[str, Any]:
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no artifact {path}; run `devnet contracts build`")
    artifact: dict[str, Any] = json.loads(path.read_text())
    return artifact


def artifact_names() -> list[str]:
    return sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json"))


def _mask_immutables(code: bytes, artifact: dict[str, Any]) -> bytes:
    masked = bytearray(code)
    for start, length in artifact.get("immutableReferences", []):  # (start, length) byte ranges
        masked[start : start + length] = bytes(length)
    return bytes(masked)


def runtime_matches(onchain_code: bytes, name: str) -> bool:
    """True when deployed code equals the artifact's runtime bytecode, immutables aside.

    Immutables (decimals, EIP-712 domain, feed addresses) are written at deployment, so their
    byte ranges are compared as zeros on both sides.
    """
    artifact = load_artifact(name)
    expected = bytes.fromhex(artifact["deployedBytecode"].removeprefix("0x"))
    if len(onchain_code) != len(expected):
        return False
    return _mask_immutables(onchain_code, artifact) == _mask_immutables(expected, artifact)


@lru_cache(maxsize=1)
def custom_errors() -> dict[bytes, dict[str, Any]]:
    """Every custom error in every artifact's ABI, by 4-byte selector (to name reverts)."""
    errors: dict[bytes, dict[str, Any]] = {}
    for name in artifact_names():
        for entry in load_artifact(name)["abi"]:
            if entry["type"] == "error":
                errors[function_abi_to_4byte_selector(entry)] = entry
    return errors
