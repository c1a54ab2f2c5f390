"""Committed artifacts are exactly what the committed sources compile to."""

from __future__ import annotations

import shutil
from pathlib import Path

from devnet.core.paths import CONTRACT_SOURCES
from devnet.solidity import compile_sources, diff_against_committed


def test_committed_artifacts_match_a_fresh_compile() -> None:
    problems = diff_against_committed(compile_sources())
    assert problems == [], "run `devnet contracts build` and commit contracts/artifacts:\n" + "\n".join(
        problems
    )


def test_a_changed_source_is_detected(tmp_path: Path) -> None:
    sources = tmp_path / "src"
    shutil.copytree(CONTRACT_SOURCES, sources)
    token = sources / "StableCoin.sol"
    token.write_text(token.read_text().replace("MAX_TRANSFER_FEE_BPS = 20", "MAX_TRANSFER_FEE_BPS = 50"))
    problems = diff_against_committed(compile_sources(sources))
    assert "StableCoin: bytecode differs from a fresh compile" in problems
    assert not any(p.startswith("ReserveFeed") for p in problems)
