"""images.yaml as data: per-version vLLM flags agree with the version each image holds."""

from __future__ import annotations

import re

from ascendgen.images import load_images


def vllm_version(image_vllm: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", image_vllm)[:3])


def test_pooling_runner_exactly_from_vllm_0_10_1() -> None:
    # vLLM 0.10.0's pooling docs still use --task; 0.10.1.1's use --runner pooling (vLLM PR #21470)
    images = load_images()
    assert {i.tag: i.flags.pooling_runner for i in images if i.tag in ("v0.10.0rc1", "v0.10.1rc1")} == {
        "v0.10.0rc1": False,
        "v0.10.1rc1": True,
    }
    for image in images:
        assert image.flags.pooling_runner == (vllm_version(image.vllm) >= (0, 10, 1)), image.tag
