"""The Docker Engine, reached through the docker SDK in one place: `up`, `status`, `diagnose`, `doctor` and
preflight get their client here, and no other module imports `docker` (tests/test_architecture.py)."""

from __future__ import annotations

from typing import Any

from ascendgen.errors import first_line

__all__ = ["CLIENT_TIMEOUT_S", "connect_docker", "docker_client", "unreachable"]

CLIENT_TIMEOUT_S = 30  # per API call of the client (the SDK's default is 60)


def docker_client(timeout_s: float) -> Any:
    """The SDK's client for the engine the environment names (DOCKER_HOST, else the local socket)."""
    import docker  # type: ignore[import-untyped]

    return docker.from_env(timeout=timeout_s)


def connect_docker(timeout_s: float = CLIENT_TIMEOUT_S) -> tuple[Any | None, str | None]:
    """A docker SDK client that answered a ping, or None and the first line of why not."""
    try:
        client = docker_client(timeout_s)
        client.ping()
        return client, None
    except Exception as exc:  # the SDK raises DockerException, requests' errors, FileNotFoundError...
        return None, first_line(exc)


def unreachable(reason: str) -> str:
    """What to tell a user whose command needs the engine (`doctor` says more: see doctor.check_engine)."""
    return f"the Docker Engine is not reachable ({reason}): start it (`systemctl start docker`)"
