"""npu-smi, the Ascend driver's NPU tool, in one place: where it is, `npu-smi info` run with a timeout, and the
process table that says which NPUs are busy. Used by preflight (before `up`), doctor (the host report) and
hostnpus (this machine's NPUs, for `models --fit`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ascendgen.errors import AscendgenError

__all__ = ["INFO_TIMEOUT_S", "NPU_SMI", "NpuSmiFailed", "find_npu_smi", "npu_smi_info", "parse_processes"]

# Where the Ascend driver installer puts it (Ascend HDK installation guide; the seeds mount it).
NPU_SMI = "/usr/local/bin/npu-smi"
INFO_TIMEOUT_S = 30  # npu-smi info answers in about a second; a hung driver makes it hang


class NpuSmiFailed(AscendgenError):
    """`npu-smi info` gave no table: `detail` says what happened, `fix` what to look at."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(f"{detail}: {fix}")
        self.detail = detail
        self.fix = fix


def find_npu_smi(host_paths: Iterable[Path]) -> str | None:
    """The first of `host_paths` that is an executable file (where the host's npu-smi is seen from here),
    else npu-smi on PATH, else None."""
    for path in host_paths:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which("npu-smi")


def npu_smi_info(npu_smi: str, *, timeout_s: float = INFO_TIMEOUT_S) -> str:
    """What `npu-smi info` prints. Raises NpuSmiFailed when it hangs, cannot run or fails."""
    try:
        done = subprocess.run([npu_smi, "info"], capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise NpuSmiFailed(
            f"`{npu_smi} info` did not answer within {timeout_s:g} s",
            "the driver may be hung: check `dmesg`, or reboot",
        ) from None
    except OSError as exc:
        raise NpuSmiFailed(f"{npu_smi} cannot run ({exc.strerror or exc})", "reinstall the Ascend driver") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        raise NpuSmiFailed(
            f"`{npu_smi} info` failed (exit {done.returncode}: {last.strip()})",
            "run `npu-smi info` by hand; is the driver loaded?",
        )
    return done.stdout


# npu-smi prints an empty process name for processes it sees from another PID namespace (a container).
_PROCESS_ROW = re.compile(r"^\|\s*(\d+)\s+\d+\s*\|\s*(\d+)\s*\|\s*(\S*)\s*\|\s*\d+\s*\|\s*$")


def parse_processes(output: str) -> dict[int, tuple[int, str]]:
    """NPU index -> (pid, process name) from the process table at the end of `npu-smi info`."""
    busy: dict[int, tuple[int, str]] = {}
    in_table = False
    for line in output.splitlines():
        if "Process id" in line:
            in_table = True
            continue
        if not in_table:
            continue
        match = _PROCESS_ROW.match(line.strip())
        if match:
            busy.setdefault(int(match.group(1)), (int(match.group(2)), match.group(3) or "unnamed"))
    return busy
