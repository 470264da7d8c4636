"""hardware.py: the built-in NPU types, platforms and server profiles, what a container mounts to reach the
NPUs on each platform, the memory reserves and KV cache margins by image version (310P's its own), and the
validation of a user's hardware file merged over hardware.yaml."""

from __future__ import annotations

import pytest

from ascendgen.errors import CatalogError, InputError
from ascendgen.hardware import DEFAULT_SERVER, load_hardware, npu_mounts

from helpers import Write


def test_each_platform_has_reserves_for_every_image_and_a_margin() -> None:
    hardware = load_hardware()
    for platform in hardware.platforms:
        assert platform.reserves_for("v0.9.1") is platform.memory_reserves[0]
        assert platform.kv_cache_margin.percent >= platform.kv_cache_margin.worst_overestimate_percent
    a2 = hardware.platform("a2")
    assert a2.reserves_for("v0.14.0rc1").since == "v0.9.1"
    assert a2.reserves_for("v0.15.0rc1").since == "v0.15.0rc1"
    assert a2.reserves_for("v0.23.0").since == "v0.15.0rc1"


def test_310p_reserves_are_its_own() -> None:
    # chosen from 310P logs (float16, eager), not copied from the 910B's: a vision encoder profiles less there
    hardware = load_hardware()
    p310, a2 = hardware.platform("310p"), hardware.platform("a2")
    assert p310.reserves_for("v0.11.0") != a2.reserves_for("v0.11.0")
    assert p310.reserves_for("v0.11.0").vision_extra_gib < a2.reserves_for("v0.11.0").vision_extra_gib
    # the 310P3 is planned with the smaller chip of an Atlas 300I Duo card: "total memory: 45816029184"
    assert hardware.npu_type("310P3").visible_gib == round(45816029184 / 2**30, 2)


def test_moe_models_reserve_more_on_the_images_up_to_v0_14_only() -> None:
    # every MoE log of images up to v0.14 took more than the dense reserves (bench/observations.yaml, hardware.yaml);
    # from v0.15.0rc1 the worker measures only what the profiling run adds, and no 310P MoE log is scored
    hardware = load_hardware()
    a2, a3, p310 = (hardware.platform(name) for name in ("a2", "a3", "310p"))
    assert a2.reserves_for("v0.11.0").moe_extra_gib == a3.reserves_for("v0.14.0rc1").moe_extra_gib == 0.8
    assert a2.reserves_for("v0.15.0rc1").moe_extra_gib == a2.reserves_for("v0.23.0").moe_extra_gib == 0.0
    assert p310.reserves_for("v0.11.0").moe_extra_gib == 0.0


def test_a_user_file_replaces_the_reserves(write: Write) -> None:
    path = write(
        "hw.yaml",
        """
        platforms:
          - name: a2
            memory_reserves:
              - {since: v0.9.1, activation_gib: 2.0, runtime_gib: 1.0, hccl_gib: 0.5}
        """,
    )
    a2 = load_hardware([path]).platform("a2")
    assert len(a2.memory_reserves) == 1
    assert a2.reserves_for("v0.23.0").activation_gib == 2.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            """
            platforms:
              - name: a2
                memory_reserves:
                  - {since: v0.15.0rc1, activation_gib: 0.5, runtime_gib: 0.3, hccl_gib: 0.25}
                  - {since: v0.9.1, activation_gib: 1.0, runtime_gib: 0.5, hccl_gib: 0.25}
            """,
            "memory_reserves must be ordered by 'since', oldest first, each tag once",
        ),
        (
            """
            platforms:
              - name: a2
                memory_reserves: []
            """,
            "memory_reserves",
        ),
        (
            """
            platforms:
              - name: a2
                kv_cache_margin: {percent: 0.5, worst_overestimate_percent: 0.8, source: mine}
            """,
            "percent must cover worst_overestimate_percent",
        ),
        (
            """
            platforms:
              - name: a2
                memory_reserves:
                  - {since: latest, activation_gib: 0.5, runtime_gib: 0.3, hccl_gib: 0.25}
            """,
            "since",
        ),
    ],
)
def test_reserves_and_margins_are_checked(write: Write, text: str, message: str) -> None:
    path = write("hw.yaml", text)
    with pytest.raises(CatalogError, match=message):
        load_hardware([path])


CONTROL = ("/dev/davinci_manager", "/dev/hisi_hdc", "/dev/devmm_svm")
DRIVER = (
    "/usr/local/dcmi",
    "/usr/local/bin/npu-smi",
    "/usr/local/Ascend/driver/lib64/",
    "/usr/local/Ascend/driver/version.info",
    "/etc/ascend_install.info",
)
HCCN = ("/usr/local/Ascend/driver/tools/hccn_tool", "/etc/hccn.conf")

# ---- the built-in profiles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "npu_type", "count", "platform", "memory_gib", "visible_gib"),
    [
        ("atlas-800i-a2", "910B4", 8, "a2", 32, 29.49),
        ("atlas-800i-a2-64g", "910B4-1", 8, "a2", 64, 60.96),
        ("atlas-800t-a2", "910B3", 8, "a2", 64, 60.96),
        ("atlas-800i-a3", "910C", 16, "a3", 64, 60.97),
        ("atlas-300i-duo", "310P3", 2, "310p", 43.24, 42.67),
    ],
)
def test_each_server_profile_names_its_npus_and_platform(
    server: str, npu_type: str, count: int, platform: str, memory_gib: float, visible_gib: float
) -> None:
    hardware = load_hardware()
    profile = hardware.server(server)
    npu = hardware.npu_type(profile.npu_type)
    assert (profile.npu_type, profile.npu_count, npu.platform) == (npu_type, count, platform)
    assert (npu.memory_gib, npu.visible_gib) == (memory_gib, visible_gib)
    assert profile.host_root == "/"
    assert sorted(i for group in profile.groups for i in group) == list(range(count))  # groups cover every NPU


def test_the_default_server_is_the_seeds_and_names_are_found_in_any_case() -> None:
    hardware = load_hardware()
    assert DEFAULT_SERVER == "atlas-800i-a2"
    assert hardware.server("ATLAS-800I-A2") == hardware.server(DEFAULT_SERVER)
    assert hardware.npu_type("910b4").name == "910B4"


def test_an_unknown_name_says_what_is_known() -> None:
    hardware = load_hardware()
    with pytest.raises(InputError) as unknown:
        hardware.server("atlas-800i-a")
    message = str(unknown.value)
    assert message.startswith("unknown server profile 'atlas-800i-a'")
    assert "atlas-800i-a2" in message and "atlas-300i-duo" in message
    with pytest.raises(InputError, match="unknown platform 'a5'"):
        hardware.platform("a5")


def test_each_platform_keeps_its_memory_facts() -> None:
    hardware = load_hardware()
    a2, a3, p310 = (hardware.platform(name) for name in ("a2", "a3", "310p"))
    assert (a2.dies_per_npu, a3.dies_per_npu, p310.dies_per_npu) == (1, 2, 2)
    assert (a2.kv_budget_factor, p310.kv_budget_factor, p310.kv_budget_factor_since) == (1.0, 0.5, "v0.18.0rc1")
    assert p310.dtypes == ("float16",)  # 310P has no bfloat16
    assert p310.drop_env == ("HCCL_OP_EXPANSION_MODE",)
    assert (a2.image_suffix, a3.image_suffix, p310.image_suffix) == ("", "-a3", "-310p")


# ---- what a container mounts --------------------------------------------------------------------------------


def test_a2_mounts_the_control_devices_the_npus_and_the_driver_read_only() -> None:
    hardware = load_hardware()
    devices, volumes = npu_mounts(hardware.server("atlas-800i-a2"), hardware.platform("a2"), (4, 6))
    assert devices == (*CONTROL, "/dev/davinci4", "/dev/davinci6")
    assert volumes == tuple(f"{path}:{path}:ro" for path in DRIVER)


@pytest.mark.parametrize(("server", "platform", "extra"), [("atlas-800i-a2", "a2", HCCN), ("atlas-800i-a3", "a3", HCCN),
                                                           ("atlas-300i-duo", "310p", ())])  # fmt: skip
def test_several_nodes_add_what_hccl_over_roce_needs(server: str, platform: str, extra: tuple[str, ...]) -> None:
    hardware = load_hardware()
    profile, kind = hardware.server(server), hardware.platform(platform)
    one_node = npu_mounts(profile, kind, (0, 1))
    devices, volumes = npu_mounts(profile, kind, (0, 1), multinode=True)
    assert devices == one_node[0] == (*CONTROL, "/dev/davinci0", "/dev/davinci1")
    assert volumes == (*one_node[1], *(f"{path}:{path}:ro" for path in extra))


def test_a_host_root_moves_the_host_side_only(write: Write) -> None:
    path = write(
        "hw.yaml", "servers:\n  - name: mounted\n    npu_type: 910B4\n    npu_count: 8\n    host_root: /host/\n"
    )
    hardware = load_hardware([path])
    devices, volumes = npu_mounts(hardware.server("mounted"), hardware.platform("a2"), (7,))
    assert devices == (*(f"/host{d}:{d}" for d in CONTROL), "/host/dev/davinci7:/dev/davinci7")
    assert volumes[0] == "/host/usr/local/dcmi:/usr/local/dcmi:ro"
    assert hardware.server("mounted").host_path("/dev/davinci7") == "/host/dev/davinci7"


# ---- a user's hardware file ---------------------------------------------------------------------------------


def test_a_user_file_changes_only_the_fields_it_gives(write: Write) -> None:
    path = write(
        "hw.yaml",
        """
        platforms:
          - name: a2
            kv_budget_factor: 0.75
        servers:
          - name: my-box
            npu_type: 910B3
            npu_count: 4
        """,
    )
    hardware, builtin = load_hardware([path]), load_hardware()
    a2 = hardware.platform("a2")
    assert a2.kv_budget_factor == 0.75
    assert a2.model_copy(update={"kv_budget_factor": 1.0}) == builtin.platform("a2")  # nothing else changed
    assert hardware.server("my-box").npu_count == 4
    assert len(hardware.servers) == len(builtin.servers) + 1


RESERVES = "platforms:\n  - name: a2\n    memory_reserves:\n      - {{since: v0.9.1, {}}}\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("npu_types:\n  - name: big\n    memory_gib: 32\n    visible_gib: 33\n    platform: a2\n",
         "visible_gib cannot exceed memory_gib"),
        ("npu_types:\n  - name: none\n    memory_gib: 0\n    visible_gib: 0\n    platform: a2\n", "memory_gib"),
        (RESERVES.format("activation_gib: -0.5, runtime_gib: 0.5, hccl_gib: 0.25"), "activation_gib"),
        (RESERVES.format("activation_gib: 1.0, runtime_gib: 0.5, hccl_gib: -1"), "hccl_gib"),
        (RESERVES.format("activation_gib: .nan, runtime_gib: 0.5, hccl_gib: 0.25"), "activation_gib"),
        (RESERVES.format("activation_gib: 1.0, runtime_gib: '0.5', hccl_gib: 0.25"), "runtime_gib"),  # text
        ("platforms:\n  - name: a2\n    kv_budget_factor: 0\n", "kv_budget_factor"),
        ("platforms:\n  - name: a2\n    kv_budget_factor: 1.5\n", "kv_budget_factor"),
        ("platforms:\n  - name: a2\n    driver_mounts: [usr/local/dcmi]\n", "must be absolute"),
        ("platforms:\n  - name: a2\n    driver_mounts: ['/a:/b']\n", "must be absolute, without ':'"),
        ("platforms:\n  - name: a2\n    npu_device: /dev/davinci\n", "npu_device"),
        ("servers:\n  - name: s\n    npu_type: 910B4\n    npu_count: 2\n    groups: [[0, 2]]\n",
         "group NPU 2 is outside 0-1"),
        ("servers:\n  - name: s\n    npu_type: 910B4\n    npu_count: 0\n", "npu_count"),
        ("servers:\n  - name: s\n    npu_type: 910B4\n    npu_count: 8\n    host_root: host\n", "host_root"),
        ("servers:\n  - name: s\n    npu_type: 910B4\n    npu_count: 8\n    extra: 1\n", "extra"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_naming_file_and_field(write: Write, text: str, problem: str) -> None:
    path = write("hw.yaml", text)
    with pytest.raises(CatalogError) as refused:
        load_hardware([path])
    message = str(refused.value)
    assert message.startswith(f"{path}:") and problem in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "npu_types:\n  - name: x1\n    memory_gib: 8\n    visible_gib: 8\n    platform: a9\n",
            "unknown platform 'a9'",
        ),
        ("servers:\n  - name: s\n    npu_type: 920X\n    npu_count: 8\n", "unknown NPU type '920X'"),
    ],
)
def test_names_that_lead_nowhere_are_refused(write: Write, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_hardware([write("hw.yaml", text)])
