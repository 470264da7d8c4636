"""`ascendgen gpustack server|worker`: GPUStack on Ascend as compose files. Each command packs its flags
into a request, lets ascendgen.gpustack build and render it, writes the files and says what it wrote."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from ascendgen.cli import termui
from ascendgen.envfile import ENV_FILE, generate_secret, read_env_file
from ascendgen.errors import InputError
from ascendgen.generated import recipe_file, write_deployment
from ascendgen.gpustack import (
    DEFAULT_IMAGE_TAG,
    DEFAULT_MODELS_DIR,
    DEFAULT_PORT,
    TOKEN_HINT,
    GpustackService,
    ServerRequest,
    WorkerRequest,
    bootstrap_secrets,
    build_server,
    build_worker,
    check_server_url,
    render_gpustack,
    worker_secrets,
)
from ascendgen.hardware import load_hardware
from ascendgen.npuset import parse_npus

__all__ = ["gpustack_app", "register", "render_recipe"]

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
    str, typer.Option(help="GPUStack release, e.g. v0.7.1 or latest (moves); the device suffix (-npu) is added.")
]
ModelsDirOpt = Annotated[
    str, typer.Option(help="Host directory (absolute) mounted read-only at /models for local-path models.")
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
    npus: NpusOpt = None,
    port: Annotated[int, typer.Option(help="Port of GPUStack's UI and API.")] = DEFAULT_PORT,
    image_tag: ImageTagOpt = DEFAULT_IMAGE_TAG,
    models_dir: ModelsDirOpt = DEFAULT_MODELS_DIR,
    cpu_only: Annotated[
        bool, typer.Option("--cpu-only", help="A management server without NPUs: CPU image, --disable-worker.")
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
    """Write compose.yml for a GPUStack server, with its built-in worker on the NPUs unless --cpu-only.

    Example: [bold]ascendgen gpustack server --npus 0-7 --port 8080 --out gpustack[/]
    """
    secrets = bootstrap_secrets(
        bootstrap_password,
        generate=generate_password,
        from_env=bootstrap_password_from_env,
        env_file=read_env_file(out),
        new_secret=generate_secret,
    )
    with_password = bootstrap_password is not None or generate_password or bootstrap_password_from_env
    request = _server_request(npus, port, image_tag, models_dir, cpu_only, with_password, server, hardware or [])
    service = build_server(request, load_hardware(hardware or []))
    _write(service, request.command(relative_to=out), out, secrets, force=force)
    termui.info(f"workers join with the token the server keeps: {TOKEN_HINT}")


@gpustack_app.command()
def worker(
    server_url: Annotated[
        str, typer.Option(help="The GPUStack server's URL, e.g. http://172.16.33.106:8080.", show_default=False)
    ],
    token: Annotated[
        str | None,
        typer.Option(help=f"The server's worker token ({TOKEN_HINT}); written to .env only.", show_default=False),
    ] = None,
    token_from_env: Annotated[
        bool,
        typer.Option(
            "--token-from-env", help="Take GPUSTACK_TOKEN from .env or the shell when compose starts; write none."
        ),
    ] = False,
    npus: NpusOpt = None,
    image_tag: ImageTagOpt = DEFAULT_IMAGE_TAG,
    models_dir: ModelsDirOpt = DEFAULT_MODELS_DIR,
    server: ServerOpt = None,
    hardware: HardwareOpt = None,
    out: OutOpt = Path("."),
    force: ForceOpt = False,
) -> None:
    """Write compose.yml for a GPUStack worker on this server's NPUs; its token goes to .env, never compose.yml.

    Example: [bold]ascendgen gpustack worker --server-url http://172.16.33.106:8080 --token TOKEN[/]
    """
    request = _worker_request(server_url, npus, image_tag, models_dir, server, hardware or [])
    service = build_worker(request, load_hardware(hardware or []))
    secrets = worker_secrets(token, token_from_env=token_from_env, env_file=read_env_file(out))
    _write(service, request.command(relative_to=out), out, secrets, force=force)


def _write(service: GpustackService, regenerate: str, out: Path, secrets: dict[str, str], *, force: bool) -> None:
    text = render_gpustack(service, regenerate=regenerate)
    (written,) = write_deployment(out, {".": text}, force=force, secrets=secrets)
    termui.out.print(service.summary, highlight=False, markup=False, soft_wrap=True)
    for name in secrets:
        termui.info(f"wrote {name} to {out / ENV_FILE} (mode 0600, listed in .gitignore)")
    termui.success(f"wrote {written}")


def _server_request(
    npus: str | None,
    port: int,
    image_tag: str,
    models_dir: str,
    cpu_only: bool,
    bootstrap_password: bool,
    server: str | None,
    hardware: Sequence[Path],
) -> ServerRequest:
    return ServerRequest(
        npus=parse_npus(npus) if npus is not None else None,
        port=port,
        image_tag=image_tag,
        models_dir=models_dir,
        cpu_only=cpu_only,
        bootstrap_password=bootstrap_password,
        server=server,
        hardware_files=tuple(str(p) for p in hardware),
    )


def _worker_request(
    server_url: str, npus: str | None, image_tag: str, models_dir: str, server: str | None, hardware: Sequence[Path]
) -> WorkerRequest:
    return WorkerRequest(
        server_url=check_server_url(server_url),
        npus=parse_npus(npus) if npus is not None else None,
        image_tag=image_tag,
        models_dir=models_dir,
        server=server,
        hardware_files=tuple(str(p) for p in hardware),
    )


def render_recipe(args: list[str], base: Path, root: Path | None = None) -> str:
    """compose.yml as a recorded `ascendgen gpustack server|worker ...` line writes it today, read with the
    commands' own parsers and file paths taken relative to `base` (the compose file's directory). For
    `ascendgen check`: recorded recipes hold no secrets, so nothing is read from .env or written. With a
    `root`, the --hardware files must lie inside it."""
    if args[:2] != ["ascendgen", "gpustack"] or len(args) < 3 or args[2] not in ("server", "worker"):
        raise InputError(f"not an 'ascendgen gpustack server|worker' recipe: {shlex.join(args)}")
    group = typer.main.get_command(gpustack_app)
    command = group.get_command(None, args[2])  # type: ignore[attr-defined]
    try:
        p = command.make_context(args[2], list(args[3:]), resilient_parsing=False).params
    except typer.TyperException as exc:  # an option this version no longer knows, a missing value
        raise InputError(f"recipe '{shlex.join(args)}': {exc.format_message()}") from None
    hardware = [recipe_file(path, base, root, "--hardware") for path in p.get("hardware") or []]
    service: GpustackService
    if args[2] == "server":
        with_password = bool(
            p["bootstrap_password"] is not None or p["generate_password"] or p["bootstrap_password_from_env"]
        )
        server_request = _server_request(
            p["npus"], p["port"], p["image_tag"], p["models_dir"], p["cpu_only"], with_password, p["server"], hardware
        )
        service = build_server(server_request, load_hardware(hardware))
        return render_gpustack(service, regenerate=server_request.command(relative_to=base))
    worker_request = _worker_request(p["server_url"], p["npus"], p["image_tag"], p["models_dir"], p["server"], hardware)
    service = build_worker(worker_request, load_hardware(hardware))
    return render_gpustack(service, regenerate=worker_request.command(relative_to=base))


def register(app: typer.Typer) -> None:
    app.add_typer(gpustack_app, name="gpustack")
