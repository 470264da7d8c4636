"""What the runtime commands share: the deployment in a directory (as docker compose sees it) and the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ascendgen.composeconfig import ComposeConfig, Project, ServiceConfig, load_compose_config, locate_project
from ascendgen.dockerengine import connect_docker, unreachable
from ascendgen.errors import AscendgenError


def open_deployment(
    directory: Path | None, file: Path | None, only: list[str] | None
) -> tuple[Project, ComposeConfig, list[ServiceConfig]]:
    """The project, compose's view of it, and the services asked for (all when `only` is empty)."""
    project = locate_project(directory, file)
    config = load_compose_config(project)
    services = [config.service(name) for name in only] if only else list(config.services)
    if not services:
        raise AscendgenError(f"no services in {project.directory}")
    return project, config, services


def engine() -> Any:
    """A docker SDK client that answers, or the one-line reason it does not."""
    client, reason = connect_docker()
    if client is None:
        raise AscendgenError(unreachable(reason or "no answer"))
    return client
