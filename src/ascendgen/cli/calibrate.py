"""`ascendgen calibrate`: the planner's memory reserves against the user's own servers, from what `up`
recorded of vLLM's startup logs (ascendgen.observations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ascendgen.cli import termui

if TYPE_CHECKING:
    from rich.table import Table

    from ascendgen.observations import CalibrationRow

# Closer than this, vLLM and the plan agree as well as the planner's estimates can (a block or two of KV cache).
AGREEMENT_PERCENT = 2.0


def calibrate(
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON for scripts.")] = False,
) -> None:
    """How the planner's memory reserves compare with what vLLM measured on your servers.

    Per NPU type and image: the KV cache tokens vLLM logged against the plan's (medians over every start
    `ascendgen up` recorded), the weights, and the reserve per NPU that would have matched.

    Example: [bold]ascendgen calibrate[/] (after a few [bold]ascendgen up[/])
    """
    from ascendgen.errors import AscendgenError
    from ascendgen.observations import calibrate as compare
    from ascendgen.observations import load_observations, observations_path

    path = observations_path()
    try:
        observations, unreadable = load_observations(path)
    except OSError as exc:
        raise AscendgenError(f"cannot read {path}: {exc.strerror or exc}") from None
    if unreadable:
        termui.warning(f"{path}: {unreadable} line(s) are not observations ascendgen wrote; skipped")
    rows = compare(observations)
    if as_json:
        termui.print_json(
            {
                "file": str(path),
                "observations": len(observations),
                "unreadable_lines": unreadable,
                "groups": [row.to_json() for row in rows],
            }
        )
        return
    if not rows:
        termui.info(
            f"no measurements yet in {path}: `ascendgen up` keeps one each time vLLM logs its KV cache size "
            "(ASCENDGEN_CACHE_DIR or XDG_CACHE_HOME move it)"
        )
        return
    termui.out.print(calibration_table(rows))
    for row in rows:
        termui.out.print(verdict(row))
    termui.info(f"from {len(observations)} start(s) recorded in {path}")


def calibration_table(rows: list[CalibrationRow]) -> Table:
    from rich.table import Table

    table = Table(title="the plan against your servers (medians per NPU)", title_justify="left")
    for column in ("NPU", "Image", "Starts", "KV tokens plan", "vLLM", "diff", "Weights GiB plan", "vLLM",
                   "Reserve GiB plan", "matching"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("NPU", "Image") else "right", overflow="fold")
    for row in rows:
        table.add_row(
            row.npu_type,
            row.image,
            str(row.count),
            f"{row.planned_tokens:,}",
            f"{row.measured_tokens:,}",
            "-" if row.difference_percent is None else f"{row.difference_percent:+.1f}%",
            _gib(row.planned_weights_gib),
            _gib(row.measured_weights_gib),
            _gib(row.planned_reserve_gib),
            _gib(row.matched_reserve_gib),
        )
    return table


def verdict(row: CalibrationRow) -> str:
    """One sentence per NPU type and image: how far off the plan was, and the reserve that would have matched."""
    where = f"{row.npu_type} with {row.image} ({row.count} start{'s' if row.count != 1 else ''})"
    difference = row.difference_percent
    if difference is None:
        return f"{where}: no KV cache size to compare"
    if abs(difference) < AGREEMENT_PERCENT:
        return f"{where}: vLLM's KV cache matches the plan within {AGREEMENT_PERCENT:g}% ({difference:+.1f}%)"
    side = "smaller" if difference < 0 else "larger"
    text = f"{where}: vLLM's KV cache is {abs(difference):.1f}% {side} than planned"
    if row.matched_reserve_gib is not None and row.planned_reserve_gib is not None:
        text += (
            f"; a reserve of {row.matched_reserve_gib:.2f} GiB per NPU instead of the planned "
            f"{row.planned_reserve_gib:.2f} would have matched"
        )
    if (
        row.measured_weights_gib is not None
        and row.planned_weights_gib is not None
        and abs(row.measured_weights_gib - row.planned_weights_gib) >= 0.1
    ):
        text += (
            f" (vLLM loaded {row.measured_weights_gib:.2f} GiB of weights per NPU, the plan counted "
            f"{row.planned_weights_gib:.2f})"
        )
    return text


def _gib(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
