"""Pure parts of preflight: reading npu-smi's process table (format from DESIGN.md 4b, A2 servers)."""

from __future__ import annotations

from ascendgen.preflight import parse_npu_smi_processes

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
    assert parse_npu_smi_processes(NPU_SMI_A2) == {0: (124528, "python3.8")}


def test_idle_server_has_no_busy_npus() -> None:
    table_start = NPU_SMI_A2.index("| NPU     Chip")
    idle = NPU_SMI_A2[:table_start] + (
        "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |\n"
        "+===========================+===============+====================================================+\n"
        "| No running processes found in NPU 0                                                            |\n"
        "| No running processes found in NPU 1                                                            |\n"
    )
    assert parse_npu_smi_processes(idle) == {}


def test_no_output() -> None:
    assert parse_npu_smi_processes("") == {}


def test_process_seen_from_a_container_has_no_name() -> None:
    row = "| 3       0                 | 8812          |                          | 30000                   |"
    table = NPU_SMI_A2.replace(
        "| 0       0                 | 124528        | python3.8                | 17400                   |", row
    )
    assert parse_npu_smi_processes(table) == {3: (8812, "unnamed")}
