"""Benchmark: how fast ascendgen starts and plans, as an installed program, against bare Python.

Each command runs as a new process, in turn with `python -c pass` (A B A B ...: the ratio is taken pair by
pair, so that it holds when the machine's speed drifts), after one warm-up run of each that also writes any
missing bytecode (.pyc); PYTHONDONTWRITEBYTECODE is removed from the children's environment, as an installed
program caches its bytecode. Wall and CPU (user + system) seconds of each process come from os.wait4.
Goals (bench/README.md): `--version` and `--help` at most 8 x bare Python, `plan --dry-run` at most 14 x, on
the median wall ratio; peak RSS of a plan under 80 MB; planning and rendering the whole catalog in one
process under 1 s.

With --instructions, instead: the instructions each process executes, counted by valgrind (cachegrind), against
`python -c pass`: the same on a loaded machine as on an idle one, where wall and CPU times scatter by 2 x; the
ratio follows the wall-time ratio within a few percent (bench/README.md).

Run: python bench/bench_plan.py [--runs N] [--json] [--instructions]   (after `pip install .`, with that
environment's python)"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import ascendgen, machine

GOAL_RSS_MB = 80.0
FLOOR = "(floor: a bare typer command)"
GOAL_CATALOG_S = 1.0
# command -> the most it may take, as a multiple of `python -c pass`
COMMANDS: dict[str, float | None] = {
    "--version": 8.0,
    "--help": 8.0,
    "plan Qwen3-30B-A3B --dry-run": 14.0,
    "plan Qwen3-30B-A3B --out {tmp}": None,
    "check {tmp}": None,
}


# The floor under `plan`: a one-command app on the same typer, rich and pydantic (typer 0.29 builds a pydantic
# TypeAdapter per parameter), printing a one-row rich table. ascendgen cannot start faster than this.
FLOOR_APP = """
from typing import Annotated
import pydantic, typer
from rich.console import Console
from rich.table import Table
app = typer.Typer(add_completion=False, rich_markup_mode="rich")
@app.callback()
def root(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    "Root."
@app.command()
def plan(model: str, dry_run: Annotated[bool, typer.Option("--dry-run")] = False, tp: int | None = None) -> None:
    "Plan."
    table = Table("model", "tp")
    table.add_row(model, str(tp))
    Console().print(table)
app()
"""


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, cpu s, peak RSS MB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KiB


def paired(command: list[str], bare: list[str], runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    run_once(command, env)  # warm-up: the page cache, and bytecode written where it was missing
    run_once(bare, env)
    figures: dict[str, list[float]] = {"wall": [], "cpu": [], "rss": [], "bare_wall": [], "bare_cpu": []}
    for _ in range(runs):
        wall, cpu, rss = run_once(command, env)
        bare_wall, bare_cpu, _ = run_once(bare, env)
        for key, value in zip(figures, (wall, cpu, rss, bare_wall, bare_cpu), strict=True):
            figures[key].append(value)
    figures["ratio_wall"] = [a / b for a, b in zip(figures["wall"], figures["bare_wall"], strict=True)]
    figures["ratio_cpu"] = [a / b for a, b in zip(figures["cpu"], figures["bare_cpu"], strict=True)]
    return figures


def instructions(command: list[str], env: dict[str, str]) -> int:
    """Instructions one process executes (valgrind's cachegrind, `I refs`), after a warm-up run that writes any
    missing bytecode."""
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    done = subprocess.run([*valgrind, *command], capture_output=True, text=True, env=env, check=True)
    line = next(line for line in done.stderr.splitlines() if "I refs:" in line or "I   refs:" in line)
    return int(line.split(":", 1)[1].replace(",", "").split()[0])


def count_instructions(env: dict[str, str]) -> int:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")
    bare = instructions([sys.executable, "-c", "pass"], env)
    print(machine())
    print("instructions executed (valgrind cachegrind), millions, and as a multiple of `python -c pass`")
    met = True
    with tempfile.TemporaryDirectory(prefix="ascendgen-bench-") as tmp:
        (Path(tmp) / "floor.py").write_text(FLOOR_APP, encoding="utf-8")
        floor = [sys.executable, str(Path(tmp) / "floor.py"), "plan", "Qwen3-30B-A3B", "--dry-run"]
        rows = [(text, [*ascendgen(), *text.format(tmp=tmp).split()], goal) for text, goal in COMMANDS.items()]
        for text, command, goal in [*rows, (FLOOR, floor, None)]:
            ratio = instructions(command, env) / bare
            ok = goal is None or ratio <= goal
            met = met and ok
            verdict = "" if goal is None else f"<= {goal:g} x: {'yes' if ok else 'NO'}"
            print(f"{text.replace(' {tmp}', ' DIR'):<34} {ratio * bare / 1e6:8.0f} M {ratio:7.2f} x  {verdict}")
    print(f"{'python -c pass':<34} {bare / 1e6:8.0f} M")
    return 0 if met else 1


def whole_catalog() -> tuple[float, int]:
    from ascendgen.catalog import load_catalog
    from ascendgen.errors import PlanError
    from ascendgen.plans import make_plans
    from ascendgen.render import render_compose
    from ascendgen.request import InstanceRequest, PlanRequest, recipe_command

    names = [m.name for m in load_catalog().models]
    started = time.perf_counter()
    rendered = 0
    for npu_type in ("910B4", "910B3", "910C"):
        for name in names:
            request = PlanRequest(instances=(InstanceRequest(model=name),), npu_type=npu_type)
            try:
                plans = make_plans(request)
            except PlanError:
                continue  # too big for one server of this type
            render_compose(plans, regenerate=recipe_command(request))
            rendered += 1
    return time.perf_counter() - started, rendered


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind), not time")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if args.instructions:
        return count_instructions(env)
    bare = [sys.executable, "-c", "pass"]
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="ascendgen-bench-"))
    try:
        for text, _ in COMMANDS.items():
            command = [*ascendgen(), *text.format(tmp=tmp).split()]
            results[text] = {key: stats(values) for key, values in paired(command, bare, args.runs, env).items()}
        (tmp / "floor.py").write_text(FLOOR_APP, encoding="utf-8")
        floor = [sys.executable, str(tmp / "floor.py"), "plan", "Qwen3-30B-A3B", "--dry-run"]
        results[FLOOR] = {key: stats(values) for key, values in paired(floor, bare, args.runs, env).items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    catalog_s, rendered = whole_catalog()
    rss = results["plan Qwen3-30B-A3B --out {tmp}"]["rss"]["max"]
    met = rss < GOAL_RSS_MB and catalog_s < GOAL_CATALOG_S
    if args.json:
        print(json.dumps({"commands": results, "catalog_s": catalog_s, "rendered": rendered, "rss_mb": rss}, indent=2))
        return (
            0
            if met
            and all(goal is None or results[text]["ratio_wall"]["median"] <= goal for text, goal in COMMANDS.items())
            else 1
        )
    print(machine())
    print(f"{args.runs} runs of each, in turn with `python -c pass`; wall seconds and wall / bare Python")
    print(f"{'ascendgen ...':<34} {'median':>7} {'min':>7} {'max':>7}   {'x bare':>7} {'min':>6} {'max':>6}"
          f" {'cpu x':>6}  goal")  # fmt: skip
    for text, goal in COMMANDS.items():
        r = results[text]
        ok = goal is None or r["ratio_wall"]["median"] <= goal
        met = met and ok
        verdict = "" if goal is None else f"<= {goal:g} x: {'yes' if ok else 'NO'}"
        print(
            f"{text.replace(' {tmp}', ' DIR'):<34} {r['wall']['median']:7.3f} {r['wall']['min']:7.3f} "
            f"{r['wall']['max']:7.3f}   {r['ratio_wall']['median']:7.2f} {r['ratio_wall']['min']:6.2f} "
            f"{r['ratio_wall']['max']:6.2f} {r['ratio_cpu']['median']:6.2f}  {verdict}"
        )
    for text in (FLOOR,):
        r = results[text]
        print(
            f"{text:<34} {r['wall']['median']:7.3f} {r['wall']['min']:7.3f} {r['wall']['max']:7.3f}   "
            f"{r['ratio_wall']['median']:7.2f} {r['ratio_wall']['min']:6.2f} {r['ratio_wall']['max']:6.2f} "
            f"{r['ratio_cpu']['median']:6.2f}"
        )
    b = results["--version"]["bare_wall"]
    print(f"{'python -c pass':<34} {b['median']:7.3f} {b['min']:7.3f} {b['max']:7.3f}")
    print(f"peak RSS of `plan` (writing compose.yml): {rss:.1f} MB (goal < {GOAL_RSS_MB:g} MB)")
    print(f"plan + render {rendered} (model, NPU type) pairs in one process: {catalog_s:.3f} s", end=" ")
    print(f"(goal < {GOAL_CATALOG_S:g} s)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
