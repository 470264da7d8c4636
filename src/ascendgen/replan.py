"""When vLLM will not start because its KV cache holds fewer tokens than --max-model-len: the length vLLM
computed instead, the exact `ascendgen plan ... --max-model-len N` that starts, and (`up --replan`) the new
compose.yml it writes. The recipe in the compose file's header is read back into a PlanRequest, its length
replaced, planned again and written through the same all-or-nothing, hash-checked write as `plan`."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from ascendgen.composeconfig import DEFAULT_FILES, Project
from ascendgen.errors import AscendgenError
from ascendgen.generated import recipe_file, render_files, write_deployment
from ascendgen.plans import make_plans
from ascendgen.render import COMPOSE_FILE, read_generated
from ascendgen.request import PlanRequest, recipe_command, request_from_recipe
from ascendgen.runtime import Failure
from ascendgen.yamlfile import UnreadableFileError, read_text_file

# Below one block of KV cache there is no length to offer: the model does not fit these NPUs.
MIN_USEFUL_TOKENS = 128


@dataclass(frozen=True)
class KvShortfall:
    """vLLM's refusal: `max_model_len` asked, `fits` tokens its KV cache holds."""

    service: str
    max_model_len: int
    fits: int


def kv_shortfall(failure: Failure) -> KvShortfall | None:
    """The shortfall a failed start's diagnosis names (diagnoses.yaml kind kv_cache), if that was the cause."""
    diagnosis = failure.diagnosis
    if diagnosis is None or diagnosis.kind != "kv_cache":
        return None
    asked, fits = diagnosis.values.get("len", ""), diagnosis.values.get("fit", "")
    if not asked.isdigit() or not fits.isdigit():
        return None
    return KvShortfall(failure.service, int(asked), int(fits))


class CannotReplan(AscendgenError):
    """The deployment cannot be planned again with a new length by itself; the message says what to do."""


@dataclass(frozen=True)
class Replan:
    base: Path  # where the recipe runs (the compose file's directory, or its parent for a node's file)
    request: PlanRequest  # the recipe with the new length
    max_model_len: int

    @property
    def command(self) -> str:
        """The shell line that plans it, from any directory."""
        return f"cd {shlex.quote(str(self.base))} && {recipe_command(self.request, relative_to=self.base)}"

    def write(self) -> list[Path]:
        """Plan it and write compose.yml (every node's), as `plan` would; refuses a file edited by hand."""
        try:
            texts = render_files(make_plans(self.request), self.request, self.base)
        except AscendgenError as exc:
            raise AscendgenError(f"planning with --max-model-len {self.max_model_len} failed: {exc}") from None
        return write_deployment(self.base, texts, secrets={} if self.request.api_key_env else None)


def replan_for(project: Project, shortfall: KvShortfall) -> Replan:
    """The recipe of the project's compose file with --max-model-len set to what vLLM computed. Raises
    CannotReplan when the length cannot be changed from here (no recipe, a deployment file, several models)."""
    fits = shortfall.fits
    if fits < MIN_USEFUL_TOKENS:
        raise CannotReplan(
            f"vLLM found room for {fits} tokens of KV cache: no useful length fits; use more NPUs (a larger --tp) or a "
            "quantized model, or raise --gpu-memory-utilization"
        )
    path = _compose_file(project)
    set_it = f"set --max-model-len {fits} in {path}'s command, or plan again with it"
    try:
        generated = read_generated(read_text_file(path))
    except (UnreadableFileError, OSError) as exc:
        raise CannotReplan(f"{path} cannot be read ({exc}): {set_it}") from None
    if generated.regenerate is None or not generated.by_ascendgen:
        raise CannotReplan(f"{path} has no ascendgen recipe in its header: {set_it}")
    if path.name != COMPOSE_FILE:
        raise CannotReplan(f"{path} is not the {COMPOSE_FILE} ascendgen writes: {set_it}")
    base = path.parent.parent if generated.in_parent else path.parent
    try:
        words = shlex.split(generated.regenerate)
    except ValueError as exc:
        raise CannotReplan(f"the recipe in {path} does not parse ({exc}): {set_it}") from None
    if words[:2] != ["ascendgen", "plan"]:
        raise CannotReplan(f"{path} was not written by `ascendgen plan`: {set_it}")
    # No confinement to the git repository, unlike `check`: `check` runs in CI on headers anyone may edit, while
    # `up --replan` is the operator rerunning the plan of a deployment they are starting on their own host.
    request = request_from_recipe(words[2:], base, lambda flag, p: str(recipe_file(Path(p), base, None, flag)))
    if request.deployment_file is not None:
        raise CannotReplan(
            f"set max_model_len: {fits} for the instance of {shortfall.service} in {request.deployment_file}, then "
            f"`cd {shlex.quote(str(base))} && ascendgen plan -f {shlex.quote(words[-1])}` and `ascendgen up`"
        )
    if len(request.instances) != 1:
        raise CannotReplan(
            f"{shortfall.service} is one of {len(request.instances)} models planned on one command line, where "
            f"--max-model-len would apply to all: list them in a deployment file (ascendgen.yaml) with max_model_len: "
            f"{fits} for this one, and plan with -f"
        )
    (instance,) = request.instances
    changed = replace(instance, max_model_len=fits)
    return Replan(base, replace(request, instances=(changed,)), fits)


def _compose_file(project: Project) -> Path:
    if project.file is not None:
        return project.file
    for name in DEFAULT_FILES:
        if (project.directory / name).is_file():
            return project.directory / name
    return project.directory / COMPOSE_FILE
