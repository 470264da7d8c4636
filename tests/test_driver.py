"""The host's driver against the CANN inside an image (ascendgen.driver): versions as version.info and
Huawei's tables write them, the image a reference names, and the verdict `up` and `doctor` act on. The
images' CANN and the minimum drivers come from images.yaml / images.min_driver_for; here they are set per
test, so the comparison is tested whatever the data says."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ascendgen import images
from ascendgen.driver import (
    check_driver_for_image,
    driver_key,
    image_spec,
    newest_image_for_driver,
    read_driver_version,
)
from ascendgen.images import ImageSpec, load_images

# CANN per tag and the minimum driver per CANN as /work/research/images records them (cann-per-tag.yaml,
# driver-requirements.yaml): 8.1.RC1 has no published minimum; 8.5.0 and 9.0.x run on 25.0.X and newer;
# 9.1.0 needs 25.2.X (CANN 9.1.0 release notes, "CANN与Ascend HDK版本兼容": 9.1.X N on 25.0.X).
CANN = {"v0.9.2rc1": "8.1.RC1", "v0.11.0": "8.3.RC2", "v0.13.0": "8.5.0", "v0.23.0": "9.1.0"}
MIN_DRIVER = {"8.5.0": "25.0.X", "9.1.0": "25.2.X"}


@pytest.fixture
def known(monkeypatch: pytest.MonkeyPatch) -> tuple[ImageSpec, ...]:
    monkeypatch.setattr(images, "min_driver_for", MIN_DRIVER.get)
    specs = {spec.tag: spec for spec in load_images()}
    for tag in ("v0.13.0", "v0.23.0"):  # in case images.yaml no longer lists them: copies of a listed one
        specs.setdefault(tag, replace(next(iter(specs.values())), tag=tag))
    return tuple(replace(spec, cann=CANN.get(spec.tag)) for spec in specs.values())


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("24.1.rc2", "24.1.rc3"),
        ("24.1.RC3", "24.1.0"),  # a release candidate comes before its release
        ("24.1.0", "24.1.0.1"),
        ("24.1.0.1", "25.0.rc1"),
        ("25.0.rc1", "25.0.rc1.1"),
        ("25.0.X", "25.0.rc1"),  # a whole line as a minimum: any release of it qualifies
        ("25.2.X", "25.2.0"),
        ("25.0.0", "25.2.X"),
        ("9.9.9", "23.0.3"),
    ],
)
def test_driver_versions_order_as_huawei_releases_them(older: str, newer: str) -> None:
    low, high = driver_key(older), driver_key(newer)
    assert low is not None and high is not None and low < high


@pytest.mark.parametrize("text", ["", "24", "v24.1.0", "24.1.beta", "latest"])
def test_a_version_that_is_not_one_gives_no_key(text: str) -> None:
    assert driver_key(text) is None


def test_read_driver_version(tmp_path: Path) -> None:
    info = tmp_path / "version.info"
    info.write_text("Version=24.1.rc2\nascendhal_version=7.35.19\n", encoding="utf-8")
    assert read_driver_version(info) == ("24.1.rc2", None)
    info.write_text("ascendhal_version=7.35.19\n", encoding="utf-8")
    assert read_driver_version(info) == (None, f"{info} has no Version= line")
    assert read_driver_version(tmp_path / "none") == (None, f"{tmp_path / 'none'} is missing")


@pytest.mark.parametrize(
    ("reference", "tag"),
    [
        ("quay.io/ascend/vllm-ascend:v0.9.2rc1", "v0.9.2rc1"),
        ("quay.io/ascend/vllm-ascend:v0.9.2rc1-310p", "v0.9.2rc1"),
        ("quay.nju.edu.cn/ascend/vllm-ascend:v0.9.2rc1-openeuler", "v0.9.2rc1"),  # a mirror (Ascend/pytorch#78)
        ("registry.local:5000/ascend/vllm-ascend:v0.9.2rc1@sha256:" + "a" * 64, "v0.9.2rc1"),
    ],
)
def test_image_spec_of_a_vllm_ascend_reference(reference: str, tag: str, known: tuple[ImageSpec, ...]) -> None:
    spec = image_spec(reference, known)
    assert spec is not None and spec.tag == tag


@pytest.mark.parametrize(
    "reference",
    [
        "ascendgen-standin:test",
        "quay.io/ascend/cann:8.1.rc1-910b-ubuntu22.04-py3.10",
        "quay.io/ascend/vllm-ascend",  # no tag
        "quay.io/ascend/vllm-ascend:v0.0.1",  # not in images.yaml
        "quay.io/ascend/vllm-ascend:main",
        "Not A Reference",
    ],
)
def test_other_images_are_not_judged(reference: str, known: tuple[ImageSpec, ...]) -> None:
    assert image_spec(reference, known) is None
    assert check_driver_for_image(reference, "24.1.rc3", known) is None


def test_a_driver_too_old_for_the_images_cann_is_refused_with_an_image_it_runs(known: tuple[ImageSpec, ...]) -> None:
    verdict = check_driver_for_image("quay.io/ascend/vllm-ascend:v0.23.0", "25.0.rc1", known, where="/x/version.info")
    assert verdict is not None and verdict.status == "too_old"
    assert verdict.cann == "9.1.0" and verdict.min_driver == "25.2.X"
    assert verdict.message == (
        "quay.io/ascend/vllm-ascend:v0.23.0 holds CANN 9.1.0, which needs Ascend driver 25.2.X or newer; this host's "
        "driver is 25.0.rc1 (/x/version.info): upgrade the driver (Ascend HDK 25.2.X or newer), or plan with an "
        "image this driver runs (--image v0.13.0, CANN 8.5.0)"
    )


def test_a_driver_too_old_for_every_image_is_told_only_to_upgrade(known: tuple[ImageSpec, ...]) -> None:
    verdict = check_driver_for_image("quay.io/ascend/vllm-ascend:v0.23.0", "24.1.rc3", known)
    assert verdict is not None and verdict.status == "too_old"
    assert verdict.message.endswith("upgrade the driver (Ascend HDK 25.2.X or newer)")


def test_a_new_enough_driver_is_ok(known: tuple[ImageSpec, ...]) -> None:
    for driver in ("25.2.0", "25.2.rc1", "25.5.0", "26.0.rc1"):
        verdict = check_driver_for_image("quay.io/ascend/vllm-ascend:v0.23.0", driver, known)
        assert verdict is not None and verdict.status == "ok", driver
    verdict = check_driver_for_image("quay.io/ascend/vllm-ascend:v0.13.0", "25.0.rc1", known)
    assert verdict is not None and verdict.status == "ok"


def test_unknown_minimum_or_cann_is_said_not_refused(known: tuple[ImageSpec, ...]) -> None:
    no_minimum = check_driver_for_image("quay.io/ascend/vllm-ascend:v0.9.2rc1", "23.0.3", known)
    assert no_minimum is not None and no_minimum.status == "unknown"
    assert "holds CANN 8.1.RC1, for which no minimum Ascend driver is published" in no_minimum.message
    without_cann = tuple(replace(spec, cann=None) for spec in known)
    no_cann = check_driver_for_image("quay.io/ascend/vllm-ascend:v0.9.2rc1", "23.0.3", without_cann)
    assert no_cann is not None and no_cann.status == "unknown"
    assert "does not record which CANN v0.9.2rc1 holds" in no_cann.message


def test_newest_image_for_a_driver(known: tuple[ImageSpec, ...]) -> None:
    newest = newest_image_for_driver("25.5.0", known)
    assert newest is not None and newest.tag == "v0.23.0"
    older = newest_image_for_driver("25.0.rc1", known)
    assert older is not None and older.tag == "v0.13.0"
    assert newest_image_for_driver("24.1.rc3", known) is None
    assert newest_image_for_driver("not a version", known) is None
