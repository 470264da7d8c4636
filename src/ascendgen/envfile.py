"""Secrets live in the deployment directory's `.env` (mode 0600, git-ignored), never in compose.yml:
docker compose reads `.env` beside the compose file and interpolates `${NAME}` references from it."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ascendgen.errors import InputError

ENV_FILE = ".env"
GITIGNORE = ".gitignore"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class EnvRef:
    """A value compose takes from `.env` at run time: rendered as `${NAME:?...}`, so compose refuses to
    start when it is missing instead of passing an empty secret."""

    name: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InputError(f"'{self.name}' is not an environment variable name")

    def __str__(self) -> str:
        return f"${{{self.name}:?set {self.name} in {ENV_FILE}}}"


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def read_env_file(directory: Path) -> dict[str, str]:
    path = directory / ENV_FILE
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and _NAME.match(name.strip()):
            values[name.strip()] = value
    return values


def write_env_values(directory: Path, values: Mapping[str, str]) -> Path:
    """Set `values` in DIR/.env (created 0600; other lines kept as they are) and make sure git ignores it."""
    for name, value in values.items():
        EnvRef(name)
        if any(c in value for c in "\n\r\0"):
            raise InputError(f"the value of {name} cannot contain a newline")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ENV_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    pending = dict(values)
    kept = []
    for line in lines:
        name = line.partition("=")[0].strip()
        if name in pending:
            kept.append(f"{name}={pending.pop(name)}")
        else:
            kept.append(line)
    kept += [f"{name}={value}" for name, value in pending.items()]
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(kept) + "\n")
    os.chmod(path.with_suffix(".tmp"), 0o600)
    os.replace(path.with_suffix(".tmp"), path)
    _ignore_in_git(directory)
    return path


def _ignore_in_git(directory: Path) -> None:
    gitignore = directory / GITIGNORE
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.is_file() else []
    if ENV_FILE in (line.strip() for line in lines) or f"/{ENV_FILE}" in (line.strip() for line in lines):
        return
    text = "\n".join([*lines, "# secrets for docker compose (ascendgen)", ENV_FILE]) + "\n"
    gitignore.write_text(text, encoding="utf-8")
