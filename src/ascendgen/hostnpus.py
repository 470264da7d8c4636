"""The NPUs of this machine, as `npu-smi info` names them, mapped to hardware.yaml's NPU types: what `models --fit`
evaluates when no server is named. Reads the host (runs npu-smi); prints nothing."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ascendgen import npusmi
from ascendgen.errors import InputError
from ascendgen.hardware import Hardware, NpuType, ServerProfile
from ascendgen.npusmi import INFO_TIMEOUT_S, NpuSmiFailed, npu_smi_info
from ascendgen.records import validate

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
    """This machine's npu-smi: where the driver installs it, else on PATH."""
    return npusmi.find_npu_smi([Path(npusmi.NPU_SMI)])


def read_host_npus(hardware: Hardware, *, timeout_s: float = INFO_TIMEOUT_S) -> tuple[HostNpus | None, str]:
    """This machine's NPUs from `npu-smi info`, or None with the reason (no npu-smi, it failed, no NPU listed). An
    NPU npu-smi names but hardware.yaml does not know, or several kinds at once, is refused: pass --npu-type."""
    npu_smi = find_npu_smi()
    if npu_smi is None:
        return None, "no npu-smi on this machine"
    try:
        chips = parse_npu_smi_chips(npu_smi_info(npu_smi, timeout_s=timeout_s))
    except NpuSmiFailed as exc:
        return None, exc.detail
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
    about = {
        "name": HOST_SERVER,
        "description": f"this machine: {host.count} x {host.npu_type.name} (npu-smi)",
        "npu_type": host.npu_type.name,
        "npu_count": host.count,
    }
    return validate(ServerProfile, about)
