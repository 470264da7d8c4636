"""Benchmark: how fast `ascendgen plan` answers, and how much memory it takes.

Goals (bench/README.md): a cold `ascendgen plan MODEL --dry-run` under 0.5 s wall and 80 MB peak RSS on
the 2-core reference machine; planning and rendering the whole catalog in-process under 1 s.

Run: python bench/bench_plan.py [--runs N]   (after `pip install .`)"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

GOAL_COLD_S = 0.5
GOAL_RSS_MB = 80.0
GOAL_CATALOG_S = 1.0


def cold_plan(runs: int) -> tuple[float, float]:
    exe = shutil.which("ascendgen")
    command = [exe] if exe else [sys.executable, "-m", "ascendgen"]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([*command, "plan", "Qwen3-30B-A3B", "--out", tmp], check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    return statistics.median(times), peak_kb / 1024


def whole_catalog() -> tuple[float, int]:
    from ascendgen.catalog import load_catalog
    from ascendgen.errors import PlanError
    from ascendgen.plans import Instance, PlanRequest, make_plans
    from ascendgen.render import render_compose

    names = [m.name for m in load_catalog().models]
    started = time.perf_counter()
    rendered = 0
    for npu_type in ("910B4", "910B3", "910C"):
        for name in names:
            request = PlanRequest(instances=(Instance(model=name),), npu_type=npu_type)
            try:
                plans = make_plans(request)
            except PlanError:
                continue  # too big for one server of this type
            render_compose(plans, regenerate=request.command())
            rendered += 1
    return time.perf_counter() - started, rendered


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    cold_s, rss_mb = cold_plan(args.runs)
    catalog_s, rendered = whole_catalog()
    rows = [
        (f"cold `ascendgen plan Qwen3-30B-A3B` (median of {args.runs})", f"{cold_s:.3f} s", f"< {GOAL_COLD_S} s",
         cold_s < GOAL_COLD_S),
        ("peak RSS of one `plan` process", f"{rss_mb:.1f} MB", f"< {GOAL_RSS_MB:g} MB", rss_mb < GOAL_RSS_MB),
        (f"plan + render {rendered} (model, NPU type) pairs in-process", f"{catalog_s:.3f} s",
         f"< {GOAL_CATALOG_S} s", catalog_s < GOAL_CATALOG_S),
    ]  # fmt: skip
    print(f"{'measure':<58} {'result':>10} {'goal':>10}  met")
    for name, result, goal, met in rows:
        print(f"{name:<58} {result:>10} {goal:>10}  {'yes' if met else 'NO'}")
    return 0 if all(row[3] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
