"""This machine's NPUs from `npu-smi info`: real outputs of A2, A3 and Atlas 300I Duo hosts, mapped to hardware.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascendgen.hardware import load_hardware
from ascendgen.hostnpus import host_server, npu_type_for_chip, parse_npu_smi_chips, read_host_npus

from fakehost import NpuProcess, render_npu_smi_info

SAMPLES = Path(__file__).parent / "fixtures" / "npu-smi"  # real outputs; README.md there names their sources
DUO_CARD = (SAMPLES / "atlas-300i-duo.txt").read_text(encoding="utf-8")  # 2 x 310P3 under one NPU id
A3_DIES = (SAMPLES / "a3-two-npus.txt").read_text(encoding="utf-8")  # 2 NPUs x 2 "Ascend910" dies
COMPACT_310P = (SAMPLES / "310p-compact.txt").read_text(encoding="utf-8")  # 4 x 310P3, one chip per NPU


@pytest.mark.parametrize(
    ("text", "chips"),
    [
        (DUO_CARD, ["310P3", "310P3"]),
        (A3_DIES, ["Ascend910"] * 4),
        (COMPACT_310P, ["310P3"] * 4),
        (render_npu_smi_info(8, {0: [NpuProcess(124528, "python3.8", 17400)]}), ["910B4"] * 8),
        (render_npu_smi_info(8, npu_name="910B4-1", hbm_mb=65536), ["910B4-1"] * 8),
        ("", []),
    ],
)
def test_every_device_row_counts_once(text: str, chips: list[str]) -> None:
    # the second row of each chip ("| 0   0   | 0000:01:00.0 |": chip and device numbers) and the process table
    # ("| 0   0   | 124528 | python3.8 |") are not devices
    assert parse_npu_smi_chips(text) == chips


@pytest.mark.parametrize(
    ("chip", "npu_type"),
    [("910B4", "910B4"), ("910B4-1", "910B4-1"), ("910B3", "910B3"), ("310P3", "310P3"), ("Ascend910", "910C")],
)
def test_npu_smi_names_map_to_npu_types(chip: str, npu_type: str) -> None:
    found = npu_type_for_chip(chip, load_hardware())
    assert found is not None and found.name == npu_type


def test_an_unknown_chip_has_no_npu_type() -> None:
    assert npu_type_for_chip("Ascend950", load_hardware()) is None


def test_the_host_is_the_profile_with_its_npus_or_one_made_from_them() -> None:
    from ascendgen.hostnpus import HostNpus

    hardware = load_hardware()
    duo = HostNpus(hardware.npu_type("310P3"), 2, "npu-smi")
    assert host_server(hardware, duo).name == "atlas-300i-duo"
    assert host_server(hardware, HostNpus(hardware.npu_type("910C"), 16, "npu-smi")).name == "atlas-800i-a3"
    four_cards = host_server(hardware, HostNpus(hardware.npu_type("310P3"), 8, "npu-smi"))
    assert (four_cards.name, four_cards.npu_type, four_cards.npu_count) == ("this-host", "310P3", 8)


def test_without_npu_smi_there_is_no_host(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("ascendgen.npusmi.NPU_SMI", str(tmp_path) + "/npu-smi")
    assert read_host_npus(load_hardware()) == (None, "no npu-smi on this machine")
