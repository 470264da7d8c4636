"""npu-smi (npusmi.py): its process table (format from DESIGN.md 4b, A2 servers) read into busy NPUs, where it
is found, and `npu-smi info` run with a timeout, against small stand-in scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascendgen.npusmi import NpuSmiFailed, find_npu_smi, npu_smi_info, parse_processes

NPU_SMI_A2 = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 24.1.rc3                 Version: 24.1.rc3                                             |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     910B4               | OK            | 93.4        45                0    / 0             |
| 0                         | 0000:C1:00.0  | 0           0    / 0          19887/ 32768         |
+===========================+===============+====================================================+
| 1     910B4               | OK            | 86.0        44                0    / 0             |
| 0                         | 0000:C2:00.0  | 0           0    / 0          2883 / 32768         |
+===========================+===============+====================================================+
+---------------------------+---------------+----------------------------------------------------+
| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
+===========================+===============+====================================================+
| 0       0                 | 124528        | python3.8                | 17400                   |
+===========================+===============+====================================================+
| No running processes found in NPU 1                                                            |
+===========================+===============+====================================================+
"""


def test_busy_npus_from_process_table() -> None:
    assert parse_processes(NPU_SMI_A2) == {0: (124528, "python3.8")}


def test_idle_server_has_no_busy_npus() -> None:
    table_start = NPU_SMI_A2.index("| NPU     Chip")
    idle = NPU_SMI_A2[:table_start] + (
        "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |\n"
        "+===========================+===============+====================================================+\n"
        "| No running processes found in NPU 0                                                            |\n"
        "| No running processes found in NPU 1                                                            |\n"
    )
    assert parse_processes(idle) == {}


def test_no_output() -> None:
    assert parse_processes("") == {}


def test_process_seen_from_a_container_has_no_name() -> None:
    row = "| 3       0                 | 8812          |                          | 30000                   |"
    table = NPU_SMI_A2.replace(
        "| 0       0                 | 124528        | python3.8                | 17400                   |", row
    )
    assert parse_processes(table) == {3: (8812, "unnamed")}


# ---- finding it, running it ----------------------------------------------------------------------------------


def script(path: Path, body: str, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def no_npu_smi_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def test_the_first_executable_host_path_wins(tmp_path: Path, no_npu_smi_on_path: Path) -> None:
    not_executable = script(tmp_path / "a" / "npu-smi", "exit 0", mode=0o644)
    directory = tmp_path / "b" / "npu-smi"
    directory.mkdir(parents=True)
    good = script(tmp_path / "c" / "npu-smi", "exit 0")
    later = script(tmp_path / "d" / "npu-smi", "exit 0")
    assert find_npu_smi([tmp_path / "missing", not_executable, directory, good, later]) == str(good)


def test_path_is_the_fallback_and_none_when_absent(tmp_path: Path, no_npu_smi_on_path: Path) -> None:
    assert find_npu_smi([tmp_path / "missing"]) is None
    on_path = script(no_npu_smi_on_path / "npu-smi", "exit 0")
    assert find_npu_smi([tmp_path / "missing"]) == str(on_path)
    assert find_npu_smi([]) == str(on_path)


def test_info_returns_what_it_prints(tmp_path: Path) -> None:
    npu_smi = script(tmp_path / "npu-smi", f'[ "$1" = info ] || exit 9\ncat <<"END"\n{NPU_SMI_A2}END')
    output = npu_smi_info(str(npu_smi))
    assert output == NPU_SMI_A2
    assert parse_processes(output) == {0: (124528, "python3.8")}


def test_info_failing_says_its_exit_code_and_last_line(tmp_path: Path) -> None:
    npu_smi = script(
        tmp_path / "npu-smi", "echo starting\necho 'dcmi module initialize failed. ret is -8005' >&2\nexit 255"
    )
    with pytest.raises(NpuSmiFailed) as failed:
        npu_smi_info(str(npu_smi))
    assert failed.value.detail == f"`{npu_smi} info` failed (exit 255: dcmi module initialize failed. ret is -8005)"
    assert failed.value.fix == "run `npu-smi info` by hand; is the driver loaded?"


def test_info_failing_silently_says_so(tmp_path: Path) -> None:
    npu_smi = script(tmp_path / "npu-smi", "exit 3")
    with pytest.raises(NpuSmiFailed, match=r"failed \(exit 3: no output\)"):
        npu_smi_info(str(npu_smi))


def test_info_that_hangs_is_cut_off_at_the_timeout(tmp_path: Path) -> None:
    npu_smi = script(tmp_path / "npu-smi", "exec sleep 5")
    with pytest.raises(NpuSmiFailed) as hung:
        npu_smi_info(str(npu_smi), timeout_s=0.3)
    assert hung.value.detail == f"`{npu_smi} info` did not answer within 0.3 s"
    assert "dmesg" in hung.value.fix


def test_info_that_cannot_run(tmp_path: Path) -> None:
    not_a_program = tmp_path / "npu-smi"
    not_a_program.write_bytes(b"\x7fELF broken")
    not_a_program.chmod(0o755)
    with pytest.raises(NpuSmiFailed) as broken:
        npu_smi_info(str(not_a_program))
    assert broken.value.detail.startswith(f"{not_a_program} cannot run (")
    assert broken.value.fix == "reinstall the Ascend driver"
