"""The Docker engine: the local one, or a remote one named by DOCKER_HOST (docker.from_env)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker


class DockerUnavailable(RuntimeError):
    """No Docker engine answers (or the Docker SDK is not installed); the message says why."""


def connect(timeout: float = 600.0) -> docker.DockerClient:
    """A client for the engine DOCKER_HOST names (default: the local socket), once it answers.

    `timeout` is per API call; image builds and imports stream for minutes, so it is long. A
    quick ping with a short timeout comes first, so a missing engine is reported at once.
    """
    try:
        import docker
        from docker.errors import DockerException
    except ImportError as e:
        raise DockerUnavailable(
            "the Docker SDK is not installed: pip install -e '.[docker]' (make install does)"
        ) from e
    try:
        probe = docker.from_env(timeout=5)
        try:
            probe.ping()
        finally:
            probe.close()
        return docker.from_env(timeout=int(timeout))
    except (DockerException, OSError) as e:  # requests' errors are OSErrors
        raise DockerUnavailable(
            f"no Docker engine answers ({e}). Start one (`dockerd`, or `systemctl start docker`) "
            "or point DOCKER_HOST at a remote engine."
        ) from e


def unavailable_reason() -> str | None:
    """None when an engine answers, else why not (for skips and for the CLI's default)."""
    try:
        connect(timeout=5).close()
    except DockerUnavailable as e:
        return str(e)
    return None
