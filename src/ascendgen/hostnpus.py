"""The NPUs of this machine, as `npu-smi info` names them, mapped to hardware.yaml's NPU types: what `models --fit`
evaluates when no server is named. Reads the host (runs npu-smi); prints nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ascendgen.errors import InputError
from ascendgen.hardware import Hardware, NpuType, ServerProfile

NPU_SMI = "/usr/local/bin/npu-smi"  # where the Ascend driver installs it (and what the compose files mount)
NPU_SMI_TIMEOUT_S = 30  # `npu-smi info` answers in about a second; a hung driver makes it hang
HOST_SERVER = "this-host"

# Chip names npu-smi prints that differ from hardware.yaml's NPU type names. A3 (910C) dies print as "Ascend910",
# two rows per NPU (`npu-smi info` in vllm-project/vllm-ascend issues 2534 and 12980: NPUs 0-7, Phy-ID 0-15, 65536 MB
# each). A2 chips print their own names (910B4, 910B3, ...), the Atlas 300I Duo's two chips per card "310P3"
# (Syllo/nvtop#421, vllm-project/vllm-ascend#1141).
_CHIP_ALIASES = {"ascend910": "910C"}

# A chip's first row: "| 2       310P3                 | OK              | NA ...": the NPU id, then the chip name.
# Its second row starts with the chip (and on A3 / 310P the device) number: "| 0       0         | 0000:01:00.0 |".
_CHIP_ROW = re.compile(r"^\|\s*(\d+)\s+(\S+)\s*\|")


def parse_npu_smi_chips(output: str) -> list[str]:
    """The chip name of every device (one davinci device each: a 910B, a 310P3 chip, an A3 die) in `npu-smi info`'s
    table, in order; the process table after it is not read."""
    chips = []
    for line in output.splitlines():
        if "Process id" in line:
            break
        match = _CHIP_ROW.match(line.strip())
        if match and not match.group(2).isdigit():
            chips.append(match.group(2))
    return chips


def npu_type_for_chip(chip: str, hardware: Hardware) -> NpuType | None:
    """hardware.yaml's NPU type for an npu-smi chip name (None when it has none)."""
    name = _CHIP_ALIASES.get(chip.lower(), chip)
    return next((npu for npu in hardware.npu_types if npu.name.lower() == name.lower()), None)


@dataclass(frozen=True)
class HostNpus:
    npu_type: NpuType
    count: int
    npu_smi: str  # the npu-smi that reported them


def find_npu_smi() -> str | None:
    on_path = shutil.which("npu-smi")
    if on_path is not None:
        return on_path
    return NPU_SMI if Path(NPU_SMI).is_file() else None


def read_host_npus(hardware: Hardware, *, timeout_s: float = NPU_SMI_TIMEOUT_S) -> tuple[HostNpus | None, str]:
    """This machine's NPUs from `npu-smi info`, or None with the reason (no npu-smi, it failed, no NPU listed). An
    NPU npu-smi names but hardware.yaml does not know, or several kinds at once, is refused: pass --npu-type."""
    npu_smi = find_npu_smi()
    if npu_smi is None:
        return None, "no npu-smi on this machine"
    try:
        done = subprocess.run([npu_smi, "info"], capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return None, f"`{npu_smi} info` did not answer within {timeout_s:g} s"
    except OSError as exc:
        return None, f"{npu_smi} cannot run ({exc.strerror or exc})"
    if done.returncode != 0:
        return None, f"`{npu_smi} info` failed (exit {done.returncode})"
    chips = parse_npu_smi_chips(done.stdout)
    if not chips:
        return None, f"`{npu_smi} info` lists no NPU"
    kinds = Counter(chips)
    if len(kinds) > 1:
        listed = ", ".join(f"{count} x {chip}" for chip, count in sorted(kinds.items()))
        raise InputError(f"npu-smi lists several NPU types ({listed}): pick one with --npu-type")
    (chip,) = kinds
    npu = npu_type_for_chip(chip, hardware)
    if npu is None:
        known = ", ".join(n.name for n in hardware.npu_types)
        raise InputError(
            f"npu-smi names this machine's NPUs '{chip}', which is not a known NPU type ({known}): pass --npu-type "
            "or --server, or describe it in a --hardware file"
        )
    return HostNpus(npu_type=npu, count=len(chips), npu_smi=npu_smi), ""


def host_server(hardware: Hardware, host: HostNpus) -> ServerProfile:
    """The server profile of this machine: the profile with its NPU type and count, else one made from them."""
    for profile in hardware.servers:
        if profile.npu_type == host.npu_type.name and profile.npu_count == host.count:
            return profile
    return ServerProfile(
        name=HOST_SERVER,
        description=f"this machine: {host.count} x {host.npu_type.name} (npu-smi)",
        npu_type=host.npu_type.name,
        npu_count=host.count,
    )
