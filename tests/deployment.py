"""A deployment directory made by the end-to-end tests (a compose project of its own)."""

from __future__ import annotations

import socket
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Deployment:
    directory: Path
    port: int
    service: str

    def override(self, text: str) -> None:
        (self.directory / "compose.override.yml").write_text(textwrap.dedent(text))

    def project_containers(self) -> list[str]:
        done = subprocess.run(
            ["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={self.directory.name}",
             "--format", "{{.Names}}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.split()
