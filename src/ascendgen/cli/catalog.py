"""`catalog add`: record a model directory's numbers in the user's catalog file, so that `plan NAME --catalog FILE`
finds it. Parses the flags, lets ascendgen.catalogfile append the entry, and says what it wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ascendgen.catalogfile import add_to_catalog
from ascendgen.cli import termui
from ascendgen.request import DEFAULT_MODELS_DIR

catalog_app = typer.Typer(
    name="catalog",
    help="Add models to your catalog file from their directories.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@catalog_app.command()
def add(
    path: Annotated[Path, typer.Argument(help="A model directory (config.json, *.safetensors).", show_default=False)],
    catalog: Annotated[Path, typer.Option("--catalog", help="Your catalog file (created if missing).", metavar="FILE")],
    name: Annotated[str | None, typer.Option(help="The entry's name (default: the directory's name).")] = None,
    models_dir: Annotated[
        str, typer.Option(help="Host directory holding <org>/<model> folders: the hub id is the path below it.")
    ] = DEFAULT_MODELS_DIR,
) -> None:
    """Add the model in PATH to a catalog file, named after its directory.

    Example: [bold]ascendgen catalog add /models/me/My-Model --catalog my-models.yaml[/] then
    [bold]ascendgen plan My-Model --catalog my-models.yaml[/]
    """
    found = add_to_catalog(path, catalog, name=name, models_dir=models_dir)
    termui.success(
        f"added {found.spec.name} to {catalog} (served from /models/{found.spec.hub_id}); "
        f"plan it with: ascendgen plan {found.spec.name} --catalog {catalog}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")


__all__ = ["catalog_app", "register"]
