"""hardware.py: the built-in NPU types, platforms and server profiles, what a container mounts to reach the
NPUs on each platform, the memory reserves and KV cache margins by image version (310P's its own), and the
validation of a user's hardware file merged over hardware.yaml."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from ascendgen.errors import CatalogError, InputError
from ascendgen.hardware import DEFAULT_SERVER, Platform, ServerProfile, load_hardware, npu_mounts
from ascendgen.records import RecordError, dump, validate

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
    assert replace(a2, kv_budget_factor=1.0) == builtin.platform("a2")  # nothing else changed
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


# ---- edges the mutation runs left -------------------------------------------------------------------------------


def test_a_tag_older_than_every_entry_takes_the_first_reserves() -> None:
    a2 = load_hardware().platform("a2")
    assert [r.since for r in a2.memory_reserves] == ["v0.9.1", "v0.15.0rc1"]
    assert a2.reserves_for("v0.7.3") is a2.memory_reserves[0]  # nothing at or below v0.7.3: the oldest
    assert a2.reserves_for("v0.15.0rc1") is a2.memory_reserves[1]  # its own `since` applies


def test_unknown_names_list_the_known_ones_exactly() -> None:
    hardware = load_hardware()
    types, servers = (", ".join(item.name for item in items) for items in (hardware.npu_types, hardware.servers))
    assert types.startswith("910B1, 910B2, ") and servers.startswith("atlas-800i-a2, atlas-800i-a2-64g, ")
    cases = [
        (lambda: hardware.npu_type("910B5"), f"unknown NPU type '910B5' (did you mean '910B4'?); known: {types}"),
        (lambda: hardware.platform("a9"), "unknown platform 'a9'; known: a2, a3, 310p"),
        (lambda: hardware.server("nowhere"), f"unknown server profile 'nowhere'; known: {servers}"),
    ]
    for find, message in cases:
        with pytest.raises(InputError) as refused:
            find()
        assert str(refused.value) == message


@pytest.mark.parametrize("path", ["usr/local/dcmi", "/a:/b", "/a\nb"])
@pytest.mark.parametrize("field", ["control_devices", "driver_mounts", "multinode_mounts"])
def test_platform_paths_are_absolute_without_colons_or_newlines(field: str, path: str) -> None:
    a2 = load_hardware().platform("a2")
    assert validate(Platform, {**dump(a2), field: ["/usr/local/x"]})  # the same entry, a good path
    with pytest.raises(RecordError, match=re.escape(f"path {path!r} must be absolute, without ':' or newlines")):
        validate(Platform, {**dump(a2), field: [path]})


@pytest.mark.parametrize(("bad", "count"), [(2, 2), (-1, 2), (8, 8)])
def test_groups_stay_within_the_server(bad: int, count: int) -> None:
    assert ServerProfile(name="s", npu_type="910B4", npu_count=2, groups=((0, 1),)).groups == ((0, 1),)
    with pytest.raises(RecordError, match=f"group NPU {bad} is outside 0-{count - 1}"):
        validate(ServerProfile, {"name": "s", "npu_type": "910B4", "npu_count": count, "groups": [[0, bad]]})


def test_a_hardware_file_error_names_the_kind_of_entry(write: Write) -> None:
    for section, entry, kind in (
        ("npu_types", "{name: X1, memory_gib: 16, visible_gib: 15, platform: a2, colour: red}", "NPU type 'X1'"),
        ("servers", "{name: s1, npu_type: 910B4, npu_count: 1, colour: red}", "server profile 's1'"),
        ("platforms", "{name: p1, colour: red}", "platform 'p1'"),
    ):
        path = write(f"{section}.yaml", f"{section}:\n  - {entry}\n")
        with pytest.raises(CatalogError, match=re.escape(f"{path}:2: {kind}: ")):
            load_hardware([path])


def test_a_host_root_keeps_its_own_name() -> None:
    # only the trailing "/" goes: a root ending in other characters (here "X") keeps them
    server = load_hardware().server("atlas-800i-a2")
    assert replace(server, host_root="/mnt/X/").host_path("/dev/davinci0") == "/mnt/X/dev/davinci0"
    assert replace(server, host_root="/host").mount("/etc/hccn.conf") == "/host/etc/hccn.conf:/etc/hccn.conf"


# ---- the pre-validated copy of hardware.yaml that a wheel carries (ascendgen.prevalidated) ---------------------


def fake_builtin(
    monkeypatch: pytest.MonkeyPatch, missing: str | None = None
) -> tuple[list[tuple[str, str]], dict[str, tuple[object, ...]]]:
    """Stand in for the wheel's pre-validated sections: each a part of the validated one (so that taking it shows),
    `missing` None as when the copy is stale. Returns the calls made and the sections given."""
    from ascendgen import hardware as hardware_module

    real = load_hardware()
    given: dict[str, tuple[object, ...]] = {
        "npu_types": real.npu_types[:1],
        "platforms": real.platforms[:1],
        "servers": real.servers[:2],
    }
    calls: list[tuple[str, str]] = []

    def builtin(file: str, section: str) -> tuple[object, ...] | None:
        calls.append((file, section))
        return None if section == missing else given[section]

    monkeypatch.setattr(hardware_module, "builtin", builtin)
    return calls, given


def test_the_shipped_file_alone_is_taken_from_the_pre_validated_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, given = fake_builtin(monkeypatch)
    hardware = load_hardware()
    assert calls == [("hardware.yaml", "npu_types"), ("hardware.yaml", "platforms"), ("hardware.yaml", "servers")]
    assert hardware.npu_types is given["npu_types"]
    assert hardware.platforms is given["platforms"]
    assert hardware.servers is given["servers"]


@pytest.mark.parametrize("missing", ["npu_types", "platforms", "servers"])
def test_a_stale_pre_validated_section_means_reading_the_file(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    real = load_hardware()
    fake_builtin(monkeypatch, missing)
    assert load_hardware() == real  # every section read and validated, none taken from the copy


def test_a_user_file_is_always_merged_and_validated(monkeypatch: pytest.MonkeyPatch, write: Write) -> None:
    path = write("hw.yaml", "servers:\n  - name: my-box\n    npu_type: 910B3\n    npu_count: 4\n")
    builtin = load_hardware()
    calls, _ = fake_builtin(monkeypatch)
    merged = load_hardware([path])
    assert calls == []
    assert merged.npu_types == builtin.npu_types and merged.servers == (*builtin.servers, merged.server("my-box"))
