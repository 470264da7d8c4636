"""Options several commands share, so that a flag means the same everywhere (-f is --file for every command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DirArg = Annotated[
    Path | None, typer.Argument(help="Directory holding compose.yml (default: here).", show_default=False)
]
FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="A compose file elsewhere or by another name.")]
ServiceOpt = Annotated[list[str] | None, typer.Option("--service", "-s", help="Only this service (repeatable).")]
CatalogOpt = Annotated[
    list[Path] | None,
    typer.Option("--catalog", help="A catalog file merged over the built-in models.yaml (repeatable).", metavar="FILE"),
]
HardwareOpt = Annotated[
    list[Path] | None,
    typer.Option("--hardware", help="A hardware file merged over the built-in hardware.yaml.", metavar="FILE"),
]
