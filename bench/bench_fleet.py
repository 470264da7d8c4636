"""Benchmark: a fleet. 32 Atlas 800I A2 servers (8 x 910B4 each) running 64 instances of ten models, one
deployment file per server (server-NN/ascendgen.yaml), and `ascendgen check` over 100 committed compose files.

What it reports (bench/README.md holds the figures and the machine):
  fleet, in one process: plan + write compose.yml for the first 1, 2, 4, 8, 16, 32 servers (a new process per
      size, imports not counted: what a script calling ascendgen.plans would pay);
  fleet, as users run it: one `ascendgen plan -f ascendgen.yaml` per server, each a new process;
  check: one `ascendgen check DIR...` over 1, 10, 25, 50, 100 committed compose files, a new process each, as
      CI runs it; and the same in one process.
Goal: each under 1 s. Every timing is a median of --runs (min and max beside it).

Run: python bench/bench_fleet.py [--runs N] [--keep DIR]   (after `pip install .`, with that environment's python;
unset PYTHONDONTWRITEBYTECODE so that the bytecode is cached as an installed program's is)"""

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

GOAL_S = 1.0
SERVERS = 32
CHECKED = 100
# What each server runs, in turn: 2 + 1 + 3 + 2 instances over 4 servers, so 64 on 32 servers; the planner
# places each on free NPUs and gives it the next port.
MIXES = (
    ("Qwen3-30B-A3B", "Qwen2.5-Coder-32B-Instruct"),
    ("Qwen2.5-72B-Instruct",),
    ("Qwen3-32B", "Qwen3-14B", "Qwen3-8B"),
    ("Qwen2.5-VL-32B-Instruct", "DeepSeek-R1-Distill-Qwen-32B"),
)
IMAGE = "v0.9.2rc1"


def deployment_yaml(number: int) -> str:
    models = MIXES[(number - 1) % len(MIXES)]
    lines = [f"# server {number:02d} of the benchmark fleet", f"image: {IMAGE}", "instances:"]
    for model in models:
        lines += [f"  - model: {model}", "    max_model_len: 32768"]
    return "\n".join(lines) + "\n"


def make_fleet(root: Path, count: int) -> list[Path]:
    directories = []
    for number in range(1, count + 1):
        directory = root / f"server-{number:02d}"
        directory.mkdir(parents=True)
        (directory / "ascendgen.yaml").write_text(deployment_yaml(number), encoding="utf-8")
        directories.append(directory)
    return directories


# as an installed program runs: its bytecode cached (bench/README.md)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - started


# One process plans and writes the first N servers' files; it prints the seconds that took (imports excluded).
_IN_PROCESS_PLAN = """
import sys, time
from pathlib import Path
from ascendgen.deployfile import load_deployment
from ascendgen.generated import write_compose
from ascendgen.plans import make_plans
directories = [Path(p) for p in sys.argv[1:]]
started = time.perf_counter()
for directory in directories:
    request = load_deployment(directory / "ascendgen.yaml")
    write_compose(make_plans(request), request, directory, force=True)
print(time.perf_counter() - started)
"""

# One process checks N compose files as `ascendgen check` does; it prints the seconds (imports excluded).
_IN_PROCESS_CHECK = """
import sys, time
from pathlib import Path
from ascendgen.cli.check_run import render_recipe
from ascendgen.generated import check_drift
started = time.perf_counter()
results = [check_drift(Path(p), render_recipe) for p in sys.argv[1:]]
elapsed = time.perf_counter() - started
assert all(r.ok for r in results), [r.problem for r in results if not r.ok]
print(elapsed)
"""


def in_process(script: str, args: list[str], runs: int) -> list[float]:
    return [
        float(
            subprocess.run(
                [sys.executable, "-c", script, *args], check=True, capture_output=True, text=True, env=ENV
            ).stdout
        )
        for _ in range(runs)
    ]


def summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the fleet here and keep it (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="ascendgen-fleet-"))
    try:
        rows = run(root, args.runs)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(machine())
        print(f"{'measure':<62} {'median':>8} {'min':>8} {'max':>8}  under {GOAL_S:g} s")
        for name, figures in rows:
            met = "yes" if figures["median"] < GOAL_S else "NO"
            print(f"{name:<62} {figures['median']:8.3f} {figures['min']:8.3f} {figures['max']:8.3f}  {met}")
    return 0 if all(figures["median"] < GOAL_S for name, figures in rows if name.startswith("*")) else 1


def run(root: Path, runs: int) -> list[tuple[str, dict[str, float]]]:
    cli = ascendgen()
    fleet = make_fleet(root / "fleet", SERVERS)
    checked = make_fleet(root / "checked", CHECKED)
    for directory in checked:  # the committed files `check` reads
        subprocess.run([*cli, "plan", "-f", "ascendgen.yaml"], cwd=directory, check=True, capture_output=True, env=ENV)
    instances = sum(len(MIXES[(n - 1) % len(MIXES)]) for n in range(1, SERVERS + 1))
    rows: list[tuple[str, dict[str, float]]] = []
    for count in (1, 2, 4, 8, 16, 32):
        times = in_process(_IN_PROCESS_PLAN, [str(d) for d in fleet[:count]], runs)
        mark = "*" if count == SERVERS else " "
        rows.append((f"{mark}plan + write {count:2d} server(s) in one process", summary(times)))
    per_server = [timed([*cli, "plan", "-f", "ascendgen.yaml"], d) for d in fleet for _ in range(1)]
    rows.append(("*`ascendgen plan -f ascendgen.yaml`, one server (each of 32)", summary(per_server)))
    rows.append((f" the whole fleet that way: 32 processes, {instances} instances", {"median": sum(per_server),
                 "min": sum(per_server), "max": sum(per_server)}))  # fmt: skip
    for count in (1, 10, 25, 50, 100):
        directories = [str(d) for d in checked[:count]]
        times = [timed([*cli, "check", *directories], root) for _ in range(runs)]
        mark = "*" if count == CHECKED else " "
        rows.append((f"{mark}`ascendgen check` of {count:3d} compose file(s), one process", summary(times)))
    times = in_process(_IN_PROCESS_CHECK, [str(d / "compose.yml") for d in checked], runs)
    rows.append((f" check of {CHECKED} files in one process, imports excluded", summary(times)))
    bare = [timed([sys.executable, "-c", "pass"], root) for _ in range(runs)]
    rows.append((" python -c pass (for scale)", summary(bare)))
    return rows


if __name__ == "__main__":
    sys.exit(main())
