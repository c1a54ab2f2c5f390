"""Compile contracts/src with solc-js (npm) into committed artifacts, and check them.

The artifacts carry ABI, creation and runtime bytecode, immutable references, compiler version
and settings, so anyone can rebuild them and compare deployed bytecode against the source.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from devnet.core.paths import ARTIFACTS_DIR, CONTRACT_SOURCES, CONTRACTS_DIR, NODE_MODULES
from devnet.tools import solcjs_path

SOLC_SHIM = CONTRACTS_DIR / "solc-standard-json.cjs"

#: Prague is BSC's EVM since Pascal and is understood by both geth and anvil.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "prague",
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "metadata",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
            ]
        }
    },
}


class CompileError(RuntimeError):
    pass


def standard_json_input(sources_dir: Path = CONTRACT_SOURCES) -> dict[str, Any]:
    # Source names are relative to the folder holding src/ ("src/StableCoin.sol").
    sources = {
        str(path.relative_to(sources_dir.parent)): {"content": path.read_text()}
        for path in sorted(sources_dir.rglob("*.sol"))
    }
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def compile_sources(sources_dir: Path = CONTRACT_SOURCES) -> dict[str, dict[str, Any]]:
    """Compile and return artifacts (name -> artifact) for every contract with bytecode."""
    solcjs_path()  # fails early, with install advice, when npm packages are missing
    with tempfile.TemporaryDirectory() as tmp:
        request, response = Path(tmp) / "input.json", Path(tmp) / "output.json"
        request.write_text(json.dumps(standard_json_input(sources_dir)))
        result = subprocess.run(
            ["node", str(SOLC_SHIM), str(request), str(response), str(NODE_MODULES)],
            capture_output=True,
            text=True,
            cwd=sources_dir.parent,
            check=False,
        )
        if result.returncode != 0:
            raise CompileError(result.stderr or result.stdout)
        output = json.loads(response.read_text())
    # Warnings fail the build too: a committed artifact should compile clean.
    errors = [e for e in output.get("errors", []) if e["severity"] in ("error", "warning")]
    if errors:
        raise CompileError("\n".join(e["formattedMessage"] for e in errors))
    version = json.loads(next(iter(next(iter(output["contracts"].values())).values()))["metadata"])[
        "compiler"
    ]["version"]
    artifacts: dict[str, dict[str, Any]] = {}
    for source_name, contracts in output["contracts"].items():
        if not source_name.startswith("src/"):
            continue  # libraries pulled in through imports (OpenZeppelin) are not deployed alone
        for name, out in contracts.items():
            bytecode = out["evm"]["bytecode"]["object"]
            if not bytecode or not out["abi"]:
                continue  # interfaces, abstract contracts and internal-only libraries
            artifacts[name] = {
                "contractName": name,
                "sourceName": source_name,
                "abi": out["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
                # Byte ranges only: the AST ids solc keys them by shift when other sources change.
                "immutableReferences": [
                    [start, length]
                    for start, length in sorted(
                        {
                            (r["start"], r["length"])
                            for refs in out["evm"]["deployedBytecode"].get("immutableReferences", {}).values()
                            for r in refs
                        }
                    )
                ],
                "compiler": {"name": "solc-js", "version": version},
                "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
                "metadata": out["metadata"],
            }
    return artifacts


def write_artifacts(artifacts: dict[str, dict[str, Any]], out_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    written = []
    for name, artifact in sorted(artifacts.items()):
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def diff_against_committed(fresh: dict[str, dict[str, Any]], out_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Names of artifacts whose committed file differs from a fresh compile (empty = in sync)."""
    committed = {p.stem: json.loads(p.read_text()) for p in out_dir.glob("*.json")}
    problems = [f"{n}: missing from {out_dir}" for n in sorted(fresh.keys() - committed.keys())]
    problems += [f"{n}: committed but no longer compiled" for n in sorted(committed.keys() - fresh.keys())]
    for name in sorted(fresh.keys() & committed.keys()):
        for field in ("abi", "bytecode", "deployedBytecode", "immutableReferences", "compiler", "settings"):
            if fresh[name][field] != committed[name][field]:
                problems.append(f"{name}: {field} differs from a fresh compile")
    return problems
