"""Runtimes other than local processes: the docker runtime (`docker.py`) and its images
(`images.py`), built without any container registry.

The local runtime lives in `devnet.world` and `devnet.node`; both runtimes start components
from the same definitions (`devnet.components`). Importing this package needs no Docker SDK;
its modules do (the `docker` extra: `pip install -e '.[docker]'`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

#: local: child processes on loopback ports (devnet.world); docker: containers on one Docker
#: network (devnet.runtime.docker).
Runtime = Literal["local", "docker"]

#: Every container, network and image the devnet makes carries labels under this prefix, so
#: `devnet down` finds leftovers without anything else to go on.
LABEL_PREFIX = "org.bsc-stablecoin-devnet"

#: Written at the start of a docker `up`, removed by `down`: tells `down` to look for
#: containers even when env.json was never written (a start that died half way).
DOCKER_RUN_FILE = "docker-run.json"


def has_docker_run(state_dir: Path) -> bool:
    """Whether a docker devnet was started from `state_dir` and not yet removed."""
    return (state_dir / DOCKER_RUN_FILE).is_file()
