"""A deployment file (ascendgen.yaml): several instances on one server, each with optional NPUs, port,
max-model-len and served name. It is validated by the same PlanRequest model as the `plan` flags and is the
recipe its compose file is regenerated from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ascendgen.errors import CatalogError
from ascendgen.request import PlanRequest
from ascendgen.yamlfile import read_yaml, validate_entry

DEPLOYMENT_FILE = "ascendgen.yaml"


def load_deployment(path: Path) -> PlanRequest:
    """Read ascendgen.yaml into a PlanRequest; catalog and hardware paths are relative to the file."""
    data, located = read_yaml(path)
    if data is None:
        raise CatalogError(f"{path}: empty deployment file (it needs an 'instances:' list)")
    if isinstance(data, dict) and "deployment_file" in data:
        raise CatalogError(f"{path}:{located.key_line('deployment_file')}: deployment: deployment_file: unknown field")
    request = validate_entry(PlanRequest, data, path=path, located=located, loc_prefix=[], what="deployment")
    base = path.parent
    return replace(
        request,
        catalogs=tuple(str(base / p) for p in request.catalogs),
        hardware=tuple(str(base / p) for p in request.hardware),
        deployment_file=str(path),
    )
