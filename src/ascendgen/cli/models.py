"""`ascendgen models`: the catalog, as a table that fits the terminal or as JSON; with --fit, what runs on a server."""

from __future__ import annotations

from typing import Annotated

import typer

from ascendgen.cli import termui
from ascendgen.cli.options import CatalogOpt, HardwareOpt


def models(
    catalogs: CatalogOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalog (or the --fit verdicts) as JSON.")] = False,
    fit: Annotated[
        bool,
        typer.Option(
            "--fit",
            help="Whether each model runs on this server: on how many NPUs, with what max-model-len, how many "
            "full-length requests at once.",
        ),
    ] = False,
    server: Annotated[
        str | None,
        typer.Option(
            help="With --fit: a server profile (default: this machine's NPUs per npu-smi, else atlas-800i-a2)."
        ),
    ] = None,
    npu_type: Annotated[str | None, typer.Option(help="With --fit: an NPU type, e.g. 910B3, 310P3.")] = None,
    hardware: HardwareOpt = None,
) -> None:
    """List the models the catalog knows, with the NPUs each needs; with --fit, what runs on a server.

    Example: [bold]ascendgen models --fit --server atlas-800i-a2-64g[/]
    """
    from ascendgen.errors import InputError

    if not fit and (server is not None or npu_type is not None or hardware):
        raise InputError("--server, --npu-type and --hardware choose the server for --fit: add --fit")
    if fit:
        from ascendgen.cli.tables import fit_table
        from ascendgen.fit import fit_catalog

        profile, fits, note = fit_catalog(
            catalogs=catalogs or (), hardware_files=hardware or (), server=server, npu_type=npu_type
        )
        if note:
            termui.info(note)
        if as_json:
            termui.print_json([f.to_json() for f in fits])
        else:
            termui.out.print(fit_table(fits, profile))
        return
    from ascendgen.catalog import load_catalog
    from ascendgen.cli.tables import catalog_table, model_json
    from ascendgen.hardware import DEFAULT_SERVER, load_hardware

    known = load_catalog(catalogs or ())
    if as_json:
        termui.print_json([model_json(m) for m in known.models])
    else:
        termui.out.print(catalog_table(known, load_hardware().server(DEFAULT_SERVER).npu_type))
