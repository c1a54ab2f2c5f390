"""The pytest plugin in a pytest run of its own: the world is reconciled and the devnets it
started are stopped when the run ends, even when pytest removes its temp folder at the end
(retention policy "failed").

Found in a CI rehearsal: the folder went first, the plugin's later clean-up found no devnet in
it, and the nodes (and the end-of-run reconciliation) were left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devnet.node.process import pid_alive

pytest_plugins = ["pytester"]

INNER_TEST = """
import json, os

def test_records_its_devnets(devnet_env, devnet_world_env):
    with open(os.environ["RECORD"], "w") as f:
        json.dump({"pids": [devnet_env.node.pid, devnet_world_env.node.pid]}, f)
"""


def test_devnets_are_stopped_when_the_run_ends(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "record.json"
    pytester.makepyfile(test_inner=INNER_TEST)
    pytester.makeini("[pytest]\ntmp_path_retention_policy = failed\n")
    monkeypatch.setenv("RECORD", str(record))
    # Not pytester's own runner: it passes --basetemp, and pytest never removes a given basetemp.
    # Nor an xdist worker's environment: the plugin would take the inner run for a worker.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--devnet-engine", "anvil", "-p", "no:cacheprovider", "-q"],
        cwd=pytester.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "reconciliation of world-anvil: clean" in run.stdout
    pids = json.loads(record.read_text())["pids"]
    assert not any(pid_alive(pid) for pid in pids), "the run left a devnet's node running"
