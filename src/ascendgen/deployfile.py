"""A deployment file (ascendgen.yaml): several instances on one server, each with optional NPUs, port,
max-model-len and served name. It is the recipe its compose file is regenerated from."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, PositiveInt, field_validator

from ascendgen.api import Instance, PlanRequest
from ascendgen.errors import CatalogError, InputError
from ascendgen.npuset import parse_npus
from ascendgen.planner import DEFAULT_PORT
from ascendgen.yamlfile import STRICT_MODEL, Items, read_yaml, validate_entry

DEPLOYMENT_FILE = "ascendgen.yaml"
_STRICT = STRICT_MODEL


class InstanceEntry(BaseModel):
    model_config = _STRICT
    model: str = Field(min_length=1)
    tp: PositiveInt | None = None
    npus: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    max_model_len: PositiveInt | None = None
    served_name: str | None = Field(default=None, min_length=1)
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)

    @field_validator("npus", mode="before")
    @classmethod
    def _npus_text(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):  # `npus: 3`
            return str(value)
        if isinstance(value, list):  # `npus: [4, 5]`
            return ",".join(str(v) for v in value)
        return value


class DeploymentEntry(BaseModel):
    model_config = _STRICT
    server: str | None = None
    npu_type: str | None = None
    image: str | None = None
    models_dir: str = "/models"
    first_port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    host: str | None = None
    api_key_env: bool = False
    catalogs: Items[str] = ()
    hardware: Items[str] = ()
    instances: Items[InstanceEntry] = Field(min_length=1)


def load_deployment(path: Path) -> PlanRequest:
    """Read ascendgen.yaml into a PlanRequest; catalog and hardware paths are relative to the file."""
    data, located = read_yaml(path)
    if data is None:
        raise CatalogError(f"{path}: empty deployment file (it needs an 'instances:' list)")
    entry = validate_entry(DeploymentEntry, data, path=path, located=located, loc_prefix=[], what="deployment")
    instances = []
    for index, item in enumerate(entry.instances):
        try:
            npus = parse_npus(item.npus) if item.npus is not None else None
        except InputError as exc:
            line = located.line_of(["instances", index, "npus"])
            raise CatalogError(f"{path}:{line}: instances[{index}].npus: {exc}") from None
        instances.append(
            Instance(
                model=item.model,
                tp=item.tp,
                npus=npus,
                port=item.port,
                max_model_len=item.max_model_len,
                served_name=item.served_name,
                gpu_memory_utilization=item.gpu_memory_utilization,
            )
        )
    base = path.parent
    return PlanRequest(
        instances=tuple(instances),
        server=entry.server,
        npu_type=entry.npu_type,
        image=entry.image,
        models_dir=entry.models_dir,
        first_port=entry.first_port,
        host=entry.host,
        api_key_env=entry.api_key_env,
        catalogs=tuple(str(base / p) for p in entry.catalogs),
        hardware_files=tuple(str(base / p) for p in entry.hardware),
        deployment_file=str(path),
    )
