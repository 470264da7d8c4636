"""vllm-ascend container images as data (images.yaml): which vLLM and CANN each tag holds, its defaults, flags and
variants (-310p, -a3, ...), the host driver each CANN needs, and the choice of image for a model."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from ascendgen.datafiles import data_file
from ascendgen.errors import InputError
from ascendgen.prevalidated import builtin
from ascendgen.records import Record, Rule
from ascendgen.yamlfile import Items, load_merged_sections

REPOSITORY = "quay.io/ascend/vllm-ascend"
_TAG = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:\.post(\d+))?(?:rc(\d+))?")

# An image reference as Docker reads it: the grammar of github.com/distribution/reference (reference.go, its
# package comment, and regexp.go, at commit 0965666a), which docker and compose parse references with:
#   reference := name [":" tag] ["@" digest];  name := [domain "/"] path-component ["/" path-component]*
#   domain := (domain-name | "[" IPv6 "]") [":" port];  path-component := [a-z0-9]+ (separator [a-z0-9]+)*
#   separator := [._] | __ | [-]+;  tag := [\w][\w.-]{0,127};  path at most 255 characters
# Go's \w is ASCII, hence the explicit classes (Python's would take any Unicode letter). `re.fullmatch`, since
# `$` would let a trailing newline through.
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|[-]+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_DOCKER_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?P<name>(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*))"
    rf"(?::(?P<tag>{_DOCKER_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
_PATH_MAX = 255  # reference.go: RepositoryNameTotalLengthMax, checked against the path
# Digests docker verifies (github.com/opencontainers/go-digest, algorithm.go: sha256 and sha512 registered,
# lower-case hex of the hash's length; Digest.Validate refuses other algorithms as unsupported).
_DIGEST_HEX = {"sha256": 64, "sha512": 128}
_REFERENCE_HELP = (
    "e.g. v0.9.2rc1, or [registry[:port]/]lowercase/path[:tag][@sha256:hex] such as "
    "quay.io/ascend/vllm-ascend:v0.9.2rc1"
)


@dataclass(frozen=True, kw_only=True)
class ImageFlags(Record):
    """vLLM serve flags whose presence or spelling differs between the vLLM versions inside the images."""

    expert_parallel: str = "--enable-expert-parallel"
    max_model_len_auto: bool = False
    kv_cache_memory: bool = False
    headless: bool = False
    log_requests: str | None = None
    pooling_runner: bool = False  # True: `--runner pooling` serves a pooling model; False: `--task embed|score`


# A CANN version as the base images' tags write it (quay.io/ascend/cann:8.2.rc1-910b-...): 8.2.rc1, 9.1.0, 9.1.0-beta.1.
_CANN = r"^\d+\.\d+\.(\d+|rc\d+)(-beta\.\d+)?$"


@dataclass(frozen=True, kw_only=True)
class ImageSpec(Record):
    tag: Annotated[str, Rule(pattern=r"^v\d+\.\d+\.\d+")]
    vllm: str
    transformers: str | None = None
    released: str | None = None
    variants: Items[str] = ()  # the tag suffixes built besides the plain tag: openeuler, a3, 310p, ... (no '-')
    gpu_memory_utilization_default: Annotated[float, Rule(gt=0, le=1)]
    cann: Annotated[str, Rule(pattern=_CANN)] | None = None  # the CANN inside (None: not known)
    cann_310p: Annotated[str, Rule(pattern=_CANN)] | None = None  # the -310p images' CANN where it differs
    env: dict[str, str] = field(default_factory=dict)
    flags: ImageFlags = ImageFlags()
    source: str

    @property
    def stable(self) -> bool:
        return "rc" not in self.tag

    def has_variant(self, variant: str) -> bool:
        """Whether the tag was built with this suffix ('' is the plain tag, always built)."""
        return variant == "" or variant in self.variants

    def cann_for(self, variant: str) -> str | None:
        """The CANN inside the image with this suffix (310p, 310p-openeuler, a3, ... or '')."""
        if variant.startswith("310p") and self.cann_310p is not None:
            return self.cann_310p
        return self.cann


@dataclass(frozen=True, kw_only=True)
class CannVersion(Record):
    """The host driver (Ascend HDK) a CANN version needs, from Huawei's CANN release notes."""

    cann: Annotated[str, Rule(pattern=_CANN)]
    # the oldest host driver; "25.2.X": the 25.2 line on
    min_driver: Annotated[str, Rule(pattern=r"^\d+\.\d+\.(X|\d+|RC\d+)$")] | None = None
    recommended_driver: str | None = None
    source: Annotated[str, Rule(min_length=1)]


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
    version: str | None = None  # the vllm-ascend release its tag names (v0.11.0rc3 of ...:v0.11.0rc3-310p), if any

    @property
    def version_tag(self) -> str:
        """The release to hold against a model's min_image: the tag's own, else that of the flags planned with."""
        return self.version or self.spec.tag


def _load(extra: Iterable[Path]) -> dict[str, list[Any]]:
    return load_merged_sections(
        (data_file("images.yaml"), *extra),
        {"images": ImageSpec, "cann_versions": CannVersion},
        singular={"images": "image", "cann_versions": "CANN version"},
        key_field={"images": "tag", "cann_versions": "cann"},
    )


def load_images(extra: Iterable[Path] = ()) -> tuple[ImageSpec, ...]:
    """The known images, oldest tag first (the built-in ones as validated when the wheel was built)."""
    extra = tuple(extra)
    prevalidated = None if extra else builtin("images.yaml", "images")
    if prevalidated is not None:
        return prevalidated
    return tuple(sorted(_load(extra)["images"], key=lambda image: tag_key(image.tag)))


def load_cann_versions(extra: Iterable[Path] = ()) -> tuple[CannVersion, ...]:
    return tuple(_load(extra)["cann_versions"])


def min_driver_for(cann: str) -> str | None:
    """The oldest Ascend HDK (driver) line a CANN version runs on, as Huawei's compatibility tables write it
    ("25.2.X": any 25.2 release or newer); None when no release note states it. `cann` as images.yaml writes it
    (ImageSpec.cann / cann_for), in any case (8.1.RC1 = 8.1.rc1)."""
    wanted = cann.strip().lower()
    return next((c.min_driver for c in load_cann_versions() if c.cann == wanted), None)


def choose_image(
    images: tuple[ImageSpec, ...],
    *,
    requested: str | None,
    min_tag: str | None,
    suffix: str,
    npu: str | None = None,
) -> ImageChoice:
    """The newest stable image at or above the model's minimum, or `requested` (a tag or a reference) as given:
    a model never gets an image older than its min_image unless the user named that image, and then the plan
    warns (planner._warnings); with no image at or above the minimum known, the plan is refused.

    `suffix` is the platform's image suffix (hardware.yaml image_suffix: '-310p', '-a3' or ''; `npu` names the NPU
    type in messages): the default is the newest image built with it (images.yaml variants), a bare release tag
    (v0.11.0) means that release's build for this platform, and a quay.io/ascend/vllm-ascend tag that was never
    built (v0.13.0-310p), or a build for another platform, is refused with the nearest tags that have the build."""
    variant = suffix.removeprefix("-")
    if requested is None:
        usable = [i for i in images if min_tag is None or tag_key(i.tag) >= tag_key(min_tag)]
        if not usable:
            raise InputError(f"no known vllm-ascend image is at or above {min_tag}; pass --image")
        built = [i for i in usable if i.has_variant(variant)]
        if not built:
            raise InputError(
                f"no known vllm-ascend image at or above {min_tag} has a {suffix} build, which {npu or 'this NPU'} "
                "needs; pass --image"
            )
        stable = [i for i in built if i.stable]
        spec = (stable or built)[-1]
        return ImageChoice(reference=f"{REPOSITORY}:{spec.tag}{suffix}", spec=spec)
    bare = not any(c in requested for c in "/:@")
    reference = f"{REPOSITORY}:{requested}" if bare else requested  # a bare tag
    tag = parse_image_reference(reference, given=requested)
    base = _TAG.match(tag or "")
    known = {i.tag: i for i in images}
    version = base.group(0) if base else None
    if version is not None and tag is not None and reference.startswith(f"{REPOSITORY}:"):
        if bare and tag == version:  # a bare release: this platform's build of it
            reference, tag = reference + suffix, tag + suffix
        _check_build(images, requested, version, tag[len(version) :], suffix, npu)
    if version in known:
        return ImageChoice(reference=reference, spec=known[version], version=version)
    older = [i for i in images if base and tag_key(i.tag) <= tag_key(base.group(0))]
    spec = older[-1] if older else images[-1]
    return ImageChoice(
        reference=reference,
        spec=spec,
        note=f"image '{reference}' is not in the image list; planned with the flags of {spec.tag}",
        version=version,
    )


def _check_build(
    images: tuple[ImageSpec, ...], given: str, version: str, rest: str, suffix: str, npu: str | None
) -> None:
    """Refuse a vllm-ascend tag `version` + `rest` (-310p-openeuler, ...) that images.yaml says was never built, or
    that is not this platform's build (`suffix`); a release images.yaml does not list is not checked."""
    if rest and not rest.startswith("-"):
        return  # not one of vllm-ascend's suffixes: a tag of one's own
    named, wanted = rest.removeprefix("-"), suffix.removeprefix("-")
    spec = next((i for i in images if i.tag == version), None)
    if wanted and named != wanted and not named.startswith(wanted + "-"):
        instead = (
            f"use {version}{suffix}"
            if spec is None or spec.has_variant(wanted)
            else f"{version} has none; the nearest tags that have one: {', '.join(_nearest(images, version, wanted))}"
        )
        raise InputError(
            f"--image {given!r} is not a {suffix} image, and {npu or 'this NPU'} runs only vllm-ascend's {suffix} "
            f"builds: {instead}"
        )
    if spec is not None and not spec.has_variant(named):
        builds = ", ".join((version, *(f"{version}-{v}" for v in spec.variants)))
        needed = f", the build {npu or 'this NPU'} needs" if wanted and named == wanted else ""
        nearest = ", ".join(_nearest(images, version, named))
        raise InputError(
            f"--image {given!r}: vllm-ascend {version} was not built as {version}{rest}{needed} "
            f"(images.yaml: {builds}); the nearest tags that have a -{named} build: {nearest}"
        )


def _nearest(images: tuple[ImageSpec, ...], version: str, variant: str) -> list[str]:
    """The known tags just below and just above `version` that were built with `variant`, with it."""
    key = tag_key(version)
    built = [i for i in images if i.has_variant(variant)]
    around = [i for i in built if tag_key(i.tag) < key][-1:] + [i for i in built if tag_key(i.tag) > key][:1]
    return [f"{i.tag}-{variant}" for i in around] or ["none known"]


def parse_image_reference(reference: str, *, given: str | None = None) -> str | None:
    """Check `reference` against Docker's grammar; returns its tag (None without one). `given` is what the
    user wrote, named in the error (a bare tag is checked as quay.io/ascend/vllm-ascend:TAG)."""
    shown = reference if given is None else given

    def refuse(problem: str) -> InputError:
        return InputError(f"--image {shown!r}: {problem} ({_REFERENCE_HELP})")

    match = _REFERENCE.fullmatch(reference)
    if match is None:
        if _REFERENCE.fullmatch(reference.lower()) is not None:  # reference.go Parse: ErrNameContainsUppercase
            raise refuse("the repository path must be lowercase")
        if given is not None and not any(c in given for c in "/:@"):
            raise refuse(
                "not a Docker tag: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'"
            )
        raise refuse("not an image reference Docker accepts")
    if len(match.group("path")) > _PATH_MAX:
        raise refuse(f"the repository path is longer than {_PATH_MAX} characters")
    digest = match.group("digest")
    if digest is not None:
        algorithm, _, hex_part = digest.partition(":")
        if _DIGEST_HEX.get(algorithm) != len(hex_part) or hex_part != hex_part.lower():
            raise refuse(f"'{digest}' is not a digest Docker verifies: sha256:<64 hex> or sha512:<128 hex>, lower case")
    return match.group("tag")
