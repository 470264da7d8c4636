"""Where the packaged data lives: inside the wheel as ascendgen/data/, or at the top of a source checkout."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path


@cache
def data_dir() -> Path:
    packaged = Path(str(files("ascendgen"))) / "data"
    if (packaged / "hardware.yaml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2]  # src/ascendgen/ -> repository root (editable installs)
    if (checkout / "hardware.yaml").is_file():
        return checkout
    raise FileNotFoundError("ascendgen's data files (models.yaml, templates/) are missing from this install")


def data_file(name: str) -> Path:
    return data_dir() / name


def templates_dir() -> Path:
    return data_dir() / "templates"
