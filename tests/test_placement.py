"""Packing NPUs and ports for several instances on one server."""

from __future__ import annotations

import pytest

from ascendgen.errors import PlanError
from ascendgen.hardware import ServerProfile
from ascendgen.placement import NpuNeed, place_instances

A2 = ServerProfile(name="atlas-800i-a2", npu_type="910B4", npu_count=8, groups=((0, 1, 2, 3), (4, 5, 6, 7)))


def npus(placements: list) -> list[tuple[int, ...]]:  # type: ignore[type-arg]
    return [p.npus for p in placements]


def test_seed_layout_is_found_by_the_packer() -> None:
    # seed 001: Qwen3-30B-A3B on davinci0-3 port 8001, Qwen2.5-Coder-32B on davinci4-7 port 8002
    placed = place_instances([NpuNeed("30B-A3B", 4), NpuNeed("Coder-32B", 4)], A2, first_port=8001)
    assert npus(placed) == [(0, 1, 2, 3), (4, 5, 6, 7)]
    assert [p.port for p in placed] == [8001, 8002]


def test_small_instances_fill_one_group_before_the_next() -> None:
    # 2 + 1 + 1 NPUs stay inside 0-3, leaving 4-7 whole for a TP-4 instance
    placed = place_instances([NpuNeed("a", 2), NpuNeed("b", 1), NpuNeed("c", 1), NpuNeed("d", 4)], A2, first_port=8000)
    assert npus(placed) == [(0, 1), (2,), (3,), (4, 5, 6, 7)]


def test_first_instance_gets_the_lowest_npus_and_groups_stay_whole() -> None:
    placed = place_instances([NpuNeed("small", 1), NpuNeed("big", 4), NpuNeed("mid", 2)], A2, first_port=8000)
    assert npus(placed) == [(0,), (4, 5, 6, 7), (1, 2)]


def test_best_fit_keeps_a_group_whole_for_a_later_instance() -> None:
    # 2 -> 0,1; 1 -> 2 (group 0 is fuller than the empty group 1); 4 -> 4-7; 1 -> 3
    placed = place_instances([NpuNeed("a", 2), NpuNeed("b", 1), NpuNeed("c", 4), NpuNeed("d", 1)], A2, 8000)
    assert npus(placed) == [(0, 1), (2,), (4, 5, 6, 7), (3,)]


def test_fixed_npus_are_kept_and_avoided() -> None:
    placed = place_instances([NpuNeed("fixed", 2, fixed_npus=(0, 1)), NpuNeed("auto", 4)], A2, first_port=8000)
    assert npus(placed) == [(0, 1), (4, 5, 6, 7)]


def test_tp8_takes_the_whole_server() -> None:
    assert npus(place_instances([NpuNeed("ds", 8)], A2, first_port=8000)) == [tuple(range(8))]


def test_straddles_groups_only_when_it_must() -> None:
    placed = place_instances([NpuNeed("a", 3, fixed_npus=(0, 1, 2)), NpuNeed("b", 3, fixed_npus=(4, 5, 6)),
                              NpuNeed("c", 2)], A2, first_port=8000)  # fmt: skip
    assert placed[2].npus == (3, 7)


def test_not_enough_npus_names_the_instance_and_the_shortfall() -> None:
    with pytest.raises(PlanError, match=r"instance 3 \(72B\) needs 8 NPUs but only 0 .* 8 NPU\(s\) missing"):
        place_instances([NpuNeed("a", 4), NpuNeed("b", 4), NpuNeed("instance 3 (72B)", 8)], A2, first_port=8000)


def test_overlapping_fixed_npus_are_refused() -> None:
    with pytest.raises(PlanError, match="NPU 3 is asked for by both a and b"):
        place_instances([NpuNeed("a", 4, fixed_npus=(0, 1, 2, 3)), NpuNeed("b", 2, fixed_npus=(3, 4))], A2, 8000)


def test_ports_skip_those_asked_for_and_clash_is_refused() -> None:
    placed = place_instances([NpuNeed("a", 1, port=8000), NpuNeed("b", 1), NpuNeed("c", 1)], A2, first_port=8000)
    assert [p.port for p in placed] == [8000, 8001, 8002]
    with pytest.raises(PlanError, match="port 9000 is asked for by both a and b"):
        place_instances([NpuNeed("a", 1, port=9000), NpuNeed("b", 1, port=9000)], A2, first_port=8000)


# ---- the packer's corners, each written so that breaking one rule changes the answer ----------------------
FLAT8 = ServerProfile(name="flat-8", npu_type="910B4", npu_count=8, groups=((0, 1, 2, 3, 4, 5, 6, 7),))


def test_a_server_without_groups_is_one_group_of_all_its_npus() -> None:
    flat = ServerProfile(name="flat", npu_type="910B4", npu_count=4)
    assert npus(place_instances([NpuNeed("a", 2), NpuNeed("b", 2)], flat, 8000)) == [(0, 1), (2, 3)]


def test_best_fit_takes_the_fuller_group_not_the_lowest_npus() -> None:
    # NPU 4 fixed: group 4-7 has 3 free, group 0-3 has 4: the 1-NPU instance goes to 5, keeping 0-3 whole
    placed = place_instances([NpuNeed("fixed", 1, fixed_npus=(4,)), NpuNeed("one", 1)], A2, 8000)
    assert npus(placed) == [(4,), (5,)]


def test_a_group_exactly_the_size_asked_counts_as_room() -> None:
    # groups of 4 and 2: a 2-NPU instance fits both; the fuller (smaller) group 4-5 is the best fit
    odd = ServerProfile(name="odd", npu_type="910B4", npu_count=6, groups=((0, 1, 2, 3), (4, 5)))
    assert npus(place_instances([NpuNeed("two", 2)], odd, 8000)) == [(4, 5)]


def test_an_instance_larger_than_a_group_takes_whole_free_groups_first() -> None:
    # 6 NPUs after a 1-NPU instance on 0: the whole free group 4-7, then the lowest free of 1-3
    placed = place_instances([NpuNeed("one", 1), NpuNeed("six", 6)], A2, 8000)
    assert npus(placed) == [(0,), (1, 2, 4, 5, 6, 7)]
    # from an empty server: group 0-3 whole (4 <= 6), group 4-7 would make 8 > 6: two of it
    assert npus(place_instances([NpuNeed("six", 6)], A2, 8000)) == [(0, 1, 2, 3, 4, 5)]


def test_whole_groups_are_taken_while_they_add_up_to_at_most_the_count() -> None:
    # groups of 2 on 6 NPUs, NPU 0 fixed: 2-3 and 4-5 are whole and make exactly 4
    pairs = ServerProfile(name="pairs", npu_type="910B4", npu_count=6, groups=((0, 1), (2, 3), (4, 5)))
    placed = place_instances([NpuNeed("fixed", 1, fixed_npus=(0,)), NpuNeed("four", 4)], pairs, 8000)
    assert npus(placed) == [(0,), (2, 3, 4, 5)]


@pytest.mark.parametrize(
    ("fixed", "count", "expected"),
    [
        ((1, 4, 5, 6, 7), 2, (2, 3)),  # free 0, 2, 3: the contiguous pair is the last window
        ((1, 3, 5, 6, 7), 3, (0, 2, 4)),  # free 0, 2, 4: no run of 3, the lowest three
        ((1, 3, 5, 7), 2, (0, 2)),  # free 0, 2, 4, 6: no run of 2, the lowest two
    ],
)
def test_npus_inside_a_group_are_a_run_when_one_exists(
    fixed: tuple[int, ...], count: int, expected: tuple[int, ...]
) -> None:
    placed = place_instances([NpuNeed("fixed", len(fixed), fixed_npus=fixed), NpuNeed("auto", count)], FLAT8, 8000)
    assert placed[1].npus == expected


def test_npus_fixed_by_earlier_instances_count_against_what_is_left() -> None:
    # 6 NPUs fixed, 2 left: a 4-NPU instance is refused with the numbers
    needs = [NpuNeed("fixed", 6, fixed_npus=(0, 1, 2, 3, 4, 5)), NpuNeed("auto", 4)]
    with pytest.raises(PlanError) as refused:
        place_instances(needs, A2, 8000)
    assert str(refused.value) == (
        "auto needs 4 NPUs but only 2 of atlas-800i-a2's 8 are left after the instances before it: 2 NPU(s) missing"
    )


def test_ports_end_at_65535() -> None:
    assert [p.port for p in place_instances([NpuNeed("a", 1)], A2, first_port=65535)] == [65535]
    with pytest.raises(PlanError) as refused:
        place_instances([NpuNeed("a", 1), NpuNeed("b", 1)], A2, first_port=65535)
    assert str(refused.value) == "no free port left above 65535 for b"


def test_ports_asked_back_to_back_push_the_counted_ones_past_them() -> None:
    # 8000 and 8001 asked: the instances without a port get 8002 and 8003, none of them twice
    needs = [NpuNeed("a", 1), NpuNeed("b", 1, port=8001), NpuNeed("c", 1, port=8000), NpuNeed("d", 1)]
    assert [p.port for p in place_instances(needs, A2, first_port=8000)] == [8002, 8001, 8000, 8003]
