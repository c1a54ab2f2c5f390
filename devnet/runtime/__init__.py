"""Runtimes: where the devnet's components run. `base.py` is the interface (`Runtime`, and the
`Component` it starts), `readiness.py` the one check of "is it ready"; `local.py` runs each
component as a child process, `docker.py` as a container (its images: `images.py`, built
without any container registry).

Importing this package needs no Docker SDK; the docker runtime's modules do (the `docker`
extra: `pip install -e '.[docker]'`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from devnet.runtime.base import Progress, Runtime

#: local: child processes on loopback ports; docker: containers on one Docker network.
RuntimeName = Literal["local", "docker"]

#: Every container, network and image the devnet makes carries labels under this prefix, so
#: `devnet down` finds leftovers without anything else to go on.
LABEL_PREFIX = "org.bsc-stablecoin-devnet"

#: Written at the start of a docker `up`, removed by `down`: tells `down` to look for
#: containers even when env.json was never written (a start that died half way).
DOCKER_RUN_FILE = "docker-run.json"


def has_docker_run(state_dir: Path) -> bool:
    """Whether a docker devnet was started from `state_dir` and not yet removed."""
    return (state_dir / DOCKER_RUN_FILE).is_file()


def open_runtime(name: RuntimeName, progress: Progress = lambda _m: None) -> Runtime:
    """The runtime called `name` (the docker one loads the Docker SDK and testcontainers)."""
    if name == "docker":
        from devnet.runtime.docker import DockerRuntime

        return DockerRuntime(progress)
    from devnet.runtime.local import LocalRuntime

    return LocalRuntime()
