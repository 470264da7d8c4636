"""What the benchmark scripts share: the machine they report, and the ascendgen they time."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def machine() -> str:
    """What the figures were taken on: processors, CPU model, Python, load average (other work on the machine)."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")  # fmt: skip
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]}, load average {load}"


def ascendgen() -> list[str]:
    beside = Path(sys.executable).parent / "ascendgen"  # the environment's own script, not whatever PATH finds
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "ascendgen"]
