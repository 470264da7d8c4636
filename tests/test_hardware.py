"""Hardware as data: NPU types, platforms and server profiles from hardware.yaml (with --hardware files over
it), their validation, and the device and driver mounts a container gets."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from ascendgen.errors import InputError
from ascendgen.hardware import NpuType, Platform, ServerProfile, load_hardware, npu_mounts

Write = Callable[[str, str], Path]
HARDWARE = load_hardware()
A2 = HARDWARE.platform("a2")
SERVER = HARDWARE.server("atlas-800i-a2")


def test_the_seeds_server_and_its_platform() -> None:
    assert (SERVER.npu_type, SERVER.npu_count, SERVER.groups) == ("910B4", 8, ((0, 1, 2, 3), (4, 5, 6, 7)))
    b4 = HARDWARE.npu_type("910B4")
    assert (b4.memory_gib, b4.visible_gib, b4.platform) == (32, 29.49, "a2")
    assert A2.control_devices == ("/dev/davinci_manager", "/dev/hisi_hdc", "/dev/devmm_svm")
    assert A2.multinode_mounts == ("/usr/local/Ascend/driver/tools/hccn_tool", "/etc/hccn.conf")


def test_mounts_for_one_server_and_for_a_node_of_several() -> None:
    devices, driver = npu_mounts(SERVER, A2, (0, 5))
    assert devices == ("/dev/davinci_manager", "/dev/hisi_hdc", "/dev/devmm_svm", "/dev/davinci0", "/dev/davinci5")
    assert driver == (
        "/usr/local/dcmi:/usr/local/dcmi:ro",
        "/usr/local/bin/npu-smi:/usr/local/bin/npu-smi:ro",
        "/usr/local/Ascend/driver/lib64/:/usr/local/Ascend/driver/lib64/:ro",
        "/usr/local/Ascend/driver/version.info:/usr/local/Ascend/driver/version.info:ro",
        "/etc/ascend_install.info:/etc/ascend_install.info:ro",
    )
    _, node_driver = npu_mounts(SERVER, A2, (0,), multinode=True)
    assert node_driver == (
        *driver,
        "/usr/local/Ascend/driver/tools/hccn_tool:/usr/local/Ascend/driver/tools/hccn_tool:ro",
        "/etc/hccn.conf:/etc/hccn.conf:ro",
    )


def test_a_host_root_elsewhere_moves_every_host_path() -> None:
    moved = SERVER.model_copy(update={"host_root": "/host/"})
    assert moved.host_path("/dev/davinci0") == "/host/dev/davinci0"
    assert moved.mount("/dev/davinci0") == "/host/dev/davinci0:/dev/davinci0"
    assert moved.mount("/usr/local/dcmi", suffix=":ro") == "/host/usr/local/dcmi:/usr/local/dcmi:ro"
    # at / a device is written once (compose's short form), a driver path with its mode
    assert SERVER.host_path("/dev/davinci0") == "/dev/davinci0"
    assert SERVER.mount("/dev/davinci0") == "/dev/davinci0"
    assert SERVER.mount("/usr/local/dcmi", suffix=":ro") == "/usr/local/dcmi:/usr/local/dcmi:ro"
    devices, driver = npu_mounts(moved, A2, (1,))
    assert devices[-1] == "/host/dev/davinci1:/dev/davinci1"
    assert driver[0] == "/host/usr/local/dcmi:/usr/local/dcmi:ro"


def test_names_are_found_whatever_their_case_and_unknown_ones_name_the_known() -> None:
    assert HARDWARE.npu_type("910b4").name == "910B4"
    assert HARDWARE.server("ATLAS-800I-A2").name == "atlas-800i-a2"
    assert HARDWARE.platform("A2").name == "a2"
    cases = [
        (lambda: HARDWARE.npu_type("910B5"), "unknown NPU type '910B5' (did you mean '910B4'?); known: 910B1, 910B2, "
                                             "910B2C, 910B3, 910B4, 910B4-1, 910C, 310P3"),
        (lambda: HARDWARE.platform("a9"), "unknown platform 'a9'; known: a2, a3, 310p"),
        (lambda: HARDWARE.server("nowhere"), "unknown server profile 'nowhere'; known: "
                                             + ", ".join(s.name for s in HARDWARE.servers)),
    ]  # fmt: skip
    for find, message in cases:
        with pytest.raises(InputError) as refused:
            find()
        assert str(refused.value) == message


def test_visible_memory_cannot_exceed_the_hbm() -> None:
    assert NpuType(name="x", memory_gib=32, visible_gib=32, platform="a2").visible_gib == 32
    with pytest.raises(ValidationError, match="visible_gib cannot exceed memory_gib"):
        NpuType(name="x", memory_gib=32, visible_gib=32.5, platform="a2")


@pytest.mark.parametrize("path", ["usr/local/dcmi", "/a:/b", "/a\nb"])
@pytest.mark.parametrize("field", ["control_devices", "driver_mounts", "multinode_mounts"])
def test_platform_paths_are_absolute_without_colons_or_newlines(field: str, path: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(f"path {path!r} must be absolute, without ':' or newlines")):
        Platform.model_validate({**A2.model_dump(), field: [path]})


def test_groups_stay_within_the_server() -> None:
    assert ServerProfile(name="s", npu_type="910B4", npu_count=2, groups=((0, 1),)).groups == ((0, 1),)
    for bad in (2, -1):
        with pytest.raises(ValidationError, match=f"group NPU {bad} is outside 0-1"):
            ServerProfile(name="s", npu_type="910B4", npu_count=2, groups=((0, bad),))


def test_a_hardware_file_adds_to_the_shipped_one_and_must_hold_together(write: Write) -> None:
    extra = write("hw.yaml", """
        npu_types:
          - name: X1
            memory_gib: 16
            visible_gib: 15
            platform: a2
        servers:
          - name: x-box
            npu_type: X1
            npu_count: 2
        """)  # fmt: skip
    hardware = load_hardware([extra])
    assert hardware.server("x-box").npu_count == 2 and hardware.npu_type("X1").visible_gib == 15
    assert hardware.npu_type("910B4").visible_gib == 29.49  # the shipped entries stay
    orphan = write("orphan.yaml", "npu_types:\n  - {name: X2, memory_gib: 16, visible_gib: 15, platform: nowhere}\n")
    with pytest.raises(InputError, match="unknown platform 'nowhere'; known: a2, a3, 310p"):
        load_hardware([orphan])
    lost = write("lost.yaml", "servers:\n  - {name: y-box, npu_type: X9, npu_count: 1}\n")
    with pytest.raises(InputError, match="unknown NPU type 'X9'"):
        load_hardware([lost])


def test_a_hardware_file_error_names_the_kind_of_entry(write: Write) -> None:
    for section, entry, kind in (
        ("npu_types", "{name: X1, memory_gib: 16, visible_gib: 15, platform: a2, colour: red}", "NPU type 'X1'"),
        ("servers", "{name: s1, npu_type: 910B4, npu_count: 1, colour: red}", "server profile 's1'"),
        ("platforms", "{name: p1, colour: red}", "platform 'p1'"),
    ):
        path = write(f"{section}.yaml", f"{section}:\n  - {entry}\n")
        with pytest.raises(InputError, match=re.escape(f"{path}:2: {kind}: ")):
            load_hardware([path])


def test_a_host_root_keeps_its_own_name() -> None:
    assert SERVER.model_copy(update={"host_root": "/mnt/X/"}).host_path("/dev/davinci0") == "/mnt/X/dev/davinci0"
