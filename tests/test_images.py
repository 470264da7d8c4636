"""Image references as Docker reads them (distribution/reference's grammar), and the image chosen for a model."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ascendgen.errors import InputError
from ascendgen.images import REPOSITORY, ImageSpec, choose_image, load_images, parse_image_reference, tag_key
from ascendgen.records import validate

from helpers import Run

IMAGES = load_images()
SHA256 = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("reference", "tag"),
    [
        ("quay.io/ascend/vllm-ascend:v0.9.2rc1", "v0.9.2rc1"),
        ("quay.io/ascend/vllm-ascend:v0.9.2rc1-310p-openeuler", "v0.9.2rc1-310p-openeuler"),
        ("ubuntu", None),
        ("ubuntu:22.04", "22.04"),
        ("library/ubuntu:Latest_1", "Latest_1"),  # tags may hold capitals; paths may not
        ("localhost:5000/ascend/vllm-ascend:v1", "v1"),
        ("my.registry:5000/vllm-ascend:v0.9.1", "v0.9.1"),
        ("Registry.Example.com/team/img:v1", "v1"),  # the domain may hold capitals
        ("[fd00::1]:5000/ascend/vllm-ascend:v1", "v1"),
        ("a__b/c--d/e.f_g:t", "t"),
        (f"quay.io/ascend/vllm-ascend@{SHA256}", None),
        (f"quay.io/ascend/vllm-ascend:v0.9.2rc1@{SHA256}", "v0.9.2rc1"),
        ("quay.io/x:" + "t" * 128, "t" * 128),
    ],
)
def test_references_docker_accepts(reference: str, tag: str | None) -> None:
    assert parse_image_reference(reference) == tag


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("quay.io/x:$(id)", "not an image reference Docker accepts"),
        ("quay.io/x:`id`", "not an image reference"),
        ("quay.io/x:v1 --privileged", "not an image reference"),
        ("quay.io/x:v1\n", "not an image reference"),
        ("quay.io/Ascend/vllm-ascend:v1", "must be lowercase"),
        ("quay.io/ascend/vllm-ascend:.v1", "not an image reference"),
        ("quay.io/ascend/vllm-ascend:-v1", "not an image reference"),
        ("quay.io/x:" + "t" * 129, "not an image reference"),
        ("quay.io/x:v1:v2", "not an image reference"),
        ("quay.io//x:v1", "not an image reference"),
        ("quay.io/x-:v1", "not an image reference"),
        ("quay.io/x..y:v1", "not an image reference"),
        ("-quay.io/x:v1", "not an image reference"),
        ("quay.io/x:v1@sha256:abc", "not an image reference"),  # fewer than 32 hex digits
        ("quay.io/x@md5:" + "0" * 32, "not a digest Docker verifies"),
        ("quay.io/x@sha256:" + "0" * 63, "not a digest Docker verifies"),
        ("quay.io/x@sha256:" + "A" * 64, "not a digest Docker verifies"),
        ("quay.io/" + "a" * 256 + ":v1", "longer than 255"),
        ("quay.io/模型:v1", "not an image reference"),
        ("", "not an image reference"),
    ],
)
def test_references_docker_refuses(reference: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as caught:
        parse_image_reference(reference)
    assert "\n" not in str(caught.value)


def test_a_bare_tag_means_a_vllm_ascend_tag() -> None:
    choice = choose_image(IMAGES, requested="v0.9.2rc1", min_tag=None, suffix="")
    assert choice.reference == f"{REPOSITORY}:v0.9.2rc1" and choice.spec.tag == "v0.9.2rc1" and choice.note is None
    suffixed = choose_image(IMAGES, requested="v0.9.2rc1-310p", min_tag=None, suffix="")
    assert suffixed.reference == f"{REPOSITORY}:v0.9.2rc1-310p" and suffixed.spec.tag == "v0.9.2rc1"
    other = choose_image(IMAGES, requested="my.registry:5000/vllm-ascend:v0.11.0", min_tag=None, suffix="")
    assert other.reference == "my.registry:5000/vllm-ascend:v0.11.0" and other.spec.tag == "v0.11.0"


@pytest.mark.parametrize("tag", ["v0.9.2rc1 ", "$(id)", ".v1", "-v1", ".X1", "v" * 129, "v0.9.2rc1\x01", "模型"])
def test_a_bad_bare_tag_is_refused_as_a_tag(tag: str) -> None:
    with pytest.raises(InputError, match="not a Docker tag"):
        choose_image(IMAGES, requested=tag, min_tag=None, suffix="")


@pytest.mark.parametrize(
    "image",
    ["quay.io/x:$(id)", "quay.io/Ascend/vllm-ascend:v1", "v0.9.2rc1 --privileged", "x@md5:" + "0" * 32],
)
def test_cli_refuses_a_bad_image_in_one_line(run: Run, tmp_path: Path, image: str) -> None:
    result = run("plan", "Qwen3-8B", "--image", image, "--out", str(tmp_path))
    assert result.exit_code == 2, result
    assert result.stderr.startswith(f"error: --image {image!r}: ") and result.stderr.count("\n") == 1
    assert "quay.io/ascend/vllm-ascend:v0.9.2rc1" in result.stderr  # how to write it instead
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "image", ["[fd00::1]:5000/ascend/vllm-ascend:v0.9.2rc1", f"quay.io/ascend/vllm-ascend:v0.9.2rc1@{SHA256}"]
)
def test_compose_reads_an_accepted_image_as_written(run: Run, tmp_path: Path, image: str) -> None:
    assert run("plan", "Qwen3-8B", "--image", image, "--out", str(tmp_path)).exit_code == 0
    done = subprocess.run(
        ["docker", "compose", "config", "--format", "json"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    (service,) = json.loads(done.stdout)["services"].values()
    assert service["image"] == image


# ---- an image too old for the model ----------------------------------------------------------------------


def test_the_default_image_is_never_older_than_the_models_minimum() -> None:
    from ascendgen.catalog import load_catalog

    needing = [m for m in load_catalog().models if m.min_image]
    assert needing
    for model in needing:
        choice = choose_image(IMAGES, requested=None, min_tag=model.min_image, suffix="")
        assert tag_key(choice.version_tag) >= tag_key(model.min_image), model.name


def test_no_known_image_new_enough_is_refused_unless_one_is_named(
    run: Run, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    catalog = write("mine.yaml", 'models:\n  - name: Qwen3-8B\n    min_image: "v99.0.0"\n')
    refused = run("plan", "Qwen3-8B", "--catalog", str(catalog), "--out", str(tmp_path / "out"))
    assert (
        refused.exit_code == 2 and "no known vllm-ascend image is at or above v99.0.0; pass --image" in refused.stderr
    )
    assert not (tmp_path / "out").exists()
    named = run("plan", "Qwen3-8B", "--catalog", str(catalog), "--image", "v0.9.2rc1", "--dry-run", "--json")
    assert named.exit_code == 0, named.stderr
    assert any(w.startswith("Qwen3-8B needs image v99.0.0 or newer") and w.endswith("; v0.9.2rc1 will not load it")
               for w in named.json()["warnings"])  # fmt: skip


@pytest.mark.parametrize(
    ("image", "too_old"),
    [("v0.9.2rc1", True), ("v0.11.0rc2", True), ("v0.11.0rc3", False), ("v0.11.0", False), ("v0.13.0", False)],
)
def test_a_named_image_is_held_against_its_own_tag(run: Run, image: str, too_old: bool) -> None:
    # Qwen3-VL needs v0.11.0rc3 (models.yaml); v0.11.0rc2 and rc3 are not in images.yaml, so their flags are
    # those of v0.11.0rc0, but the tag itself says which release the image is
    result = run("plan", "Qwen3-VL-30B-A3B-Instruct", "--image", image, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    warned = [w for w in result.json()["warnings"] if "needs image v0.11.0rc3 or newer" in w]
    assert bool(warned) == too_old, warned
    if too_old:
        assert warned == [f"Qwen3-VL-30B-A3B-Instruct needs image v0.11.0rc3 or newer (transformers >= 4.57.0); "
                          f"{image} will not load it"]  # fmt: skip


def vllm_version(image_vllm: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", image_vllm)[:3])


def test_pooling_runner_exactly_from_vllm_0_10_1() -> None:
    # vLLM 0.10.0's pooling docs still use --task; 0.10.1.1's use --runner pooling (vLLM PR #21470)
    assert {i.tag: i.flags.pooling_runner for i in IMAGES if i.tag in ("v0.10.0rc1", "v0.10.1rc1")} == {
        "v0.10.0rc1": False,
        "v0.10.1rc1": True,
    }
    for image in IMAGES:
        assert image.flags.pooling_runner == (vllm_version(image.vllm) >= (0, 10, 1)), image.tag


# ---- tag order, the default image, CANN and drivers -------------------------------------------------------


@pytest.mark.parametrize(
    "older_to_newer",
    [
        ["v0.9.2rc1", "v0.9.2", "v0.9.2.post1", "v0.9.2.post2", "v0.9.3rc1"],
        ["v0.7.3", "v0.7.3.post1", "v0.8.4rc1"],
        ["v0.23.0rc1", "v0.23.0", "v0.23.0.post1", "v0.24.0rc1", "v0.25.1rc1", "v0.30.0rc1", "v0.30.0rc2"],
    ],
)
def test_post_releases_sort_after_their_base_and_before_the_next_rc(older_to_newer: list[str]) -> None:
    keys = [tag_key(tag) for tag in older_to_newer]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert tag_key("v0.23.0.post1-310p-openeuler") == tag_key("v0.23.0.post1")  # a suffix names a build, not a release


def test_images_are_ordered_by_release_with_the_post_release_after_its_base() -> None:
    tags = [image.tag for image in IMAGES]
    assert tags[tags.index("v0.23.0") + 1] == "v0.23.0.post1"
    assert tags[-1] == "v0.30.0rc2"
    assert {"v0.26.0rc1", "v0.27.1rc1", "v0.28.0rc1", "v0.29.0rc1", "v0.30.0rc1"} < set(tags)


def test_the_default_image_is_the_newest_final_release(run: Run) -> None:
    # v0.23.0.post1 (release note 2026.09.21) is the newest final release; v0.24.0rc1 .. v0.30.0rc2 are newer rcs
    finals = [image.tag for image in IMAGES if image.stable]
    assert finals[-1] == "v0.23.0.post1" and IMAGES[-1].tag != "v0.23.0.post1"
    choice = choose_image(IMAGES, requested=None, min_tag=None, suffix="")
    assert choice.reference == f"{REPOSITORY}:v0.23.0.post1" and choice.spec.vllm == "0.23.0"
    planned = run("plan", "Qwen3-8B", "--dry-run", "--json").json()
    assert planned["image"] == f"{REPOSITORY}:v0.23.0.post1" and planned["gpu_memory_utilization"] == 0.92
    assert "--gpu-memory-utilization" not in planned["serve_args"]  # vLLM 0.23's own default, not written


def test_every_image_names_its_cann_and_every_cann_its_driver_entry() -> None:
    from ascendgen.images import load_cann_versions, min_driver_for

    listed = {c.cann for c in load_cann_versions()}
    unknown = [image.tag for image in IMAGES if image.cann is None]
    assert unknown == ["v0.30.0rc1"]  # its Dockerfile, release note and published image disagree
    for image in IMAGES:
        for cann in (image.cann, image.cann_310p):
            assert cann is None or cann in listed, (image.tag, cann)
    by_tag = {image.tag: image for image in IMAGES}
    assert by_tag["v0.9.2rc1"].cann_for("") == "8.1.rc1"
    assert by_tag["v0.22.1rc1"].cann_for("a3") == "9.0.0"
    assert by_tag["v0.22.1rc1"].cann_for("310p-openeuler") == "9.1.0-beta.1"
    assert by_tag["v0.23.0.post1"].cann_for("310p") == "9.1.0"
    # Huawei's compatibility matrices: 9.0.X runs on HDK 25.0.X up, 9.1.X from 25.2.X, 9.2.0 from 25.3.X
    assert [min_driver_for(c) for c in ("8.5.0", "9.0.1", "9.1.0", "9.2.0")] == ["25.0.X", "25.0.X", "25.2.X", "25.3.X"]
    assert min_driver_for("9.1.0 ") == "25.2.X" and min_driver_for("8.1.RC1") is None  # no stated minimum
    assert min_driver_for("7.0.0") is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('images:\n  - tag: v0.9.2rc1\n    cann: "eight"\n', "cann"),
        ('images:\n  - tag: v0.9.2rc1\n    cann_310p: "8.1.RC1"\n', "cann_310p"),  # as the base image tags write it
        ('cann_versions:\n  - cann: "9.1.0"\n    min_driver: "newest"\n', "min_driver"),
        ('cann_versions:\n  - cann: "9.3.0"\n    min_driver: "25.5.X"\n', "source"),
    ],
)
def test_cann_fields_are_checked(write: Callable[[str, str], Path], entry: str, problem: str) -> None:
    from ascendgen.errors import CatalogError

    with pytest.raises(CatalogError, match=problem):
        load_images([write("more-images.yaml", entry)])


# ---- variants: a 310P or A3 plan gets an image built for it ------------------------------------------------

NO_310P = {"v0.12.0rc1", "v0.13.0"}  # image workflow: 310P jobs `if: false` at v0.12.0rc1, commented out at v0.13.0


def test_no_310p_build_of_v0_12_0rc1_through_v0_13_0() -> None:
    assert {i.tag for i in IMAGES if not i.has_variant("310p")} == {"v0.9.1", *NO_310P}
    assert {i.tag for i in IMAGES if not i.has_variant("a3")} == {"v0.9.1", "v0.9.2rc1"}


def test_a_310p_default_is_always_a_tag_with_a_310p_build() -> None:
    """Whatever the newest known image is (each prefix of the list) and whatever the model's minimum, a 310P plan
    gets the newest release built as -310p, or a refusal; never v0.12.0rc1 .. v0.13.0."""
    for end in range(1, len(IMAGES) + 1):
        known = IMAGES[:end]
        for min_tag in (None, "v0.12.0rc1", "v0.13.0"):
            try:
                choice = choose_image(known, requested=None, min_tag=min_tag, suffix="-310p", npu="310P3")
            except InputError as refused:
                usable = [i for i in known if min_tag is None or tag_key(i.tag) >= tag_key(min_tag)]
                assert not any(i.has_variant("310p") for i in usable)
                assert ("has a -310p build, which 310P3 needs" if usable else "is at or above") in str(refused)
                continue
            assert choice.spec.tag not in NO_310P and choice.reference == f"{REPOSITORY}:{choice.spec.tag}-310p"
    up_to_v0_13 = IMAGES[: [i.tag for i in IMAGES].index("v0.13.0") + 1]
    assert choose_image(up_to_v0_13, requested=None, min_tag=None, suffix="").spec.tag == "v0.13.0"
    assert choose_image(up_to_v0_13, requested=None, min_tag=None, suffix="-310p").spec.tag == "v0.11.0"
    assert choose_image(up_to_v0_13, requested=None, min_tag=None, suffix="-a3").spec.tag == "v0.13.0"
    with pytest.raises(InputError, match=r"no known vllm-ascend image at or above v0\.12\.0rc1 has a -310p build"):
        choose_image(up_to_v0_13, requested=None, min_tag="v0.12.0rc1", suffix="-310p")
    assert choose_image(IMAGES, requested=None, min_tag=None, suffix="-310p").spec.tag == "v0.23.0.post1"
    assert choose_image(IMAGES, requested=None, min_tag=None, suffix="-a3").spec.tag == "v0.23.0.post1"


@pytest.mark.parametrize(
    ("server", "image", "reference"),
    [
        ("atlas-300i-duo", "v0.11.0", "v0.11.0-310p"),  # a bare release: the platform's build of it
        ("atlas-300i-duo", "v0.11.0-310p-openeuler", "v0.11.0-310p-openeuler"),
        ("atlas-300i-duo", "v0.11.0rc2", "v0.11.0rc2-310p"),  # not in images.yaml: not checked, suffixed
        ("atlas-800i-a3", "v0.23.0.post1", "v0.23.0.post1-a3"),
        ("atlas-800i-a2", "v0.13.0-openeuler", "v0.13.0-openeuler"),
    ],
)
def test_a_named_image_is_the_build_for_the_platform(run: Run, server: str, image: str, reference: str) -> None:
    result = run("plan", "Qwen3-8B", "--server", server, "--image", image, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["image"] == f"{REPOSITORY}:{reference}"


def test_an_image_on_another_registry_is_taken_as_given(run: Run) -> None:
    mirror = "quay.nju.edu.cn/ascend/vllm-ascend:v0.13.0"  # a mirror or one's own build: ascendgen cannot know it
    result = run("plan", "Qwen3-8B", "--server", "atlas-300i-duo", "--image", mirror, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["image"] == mirror


@pytest.mark.parametrize(
    ("server", "image", "message"),
    [
        (
            "atlas-300i-duo",
            "v0.13.0",
            "--image 'v0.13.0': vllm-ascend v0.13.0 was not built as v0.13.0-310p, the build 310P3 needs (images.yaml: "
            "v0.13.0, v0.13.0-openeuler, v0.13.0-a3, v0.13.0-a3-openeuler); the nearest tags that have a -310p "
            "build: v0.11.0-310p, v0.14.0rc1-310p",
        ),
        (
            "atlas-300i-duo",
            "v0.12.0rc1-310p",
            "--image 'v0.12.0rc1-310p': vllm-ascend v0.12.0rc1 was not built as v0.12.0rc1-310p, the build 310P3 "
            "needs (images.yaml: v0.12.0rc1, v0.12.0rc1-openeuler, v0.12.0rc1-a3, v0.12.0rc1-a3-openeuler); the "
            "nearest tags that have a -310p build: v0.11.0-310p, v0.14.0rc1-310p",
        ),
        (
            "atlas-300i-duo",
            "quay.io/ascend/vllm-ascend:v0.11.0",
            "--image 'quay.io/ascend/vllm-ascend:v0.11.0' is not a -310p image, and 310P3 runs only vllm-ascend's "
            "-310p builds: use v0.11.0-310p",
        ),
        (
            "atlas-300i-duo",
            "v0.13.0-openeuler",
            "--image 'v0.13.0-openeuler' is not a -310p image, and 310P3 runs only vllm-ascend's -310p builds: "
            "v0.13.0 has none; the nearest tags that have one: v0.11.0-310p, v0.14.0rc1-310p",
        ),
        (
            "atlas-800i-a3",
            "v0.9.2rc1-a3",
            "--image 'v0.9.2rc1-a3': vllm-ascend v0.9.2rc1 was not built as v0.9.2rc1-a3, the build 910C needs "
            "(images.yaml: v0.9.2rc1, v0.9.2rc1-openeuler, v0.9.2rc1-310p, v0.9.2rc1-310p-openeuler); the nearest "
            "tags that have a -a3 build: v0.10.0rc1-a3",
        ),
        (
            "atlas-800i-a2",
            "v0.9.1-310p",
            "--image 'v0.9.1-310p': vllm-ascend v0.9.1 was not built as v0.9.1-310p (images.yaml: v0.9.1, "
            "v0.9.1-openeuler); the nearest tags that have a -310p build: v0.9.2rc1-310p",
        ),
    ],
)
def test_a_tag_never_built_for_the_platform_is_refused(
    run: Run, tmp_path: Path, server: str, image: str, message: str
) -> None:
    result = run("plan", "Qwen3-8B", "--server", server, "--image", image, "--out", str(tmp_path))
    assert result.exit_code == 2, result
    assert result.stderr == f"error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_an_image_without_flags_has_the_flags_imageflags_gives() -> None:
    from ascendgen.images import ImageFlags, ImageSpec

    spec = validate(ImageSpec, {"tag": "v0.9.2rc1", "vllm": "0.9.2", "gpu_memory_utilization_default": 0.9,
                                     "source": "x"})  # fmt: skip
    assert spec.flags == ImageFlags() and spec.flags.max_model_len_auto is False


# ---- ordering and choosing, on a small list of images (mutation-tested: tests/README.md) ------------------------


def spec(tag: str, *variants: str) -> ImageSpec:
    return ImageSpec(tag=tag, vllm="0", gpu_memory_utilization_default=0.9, source="test", variants=variants)


LIST = (spec("v0.9.1", "a3"), spec("v0.9.2rc1", "310p", "a3"), spec("v0.9.2", "a3"), spec("v0.10.0rc1", "310p"))


def test_tags_order_as_releases() -> None:
    assert tag_key("v0.9.2rc1") == (0, 9, 2, 0, 0, 1)
    assert tag_key("v0.9.2") == (0, 9, 2, 1, 0, 0)  # a release ranks 1, above its rcs' 0
    assert tag_key("0.9.2.post3-310p") == (0, 9, 2, 1, 3, 0)
    assert tag_key("latest") == (-1,)  # no release in the tag: before every release
    ordered = ["latest", "v0.0.0rc0", "v0.9.1", "v0.9.2rc1", "v0.9.2rc2", "v0.9.2", "v0.9.2.post1", "v0.10.0rc1"]
    assert sorted(reversed(ordered), key=tag_key) == ordered


def test_the_default_is_the_newest_stable_at_or_above_the_minimum() -> None:
    chosen = choose_image(LIST, requested=None, min_tag=None, suffix="")
    assert (chosen.reference, chosen.spec.tag, chosen.note, chosen.version) == (f"{REPOSITORY}:v0.9.2", "v0.9.2", None,
                                                                                None)  # fmt: skip
    assert choose_image(LIST, requested=None, min_tag="v0.9.2", suffix="").spec.tag == "v0.9.2"  # the minimum itself
    # only an rc is new enough, or built for the platform: the rc
    assert choose_image(LIST, requested=None, min_tag="v0.9.3", suffix="").reference == f"{REPOSITORY}:v0.10.0rc1"
    assert choose_image(LIST, requested=None, min_tag=None, suffix="-310p").reference == f"{REPOSITORY}:v0.10.0rc1-310p"
    with pytest.raises(InputError) as refused:
        choose_image(LIST, requested=None, min_tag="v0.11.0", suffix="")
    assert str(refused.value) == "no known vllm-ascend image is at or above v0.11.0; pass --image"
    with pytest.raises(InputError) as refused:
        choose_image(LIST, requested=None, min_tag="v0.9.2", suffix="-a5")
    assert str(refused.value) == (
        "no known vllm-ascend image at or above v0.9.2 has a -a5 build, which this NPU needs; pass --image"
    )


def test_a_named_image_is_planned_with_the_flags_of_its_release() -> None:
    known = choose_image(LIST, requested="v0.9.2rc1", min_tag=None, suffix="")
    assert (known.reference, known.spec.tag, known.version, known.note) == (f"{REPOSITORY}:v0.9.2rc1", "v0.9.2rc1",
                                                                            "v0.9.2rc1", None)  # fmt: skip
    variant = choose_image(LIST, requested="my.registry:5000/vllm-ascend:v0.9.2-310p", min_tag=None, suffix="")
    assert (variant.spec.tag, variant.version, variant.note) == ("v0.9.2", "v0.9.2", None)
    # an unknown release: the flags of the newest known one at or below it, and a note saying so
    between = choose_image(LIST, requested="v0.9.3", min_tag=None, suffix="")
    assert (between.reference, between.spec.tag, between.version) == (f"{REPOSITORY}:v0.9.3", "v0.9.2", "v0.9.3")
    assert between.note == f"image '{REPOSITORY}:v0.9.3' is not in the image list; planned with the flags of v0.9.2"
    # a release spelled without its v: not the listed tag, but the same release, so its own flags
    unprefixed = choose_image(LIST, requested="quay.io/x/y:0.9.2", min_tag=None, suffix="")
    assert (unprefixed.spec.tag, unprefixed.version) == ("v0.9.2", "0.9.2") and unprefixed.note is not None
    # no release in the tag (or older than every known one): the newest known
    for requested, version in (("latest", None), ("v0.1.0", "v0.1.0"), ("quay.io/x/y", None)):
        chosen = choose_image(LIST, requested=requested, min_tag=None, suffix="")
        assert (chosen.spec.tag, chosen.version) == ("v0.10.0rc1", version), requested
        assert chosen.note is not None and chosen.version_tag == (version or "v0.10.0rc1")


def test_builds_never_made_are_refused_naming_the_nearest() -> None:
    def refusal(requested: str, suffix: str) -> str:
        with pytest.raises(InputError) as refused:
            choose_image(LIST, requested=requested, min_tag=None, suffix=suffix)
        return str(refused.value)

    # the platform's build, never made (no NPU named: "this NPU")
    assert refusal("v0.9.2", "-310p") == (
        "--image 'v0.9.2': vllm-ascend v0.9.2 was not built as v0.9.2-310p, the build this NPU needs (images.yaml: "
        "v0.9.2, v0.9.2-a3); the nearest tags that have a -310p build: v0.9.2rc1-310p, v0.10.0rc1-310p"
    )
    # a variant of the platform's build that was never made: not "the build this NPU needs"
    assert refusal("v0.9.2-310p-openeuler", "-310p") == (
        "--image 'v0.9.2-310p-openeuler': vllm-ascend v0.9.2 was not built as v0.9.2-310p-openeuler (images.yaml: "
        "v0.9.2, v0.9.2-a3); the nearest tags that have a -310p-openeuler build: none known"
    )
    assert refusal("v0.9.2-a3", "-310p") == (
        "--image 'v0.9.2-a3' is not a -310p image, and this NPU runs only vllm-ascend's -310p builds: v0.9.2 has none; "
        "the nearest tags that have one: v0.9.2rc1-310p, v0.10.0rc1-310p"
    )
    assert refusal("v0.9.2rc1-a3", "-310p") == (
        "--image 'v0.9.2rc1-a3' is not a -310p image, and this NPU runs only vllm-ascend's -310p builds: use "
        "v0.9.2rc1-310p"
    )


def test_a_refusal_shows_what_was_typed() -> None:
    with pytest.raises(InputError) as refused:
        parse_image_reference(f"{REPOSITORY}:.v1", given=".v1")
    assert str(refused.value) == (
        "--image '.v1': not a Docker tag: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-' "
        "(e.g. v0.9.2rc1, or [registry[:port]/]lowercase/path[:tag][@sha256:hex] such as "
        "quay.io/ascend/vllm-ascend:v0.9.2rc1)"
    )
    with pytest.raises(InputError) as refused:
        parse_image_reference("Quay.io/Ascend/x:v1")
    assert str(refused.value).startswith("--image 'Quay.io/Ascend/x:v1': the repository path must be lowercase (e.g.")
    with pytest.raises(InputError) as refused:
        parse_image_reference("x:v1 y", given="x:v1 y")
    assert str(refused.value).startswith("--image 'x:v1 y': not an image reference Docker accepts (e.g.")


def test_edges_of_references() -> None:
    # a bare tag may hold capitals: it is a tag of the vllm-ascend repository, not a reference of its own
    # (of a release images.yaml does not list: a listed one's builds are checked against its variants)
    capital = choose_image(LIST, requested="v0.9.3-X", min_tag=None, suffix="")
    assert (capital.reference, capital.spec.tag) == (f"{REPOSITORY}:v0.9.3-X", "v0.9.2")
    assert parse_image_reference(f"{REPOSITORY}:v0.9.3-X", given="v0.9.3-X") == "v0.9.3-X"
    # the repository path may be 255 characters long, not 256 (reference.go: RepositoryNameTotalLengthMax)
    assert parse_image_reference("quay.io/" + "a" * 255 + ":v1") == "v1"
    with pytest.raises(InputError, match="the repository path is longer than 255 characters"):
        parse_image_reference("quay.io/" + "a" * 256 + ":v1")


def test_image_file_errors_name_the_kind_of_entry(write: Callable[[str, str], Path]) -> None:
    from ascendgen.errors import CatalogError

    for section, entry, kind in (
        ("images", "{tag: v0.9.2rc1, colour: red}", "image 'v0.9.2rc1'"),
        ("cann_versions", '{cann: "9.3.0", colour: red, source: x}', "CANN version '9.3.0'"),
    ):
        path = write(f"{section}.yaml", f"{section}:\n  - {entry}\n")
        with pytest.raises(CatalogError) as refused:
            load_images([path])
        assert str(refused.value) == f"{path}:2: {kind}: colour: unknown field"


def test_a_cann_version_is_looked_up_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    from ascendgen import images
    from ascendgen.images import CannVersion, min_driver_for

    listed = (CannVersion(cann="8.2.rc1", min_driver="24.1.X", source="test"),)
    monkeypatch.setattr(images, "load_cann_versions", lambda *extra: listed)
    assert min_driver_for("8.2.RC1") == min_driver_for(" 8.2.rc1") == "24.1.X"


def test_the_shipped_list_alone_is_taken_from_the_pre_validated_copy(
    monkeypatch: pytest.MonkeyPatch, write: Callable[[str, str], Path]
) -> None:
    from ascendgen import images

    calls: list[tuple[str, str]] = []
    copy = IMAGES[:2]

    def builtin(file: str, section: str) -> tuple[ImageSpec, ...] | None:
        calls.append((file, section))
        return copy

    monkeypatch.setattr(images, "builtin", builtin)
    assert load_images() is copy and calls == [("images.yaml", "images")]
    calls.clear()
    extra = write("more.yaml", "images:\n  - {tag: v0.9.2rc1, released: '2025-01-01'}\n")
    merged = load_images([extra])
    assert calls == [] and len(merged) == len(IMAGES)  # a user's file is merged over the YAML and validated
    monkeypatch.setattr(images, "builtin", lambda file, section: None)  # a stale copy: the file is read
    assert load_images() == IMAGES
