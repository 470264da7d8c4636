"""Benchmark: what `ascendgen up` costs beyond starting the containers, on the stand-in engine image.

For each run, in turn (A B A B ...), from a clean state (`docker compose down` between runs, not timed):
  A  `ascendgen up DIR`: preflight, `docker compose up -d`, wait until the API lists the model;
  B  `docker compose up -d` then a curl loop: `until curl -sf http://127.0.0.1:PORT/v1/models; do sleep 0.1; done`
     (what a user would script without ascendgen; 0.1 s between tries, the quickest loop one would write).
A watcher thread asks /v1/models every 5 ms and notes when the model is first listed ("answering"), so each run
gives its total wall time and the time from answering to the command's return.
Goals (bench/README.md): A returns under 1 s after the API answers; A's total is at most 2 s more than B's.

The stand-in (tests/standin) serves the OpenAI API after STANDIN_STARTUP_SECONDS (--startup, default 5 s,
set in compose.override.yml as the end-to-end tests do) on a fake NPU host (tests/fakehost.py, device nodes made
with mknod: run as root). Needs a Docker Engine with Compose v2 that no one else is using (the service's
container_name is fixed: do not run it beside tests/e2e), the repository checkout, and ascendgen installed
(`pip install .`) in the Python that runs this script.

Run: python bench/bench_up.py [--runs N] [--startup S] [--profile]   (--profile: one `up` in-process under
cProfile, the 30 slowest calls by cumulative time, to see where the time outside compose goes)"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from benchkit import ascendgen, machine  # noqa: E402
from deployment import free_port  # noqa: E402
from fakehost import QWEN3_8B_CONFIG, make_fake_npu_host, write_hardware_file  # noqa: E402
from standin.build import DEFAULT_TAG, build_standin_image  # noqa: E402

GOAL_LAG_S = 1.0
GOAL_EXTRA_S = 2.0
MODEL = "Qwen3-8B"
SERVED = "Qwen/Qwen3-8B"
POLL_S = 0.005


class Watcher(threading.Thread):
    """Notes the first moment /v1/models lists the served model."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/v1/models"
        self.answered: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and self.answered is None:
            try:
                with urllib.request.urlopen(self.url, timeout=1) as response:
                    names = [m.get("id") for m in json.load(response).get("data", [])]
                if SERVED in names:
                    self.answered = time.monotonic()
                    return
            except (OSError, ValueError):
                pass
            time.sleep(POLL_S)


def timed_run(command: list[str], cwd: Path, port: int) -> tuple[float, float]:
    """(total seconds, seconds from the API answering to the command's return)."""
    watcher = Watcher(port)
    watcher.start()
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    ended = time.monotonic()
    watcher.stop.set()
    watcher.join()
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} ... failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    if watcher.answered is None:
        raise SystemExit(f"{' '.join(command[:3])}: returned before the API answered")
    return ended - started, ended - watcher.answered


def down(directory: Path) -> None:
    subprocess.run(["docker", "compose", "down", "--timeout", "2"], cwd=directory, capture_output=True, check=False)


def plan(root: Path, image: str, startup: float) -> tuple[Path, int]:
    host = make_fake_npu_host(root / "host", models={SERVED: QWEN3_8B_CONFIG})
    hardware = write_hardware_file(root / "fake-hardware.yaml", host)
    port = free_port()
    directory = root / "ascendgen-bench-up"
    subprocess.run(
        [*ascendgen(), "plan", MODEL, "--server", "fake-a2", "--hardware", str(hardware), "--image", image,
         "--models-dir", str(host.models), "--port", str(port), "--out", str(directory)],
        check=True, capture_output=True,
    )  # fmt: skip
    service = "vllm-" + MODEL.lower()
    (directory / "compose.override.yml").write_text(
        f"services:\n  {service}:\n    environment:\n      STANDIN_STARTUP_SECONDS: '{startup:g}'\n", encoding="utf-8"
    )
    return directory, port


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def profile(directory: Path) -> None:
    code = (
        "import cProfile, pstats, sys\n"
        "from ascendgen.cli.app import main\n"
        "profiler = cProfile.Profile()\n"
        "profiler.enable()\n"
        "try:\n"
        f"    main(['up', {str(directory)!r}, '--timeout', '120'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "profiler.disable()\n"
        "pstats.Stats(profiler, stream=sys.stdout).sort_stats('cumulative').print_stats(30)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=directory, check=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--startup", type=float, default=5.0, help="seconds the stand-in 'loads' before answering")
    parser.add_argument("--profile", action="store_true", help="profile one `ascendgen up` instead")
    args = parser.parse_args()
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        raise SystemExit("no Docker Engine answers (`docker info` fails)")
    if shutil.which("curl") is None:
        raise SystemExit("the baseline needs curl")
    image = build_standin_image(DEFAULT_TAG)
    root = Path(tempfile.mkdtemp(prefix="ascendgen-bench-up-"))
    directory, port = plan(root, image, args.startup)
    try:
        if args.profile:
            down(directory)
            profile(directory)
            return 0
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        curl_loop = (
            f"docker compose up -d && until curl -sf http://127.0.0.1:{port}/v1/models >/dev/null; do sleep 0.1; done"
        )
        for _ in range(args.runs):
            down(directory)
            ours.append(timed_run([*ascendgen(), "up", str(directory), "--timeout", "120"], directory, port))
            down(directory)
            theirs.append(timed_run(["sh", "-c", curl_loop], directory, port))
    finally:
        down(directory)
        shutil.rmtree(root, ignore_errors=True)
    extra = [a[0] - b[0] for a, b in zip(ours, theirs, strict=True)]
    rows = [
        ("ascendgen up: total", summary([t for t, _ in ours]), None),
        ("ascendgen up: from the API answering to its return", summary([lag for _, lag in ours]), GOAL_LAG_S),
        ("compose up -d + curl loop: total", summary([t for t, _ in theirs]), None),
        ("compose up -d + curl loop: from answering to return", summary([lag for _, lag in theirs]), None),
        ("ascendgen up minus compose + curl, run by run", summary(extra), GOAL_EXTRA_S),
    ]
    print(machine())
    print(f"stand-in startup {args.startup:g} s, {args.runs} runs each, in turn")
    print(f"{'measure':<54} {'median':>8} {'min':>8} {'max':>8}  goal")
    met = True
    for name, (median, low, high), goal in rows:
        ok = goal is None or (median < goal if goal == GOAL_LAG_S else median <= goal)
        verdict = "" if goal is None else (f"{'<' if goal == GOAL_LAG_S else '<='} {goal:g} s: {'yes' if ok else 'NO'}")
        met = met and ok
        print(f"{name:<54} {median:8.3f} {low:8.3f} {high:8.3f}  {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
