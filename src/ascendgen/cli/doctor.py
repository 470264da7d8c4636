"""`doctor`: diagnose the host in one table. Parses its flags, runs ascendgen.doctor's checks and renders
the rows; exit code 1 when any row is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ascendgen.cli import termui
from ascendgen.dockerengine import connect_docker
from ascendgen.doctor import ENGINE_TIMEOUT_S, CheckRow, run_doctor
from ascendgen.errors import AscendgenError
from ascendgen.hardware import load_hardware
from ascendgen.plans import resolve_server

_STATUS_STYLE = {"ok": "success", "warning": "warning", "error": "error"}


def doctor(
    models_dir: Annotated[Path, typer.Option(help="Host directory holding <org>/<model> folders.")] = Path("/models"),
    server: Annotated[str | None, typer.Option(help="Server profile (default atlas-800i-a2: 8 x 910B4).")] = None,
    hardware: Annotated[
        list[Path] | None,
        typer.Option("--hardware", help="A hardware file merged over the built-in hardware.yaml.", metavar="FILE"),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(help="Image whose CANN the driver must run: a tag (v0.9.2rc1) or reference (default: plan's)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON for scripts.")] = False,
) -> None:
    """Check this host: Docker, Compose, NPU devices, driver and image CANN, npu-smi, Docker runtime, models.

    Example: [bold]ascendgen doctor --models-dir /data/models[/]
    """
    known = load_hardware(hardware or ())
    profile = resolve_server(known, server, None)
    platform = known.platform(known.npu_type(profile.npu_type).platform)
    client, reason = connect_docker(timeout_s=ENGINE_TIMEOUT_S)
    rows = run_doctor(
        client, server=profile, platform=platform, models_dir=models_dir, engine_reason=reason, image=image
    )
    if as_json:
        termui.print_json([row.to_json() for row in rows])
    else:
        termui.out.print(doctor_table(rows, title=_title(profile.name, profile.host_root)))
    failed = [row.check for row in rows if row.status == "error"]
    warned = [row.check for row in rows if row.status == "warning"]
    if failed:
        raise AscendgenError(f"{len(failed)} check(s) failed: {', '.join(failed)}")
    if warned:
        termui.warning(f"{len(warned)} check(s) with warnings: {', '.join(warned)}")
    else:
        termui.success("all checks passed")


def _title(server: str, host_root: str) -> str:
    where = "" if host_root == "/" else f", host paths under {host_root}"
    return f"ascendgen doctor (server profile {server}{where})"


def doctor_table(rows: list[CheckRow], title: str = "ascendgen doctor") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Check", style="key", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Found", overflow="fold")
    table.add_column("Fix", overflow="fold")
    for row in rows:
        table.add_row(
            row.check,
            Text(row.status, style=_STATUS_STYLE[row.status]),
            Text(row.detail),
            Text(row.fix or "-", style="" if row.fix else "info"),
        )
    return table


def register(app: typer.Typer) -> None:
    app.command()(doctor)
