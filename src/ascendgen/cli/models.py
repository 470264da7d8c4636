"""`ascendgen models`: the catalog, as a table that fits the terminal or as JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from ascendgen.cli import termui
from ascendgen.cli.options import CatalogOpt


def models(
    catalogs: CatalogOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
) -> None:
    """List the models the catalog knows, with the NPUs each needs.

    Example: [bold]ascendgen models --json[/]
    """
    from ascendgen.catalog import load_catalog
    from ascendgen.cli.tables import catalog_table, model_json
    from ascendgen.hardware import DEFAULT_SERVER, load_hardware

    known = load_catalog(catalogs or ())
    if as_json:
        termui.print_json([model_json(m) for m in known.models])
    else:
        termui.out.print(catalog_table(known, load_hardware().server(DEFAULT_SERVER).npu_type))
