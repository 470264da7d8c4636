"""hardware.yaml's memory reserves and KV cache margins: by image version, validated, and 310P's its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ascendgen.errors import CatalogError
from ascendgen.hardware import load_hardware

Write = Callable[[str, str], Path]


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
