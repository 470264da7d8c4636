"""vllm-ascend container images as data (images.yaml): which vLLM each tag holds, its defaults and flags,
and the choice of image for a model."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ascendgen.errors import InputError
from ascendgen.resources import data_file
from ascendgen.textutil import has_control_chars
from ascendgen.yamlfile import load_merged_sections

_STRICT = ConfigDict(extra="forbid", frozen=True)
REPOSITORY = "quay.io/ascend/vllm-ascend"
_TAG = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:\.post(\d+))?(?:rc(\d+))?")


class ImageFlags(BaseModel):
    """vLLM serve flags whose presence or spelling differs between the vLLM versions inside the images."""

    model_config = _STRICT
    expert_parallel: str = "--enable-expert-parallel"
    max_model_len_auto: bool = False
    kv_cache_memory: bool = False
    headless: bool = False
    log_requests: str | None = None
    pooling_runner: bool = False  # True: `--runner pooling` serves a pooling model; False: `--task embed|score`


class ImageSpec(BaseModel):
    model_config = _STRICT
    tag: str = Field(pattern=r"^v\d+\.\d+\.\d+")
    vllm: str
    transformers: str | None = None
    released: str | None = None
    variants: tuple[str, ...] = ()
    gpu_memory_utilization_default: float = Field(gt=0, le=1)
    env: dict[str, str] = Field(default_factory=dict)
    flags: ImageFlags = ImageFlags()
    source: str

    @property
    def stable(self) -> bool:
        return "rc" not in self.tag


def tag_key(tag: str) -> tuple[int, ...]:
    """Order vllm-ascend tags: v0.9.2rc1 < v0.9.2 < v0.9.2.post1 < v0.10.0rc1."""
    match = _TAG.match(tag)
    if not match:
        return (-1,)
    major, minor, patch, post, rc = match.groups()
    release_rank = 1 if rc is None else 0  # an rc comes before its release
    return (int(major), int(minor), int(patch), release_rank, int(post or 0), int(rc or 0))


@dataclass(frozen=True)
class ImageChoice:
    reference: str  # what goes into compose.yml
    spec: ImageSpec  # the known image whose vLLM flags and defaults apply
    note: str | None = None  # set when the reference is not a known tag


def load_images(extra: Iterable[Path] = ()) -> tuple[ImageSpec, ...]:
    paths = (data_file("images.yaml"), *extra)
    loaded = load_merged_sections(paths, {"images": ImageSpec}, singular={"images": "image"}, key_field="tag")
    return tuple(sorted(loaded["images"], key=lambda image: tag_key(image.tag)))


def choose_image(
    images: tuple[ImageSpec, ...], *, requested: str | None, min_tag: str | None, suffix: str
) -> ImageChoice:
    """The newest stable image at or above the model's minimum (or `requested`, a tag or a reference)."""
    if requested is None:
        usable = [i for i in images if min_tag is None or tag_key(i.tag) >= tag_key(min_tag)]
        if not usable:
            raise InputError(f"no known vllm-ascend image is at or above {min_tag}; pass --image")
        stable = [i for i in usable if i.stable]
        spec = (stable or usable)[-1]
        return ImageChoice(reference=f"{REPOSITORY}:{spec.tag}{suffix}", spec=spec)
    if any(c.isspace() for c in requested) or not requested.strip() or has_control_chars(requested):
        raise InputError(f"--image {requested!r}: an image reference has no spaces or control characters")
    if ":" not in requested.rsplit("/", 1)[-1] and "/" not in requested:
        reference = f"{REPOSITORY}:{requested}"  # a bare tag such as v0.9.2rc1
    else:
        reference = requested
    tag = reference.rsplit("/", 1)[-1].partition(":")[2]
    base = _TAG.match(tag)
    known = {i.tag: i for i in images}
    if base and base.group(0) in known:
        return ImageChoice(reference=reference, spec=known[base.group(0)])
    older = [i for i in images if base and tag_key(i.tag) <= tag_key(base.group(0))]
    spec = older[-1] if older else images[-1]
    return ImageChoice(
        reference=reference,
        spec=spec,
        note=f"image '{reference}' is not in the image list; planned with the flags of {spec.tag}",
    )
