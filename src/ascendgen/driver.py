"""The host's Ascend driver against the CANN inside a vllm-ascend image.

The image brings CANN; the host brings the driver (Ascend HDK), bind-mounted into the container. A CANN
release runs only on the driver lines Huawei's compatibility table lists for it, so a driver older than
that fails deep inside torch_npu's start, after a 15 GB pull. images.yaml records the CANN of each tag
(`cann`), and images.min_driver_for(cann) the oldest driver that runs it, where one is published."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ascendgen import images
from ascendgen.errors import InputError
from ascendgen.images import ImageSpec, parse_image_reference, tag_key

# Where the driver installer writes its version (Ascend HDK installation guide; the seeds mount it):
# `Version=24.1.rc2`, then other key=value lines.
DRIVER_VERSION_INFO = "/usr/local/Ascend/driver/version.info"

# Driver releases: 24.1.RC2 < 24.1.RC3 < 24.1.0 < 24.1.0.1 < 25.0.RC1. version.info writes `rc` in lower case
# (24.1.rc3); Huawei's tables write RC and a line as 25.0.X (any release of 25.0).
_DRIVER = re.compile(r"(\d+)\.(\d+)(?:\.(?:(rc)(\d+)|(\d+)|(x)))?((?:\.\d+)*)", re.IGNORECASE)
_RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+(?:\.post\d+)?(?:rc\d+)?")


def read_driver_version(path: Path) -> tuple[str | None, str | None]:
    """The `Version=` of a driver's version.info, or None and why it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None, f"{path} is missing"
    except OSError as exc:
        return None, f"{path} is unreadable ({exc.strerror or type(exc).__name__})"
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "Version" and value.strip():
            return value.strip(), None
    return None, f"{path} has no Version= line"


def driver_key(version: str) -> tuple[int, ...] | None:
    """A driver version as a sortable key; None when it is not written like one. `25.0.X` (a whole line, as a
    minimum) sorts before every release of that line."""
    match = _DRIVER.fullmatch(version.strip())
    if match is None:
        return None
    major, minor, rc, rc_number, patch, any_release, rest = match.groups()
    key = [int(major), int(minor)]
    if any_release:
        key.append(-1)
    elif rc:
        key += [0, int(rc_number)]
    elif patch is not None:
        key += [1, int(patch)]
    key += [int(part) for part in rest.split(".") if part]
    return tuple(key)


def image_spec(reference: str, known: tuple[ImageSpec, ...]) -> ImageSpec | None:
    """The images.yaml entry of a vllm-ascend image reference (any registry or mirror, any variant suffix:
    quay.io/ascend/vllm-ascend:v0.9.2rc1-310p is v0.9.2rc1), or None for another image or an unknown tag."""
    try:
        tag = parse_image_reference(reference)
    except InputError:
        return None
    name = reference.split("@", 1)[0]
    name = name[: len(name) - len(tag) - 1] if tag else name
    if tag is None or not name.endswith("/vllm-ascend"):
        return None
    release = _RELEASE_TAG.match(tag)
    return {spec.tag: spec for spec in known}.get(release.group(0)) if release else None


@dataclass(frozen=True)
class DriverVerdict:
    status: Literal["ok", "too_old", "unknown"]
    message: str
    cann: str | None = None
    min_driver: str | None = None


def check_driver_for_image(
    reference: str, driver_version: str, known: tuple[ImageSpec, ...], *, where: str = DRIVER_VERSION_INFO
) -> DriverVerdict | None:
    """Whether the host's driver runs the CANN inside `reference`; None for an image that is not a vllm-ascend
    image ascendgen knows (nothing can be said), or a driver version that does not parse (doctor reports it)."""
    spec = image_spec(reference, known)
    have = driver_key(driver_version)
    if spec is None or have is None:
        return None
    if spec.cann is None:
        return DriverVerdict(
            "unknown",
            f"images.yaml does not record which CANN {spec.tag} holds, so the host's driver {driver_version} could "
            f"not be checked against {reference}",
        )
    minimum = images.min_driver_for(spec.cann)
    need = driver_key(minimum) if minimum else None
    if minimum is None or need is None:
        return DriverVerdict(
            "unknown",
            f"{reference} holds CANN {spec.cann}, for which no minimum Ascend driver is published: the host's driver "
            f"{driver_version} could not be checked (if the container fails at start, `ascendgen diagnose` names a "
            "driver/CANN mismatch)",
            cann=spec.cann,
        )
    if have >= need:
        return DriverVerdict(
            "ok",
            f"driver {driver_version} runs {reference} (CANN {spec.cann} needs {minimum} or newer)",
            cann=spec.cann,
            min_driver=minimum,
        )
    older = newest_image_for_driver(driver_version, known, below=spec.tag)
    instead = f", or plan with an image this driver runs (--image {older.tag}, CANN {older.cann})" if older else ""
    return DriverVerdict(
        "too_old",
        f"{reference} holds CANN {spec.cann}, which needs Ascend driver {minimum} or newer; this host's driver is "
        f"{driver_version} ({where}): upgrade the driver (Ascend HDK {minimum} or newer){instead}",
        cann=spec.cann,
        min_driver=minimum,
    )


def newest_image_for_driver(
    driver_version: str, known: tuple[ImageSpec, ...], *, below: str | None = None
) -> ImageSpec | None:
    """The newest image (below the tag `below`, if given) whose CANN has a published minimum driver that
    `driver_version` meets; stable releases first, as `plan` picks them."""
    have = driver_key(driver_version)
    if have is None:
        return None
    fits = []
    for spec in known:
        if spec.cann is None or (below is not None and tag_key(spec.tag) >= tag_key(below)):
            continue
        minimum = images.min_driver_for(spec.cann)
        need = driver_key(minimum) if minimum else None
        if need is not None and have >= need:
            fits.append(spec)
    fits.sort(key=lambda spec: (spec.stable, tag_key(spec.tag)))
    return fits[-1] if fits else None
