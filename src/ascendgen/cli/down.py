"""`ascendgen down`: stop and remove the deployment's containers, through `docker compose down`."""

from __future__ import annotations

from ascendgen.cli import termui
from ascendgen.cli.options import DirArg, FileOpt


def down(directory: DirArg = None, file: FileOpt = None) -> None:
    """Stop and remove the deployment's containers (docker compose down).

    Example: [bold]ascendgen down[/]
    """
    from ascendgen.cli import project
    from ascendgen.runtime import compose_down

    deployment, _, _ = project.open_deployment(directory, file, None)
    compose_down(deployment)
    termui.success(f"stopped {deployment.directory}")
