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

from helpers import Result

Run = Callable[..., Result]
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


@pytest.mark.parametrize("tag", ["v0.9.2rc1 ", "$(id)", ".v1", "-v1", "v" * 129, "v0.9.2rc1\x01", "模型"])
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
    from ascendgen.images import tag_key

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


# ---- ordering and choosing, on a small list of images ---------------------------------------------------------


def spec(tag: str) -> ImageSpec:
    return ImageSpec(tag=tag, vllm="0", gpu_memory_utilization_default=0.9, source="test")


LIST = (spec("v0.9.1"), spec("v0.9.2rc1"), spec("v0.9.2"), spec("v0.10.0rc1"))


def test_tags_order_as_releases() -> None:
    assert tag_key("v0.9.2rc1") == (0, 9, 2, 0, 0, 1)
    assert tag_key("v0.9.2") == (0, 9, 2, 1, 0, 0)
    assert tag_key("0.9.2.post3-310p") == (0, 9, 2, 1, 3, 0)
    assert tag_key("latest") == (-1,)
    ordered = ["latest", "v0.9.1", "v0.9.2rc1", "v0.9.2rc2", "v0.9.2", "v0.9.2.post1", "v0.10.0rc1", "v0.10.0"]
    assert sorted(reversed(ordered), key=tag_key) == ordered
    assert tag_key("latest") < tag_key("v0.0.0rc0")


def test_the_default_is_the_newest_stable_at_or_above_the_minimum() -> None:
    chosen = choose_image(LIST, requested=None, min_tag=None, suffix="")
    assert (chosen.reference, chosen.spec.tag, chosen.note, chosen.version) == (f"{REPOSITORY}:v0.9.2", "v0.9.2", None,
                                                                                None)  # fmt: skip
    assert choose_image(LIST, requested=None, min_tag="v0.9.2", suffix="").spec.tag == "v0.9.2"  # the minimum itself
    # only an rc is new enough: the rc
    assert (
        choose_image(LIST, requested=None, min_tag="v0.9.3", suffix="-310p").reference
        == f"{REPOSITORY}:v0.10.0rc1-310p"
    )
    with pytest.raises(InputError) as refused:
        choose_image(LIST, requested=None, min_tag="v0.11.0", suffix="")
    assert str(refused.value) == "no known vllm-ascend image is at or above v0.11.0; pass --image"


def test_a_named_image_is_planned_with_the_flags_of_its_release() -> None:
    known = choose_image(LIST, requested="v0.9.2rc1", min_tag=None, suffix="")
    assert (known.reference, known.spec.tag, known.version, known.note) == (f"{REPOSITORY}:v0.9.2rc1", "v0.9.2rc1",
                                                                            "v0.9.2rc1", None)  # fmt: skip
    variant = choose_image(LIST, requested="my.registry:5000/vllm-ascend:v0.9.2-310p", min_tag=None, suffix="")
    assert (variant.spec.tag, variant.version, variant.note) == ("v0.9.2", "v0.9.2", None)
    # an unknown release: the flags of the newest known one at or below it, and a note saying so
    between = choose_image(LIST, requested="v0.9.3", min_tag=None, suffix="")
    assert (between.spec.tag, between.version) == ("v0.9.2", "v0.9.3")
    assert between.note == f"image '{REPOSITORY}:v0.9.3' is not in the image list; planned with the flags of v0.9.2"
    # no release in the tag (or older than every known one): the newest known
    for requested, version in (("latest", None), ("v0.1.0", "v0.1.0"), ("quay.io/x/y", None)):
        chosen = choose_image(LIST, requested=requested, min_tag=None, suffix="")
        assert (chosen.spec.tag, chosen.version) == ("v0.10.0rc1", version), requested
        assert chosen.note is not None and chosen.version_tag == (version or "v0.10.0rc1")


def test_a_refusal_shows_what_was_typed() -> None:
    with pytest.raises(InputError) as refused:
        parse_image_reference(f"{REPOSITORY}:.v1", given=".v1")
    assert str(refused.value).startswith("--image '.v1': not a Docker tag: letters, digits, '_', '.' and '-', at most "
                                         "128, not starting with '.' or '-' (e.g. v0.9.2rc1")  # fmt: skip
    with pytest.raises(InputError) as refused:
        parse_image_reference("Quay.io/Ascend/x:v1")
    assert str(refused.value).startswith("--image 'Quay.io/Ascend/x:v1': the repository path must be lowercase (")
    with pytest.raises(InputError) as refused:
        parse_image_reference("x:v1 y", given="x:v1 y")
    assert str(refused.value).startswith("--image 'x:v1 y': not an image reference Docker accepts (")


def test_edges_of_references() -> None:
    # a bare tag may hold capitals: it is a tag of the vllm-ascend repository, not a reference of its own
    capital = choose_image(LIST, requested="v0.9.2-X", min_tag=None, suffix="")
    assert (capital.reference, capital.spec.tag) == (f"{REPOSITORY}:v0.9.2-X", "v0.9.2")
    unknown = choose_image(LIST, requested="v0.9.3", min_tag=None, suffix="")
    assert unknown.reference == f"{REPOSITORY}:v0.9.3"
    # the repository path may be 255 characters long, not 256 (reference.go: RepositoryNameTotalLengthMax)
    assert parse_image_reference("quay.io/" + "a" * 255 + ":v1") == "v1"
    with pytest.raises(InputError, match="the repository path is longer than 255 characters"):
        parse_image_reference("quay.io/" + "a" * 256 + ":v1")
