"""Where the packaged data lives: inside the wheel as ascendgen/data/, or at the top of a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def data_dir() -> Path:
    packaged = Path(__file__).parent / "data"  # a wheel installs ascendgen as files (jinja2 reads templates/ so too)
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
