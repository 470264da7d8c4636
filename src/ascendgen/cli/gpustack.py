"""`ascendgen gpustack server|worker`: GPUStack on Ascend as compose files. Each command packs its flags
into a request, lets ascendgen.gpustack build and render it, writes the files and says what it wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ascendgen.cli import termui
from ascendgen.envfile import ENV_FILE, generate_secret, read_env_file
from ascendgen.generated import write_deployment
from ascendgen.gpustack import (
    DEFAULT_MODELS_DIR,
    DEFAULT_VERSION,
    IMAGE_TAGS,
    PASSWORD_HINT,
    PORTS,
    PRIVILEGE_WARNING,
    TOKEN_HINT,
    V2_TOKEN_HINT,
    GpustackService,
    bootstrap_secrets,
    build,
    recipe_command,
    render_gpustack,
    request_from_flags,
    worker_secrets,
)
from ascendgen.hardware import load_hardware

__all__ = ["gpustack_app", "register"]

gpustack_app = typer.Typer(
    name="gpustack",
    help="Write compose files for a GPUStack cluster on Ascend NPUs: a server and the workers that join it.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

NpusOpt = Annotated[
    str | None, typer.Option(help="NPUs GPUStack may use: '0-7' or '0,1,2,3' (default: all of the server's).")
]
ImageTagOpt = Annotated[
    str | None,
    typer.Option(
        help=f"GPUStack release (default {IMAGE_TAGS['2']}; {IMAGE_TAGS['0.7']} with --gpustack-version 0.7, "
        "whose device suffix -npu is added).",
        show_default=False,
    ),
]
VersionOpt = Annotated[
    str,
    typer.Option(
        "--gpustack-version",
        help="The layout: 2 (GPUStack 2.x as its docs install it) or 0.7 (the v0.7 -npu images of ascendgen 0.1).",
    ),
]
ModelsDirOpt = Annotated[
    str,
    typer.Option(help="Host directory (absolute) mounted read-only for local-path models (0.7: at /models)."),
]
ServerOpt = Annotated[str | None, typer.Option(help="Server profile (default atlas-800i-a2: 8 x 910B4).")]
HardwareOpt = Annotated[
    list[Path] | None,
    typer.Option("--hardware", help="A hardware file merged over the built-in hardware.yaml.", metavar="FILE"),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Directory to write compose.yml (and .env) into.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite a compose.yml edited by hand.")]


@gpustack_app.command()
def server(
    gpustack_version: VersionOpt = DEFAULT_VERSION,
    npus: NpusOpt = None,
    port: Annotated[
        int | None,
        typer.Option(
            help=f"Port of GPUStack's UI and API (default {PORTS['2']}; {PORTS['0.7']} with --gpustack-version 0.7).",
            show_default=False,
        ),
    ] = None,
    image_tag: ImageTagOpt = None,
    models_dir: Annotated[
        str | None,
        typer.Option(
            help=f"0.7: host directory (absolute) mounted read-only at /models (default {DEFAULT_MODELS_DIR}).",
            show_default=False,
        ),
    ] = None,
    cpu_only: Annotated[
        bool,
        typer.Option("--cpu-only", help="0.7: a management server without NPUs (CPU image, --disable-worker)."),
    ] = False,
    bootstrap_password: Annotated[
        str | None,
        typer.Option(
            help="Initial admin password, written to .env (used on the first start only).", show_default=False
        ),
    ] = None,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Generate the initial admin password into .env.")
    ] = False,
    bootstrap_password_from_env: Annotated[
        bool,
        typer.Option(
            "--bootstrap-password-from-env",
            help="Take GPUSTACK_BOOTSTRAP_PASSWORD from .env or the shell when compose starts; write none.",
        ),
    ] = False,
    server: ServerOpt = None,
    hardware: HardwareOpt = None,
    out: OutOpt = Path("."),
    force: ForceOpt = False,
) -> None:
    """Write compose.yml for a GPUStack server (2.x: no NPUs, workers join it; 0.7: with its built-in worker).

    Example: [bold]ascendgen gpustack server --port 8080 --out gpustack[/]
    """
    secrets = bootstrap_secrets(
        bootstrap_password,
        generate=generate_password,
        from_env=bootstrap_password_from_env,
        env_file=read_env_file(out),
        new_secret=generate_secret,
    )
    with_password = bootstrap_password is not None or generate_password or bootstrap_password_from_env
    given = {"gpustack_version": gpustack_version, "npus": npus, "port": port, "image_tag": image_tag,
             "models_dir": models_dir, "cpu_only": cpu_only, "bootstrap_password": with_password, "server": server,
             "hardware_files": _paths(hardware)}  # fmt: skip
    request = request_from_flags("server", given)
    service = build(request, load_hardware(hardware or []))
    _write(service, recipe_command(request, relative_to=out), out, secrets, force=force)
    if request.gpustack_version == "2":
        termui.info(f"admin password: {PASSWORD_HINT}; workers join with the token of {V2_TOKEN_HINT}")
    else:
        termui.info(f"workers join with the token the server keeps: {TOKEN_HINT}")


@gpustack_app.command()
def worker(
    server_url: Annotated[
        str, typer.Option(help="The GPUStack server's URL, e.g. http://172.16.33.106:8080.", show_default=False)
    ],
    token: Annotated[
        str | None,
        typer.Option(
            help=f"The cluster's worker token (2.x: {V2_TOKEN_HINT}; 0.7: {TOKEN_HINT}); written to .env only.",
            show_default=False,
        ),
    ] = None,
    token_from_env: Annotated[
        bool,
        typer.Option(
            "--token-from-env", help="Take GPUSTACK_TOKEN from .env or the shell when compose starts; write none."
        ),
    ] = False,
    gpustack_version: VersionOpt = DEFAULT_VERSION,
    npus: NpusOpt = None,
    image_tag: ImageTagOpt = None,
    models_dir: ModelsDirOpt = DEFAULT_MODELS_DIR,
    server: ServerOpt = None,
    hardware: HardwareOpt = None,
    out: OutOpt = Path("."),
    force: ForceOpt = False,
) -> None:
    """Write compose.yml for a GPUStack worker on this server's NPUs; its token goes to .env, never compose.yml.

    GPUStack 2.x's worker runs privileged with the host's Docker socket (root on the host) and the Ascend
    Docker Runtime, as GPUStack's docs install it; --gpustack-version 0.7 writes the v0.7 layout.

    Example: [bold]ascendgen gpustack worker --server-url http://172.16.33.106:8080 --token TOKEN[/]
    """
    given = {"server_url": server_url, "gpustack_version": gpustack_version, "npus": npus, "image_tag": image_tag,
             "models_dir": models_dir, "server": server, "hardware_files": _paths(hardware)}  # fmt: skip
    request = request_from_flags("worker", given)
    service = build(request, load_hardware(hardware or []))
    secrets = worker_secrets(token, token_from_env=token_from_env, env_file=read_env_file(out), hint=service.token_hint)
    _write(service, recipe_command(request, relative_to=out), out, secrets, force=force)
    if service.privileged:
        termui.warning(PRIVILEGE_WARNING)


def _write(service: GpustackService, regenerate: str, out: Path, secrets: dict[str, str], *, force: bool) -> None:
    text = render_gpustack(service, regenerate=regenerate)
    (written,) = write_deployment(out, {".": text}, force=force, secrets=secrets)
    termui.out.print(service.summary, highlight=False, markup=False, soft_wrap=True)
    for name in secrets:
        termui.info(f"wrote {name} to {out / ENV_FILE} (mode 0600, listed in .gitignore)")
    termui.success(f"wrote {written}")


def _paths(hardware: list[Path] | None) -> list[str]:
    return [str(path) for path in hardware or []]


def register(app: typer.Typer) -> None:
    app.add_typer(gpustack_app, name="gpustack")
