"""Build the stand-in engine image (`ascendgen-standin:test`) that replaces quay.io/ascend/vllm-ascend in
tests: no registry is reachable, so the image is assembled here from the host's own Python. The same root
filesystem with `litellm` as its ENTRYPOINT (and PyYAML) is the gateway's stand-in (`ascendgen-gateway-standin:test`)
for ghcr.io/berriai/litellm.

The image is a minimal root filesystem streamed to `docker import` as a tar: the host's CPython (the
interpreter, its standard library without tests/idlelib/tkinter/ensurepip, and the shared libraries
`ldd` lists for it and its extension modules), /bin/sh (the host's dash, for CMD-SHELL healthchecks and
the fake npu-smi), `vllm` (vllm_standin.py) in /usr/local/bin and a small `curl` (curl_standin.py) in
/usr/bin. Its ENTRYPOINT is ["vllm"] like the real image's compose services set.

The build is skipped when an image with the same tag already carries the same content hash (label
org.ascendgen.standin.hash: these sources, the interpreter and the shell), so fixtures may call
build_standin_image() every session. Usage: `python tests/standin/build.py [--tag T] [--force]`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "DEFAULT_TAG",
    "GATEWAY_TAG",
    "HASH_LABEL",
    "StandinBuildError",
    "build_gateway_standin_image",
    "build_standin_image",
    "standin_hash",
]

DEFAULT_TAG = "ascendgen-standin:test"
# The LiteLLM gateway's stand-in (litellm_standin.py as ENTRYPOINT ["litellm"]), on the same root filesystem plus
# the test environment's pure-Python PyYAML, which it reads the config with as LiteLLM does.
GATEWAY_TAG = "ascendgen-gateway-standin:test"
STANDIN_SITE = "usr/local/lib/ascendgen-standin"
HASH_LABEL = "org.ascendgen.standin.hash"
HERE = Path(__file__).resolve().parent
SOURCES = (
    HERE / "build.py",
    HERE / "vllm_standin.py",
    HERE / "curl_standin.py",
    HERE / "ray_standin.py",
    HERE / "litellm_standin.py",
)
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Parts of the standard library a server never imports; dropping them halves the image.
STDLIB_SKIP_DIRS = {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "__pycache__"}
STDLIB_SKIP_PREFIXES = ("config-", "site-packages", "dist-packages")
DYNLOAD_SKIP = re.compile(r"^(_tkinter|_test|xx|_xx|_ctypes_test)")
LOCK_PATH = Path("/tmp/ascendgen-standin-build.lock")


class StandinBuildError(RuntimeError):
    """The stand-in image could not be built (the message says which command failed and why)."""


def _pick_python() -> Path:
    """STANDIN_PYTHON, else Debian's /usr/bin/python3 (stable across venvs), else this interpreter."""
    for candidate in (os.environ.get("STANDIN_PYTHON"), "/usr/bin/python3", sys.executable):
        if candidate and Path(candidate).exists():
            return Path(os.path.realpath(candidate))
    raise StandinBuildError("no Python interpreter found for the stand-in image")


def _python_info(python: Path) -> dict[str, str]:
    code = (
        "import json, sys, sysconfig, os\n"
        "stdlib = sysconfig.get_paths()['stdlib']\n"
        "dyn = next((p for p in sys.path if p.endswith('lib-dynload')), os.path.join(stdlib, 'lib-dynload'))\n"
        "print(json.dumps({'version': sys.version, 'stdlib': os.path.realpath(stdlib),"
        " 'dynload': os.path.realpath(dyn)}))\n"
    )
    done = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StandinBuildError(f"{python} failed to report its paths: {done.stderr.strip()}")
    info: dict[str, str] = json.loads(done.stdout)
    return info


def _shell() -> Path | None:
    for candidate in ("/usr/bin/dash", "/bin/dash"):
        if Path(candidate).exists():
            return Path(os.path.realpath(candidate))
    return None


def standin_hash(python: Path | None = None) -> str:
    """Content hash of what goes into the image (sources, interpreter, shell)."""
    python = python or _pick_python()
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    for binary in (python, _shell()):
        if binary is not None:
            st = binary.stat()
            digest.update(f"{binary}\0{st.st_size}\0{int(st.st_mtime)}\0".encode())
    return digest.hexdigest()[:24]


def _docker(*args: str, docker: str = "docker") -> subprocess.CompletedProcess[str]:
    return subprocess.run([docker, *args], capture_output=True, text=True, check=False)


def _image_label(tag: str, docker: str) -> tuple[str | None, str | None]:
    """(image id, hash label) of `tag`, or (None, None) when there is no such image."""
    done = _docker("image", "inspect", "--format", "{{json .}}", tag, docker=docker)
    if done.returncode != 0:
        return None, None
    data = json.loads(done.stdout.strip().splitlines()[0])
    labels = (data.get("Config") or {}).get("Labels") or {}
    return data.get("Id"), labels.get(HASH_LABEL)


# ----------------------------------------------------------------------------------------------- rootfs


class _RootFs:
    """Entries of the image's root filesystem, by path inside the image (no leading slash)."""

    def __init__(self) -> None:
        self.files: dict[str, Path | bytes] = {}
        self.modes: dict[str, int] = {}
        self.symlinks: dict[str, str] = {}
        self.dirs: dict[str, int] = {}

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        path = path.strip("/")
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent in self.symlinks:
                continue
            self.dirs.setdefault(parent, 0o755)
        self.dirs[path] = mode

    def _parent(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent:
            self.add_dir(parent)

    def add_file(self, path: str, source: Path | bytes, mode: int | None = None) -> None:
        path = path.strip("/")
        self._parent(path)
        self.files[path] = source
        if mode is not None:
            self.modes[path] = mode

    def add_symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self._parent(path)
        self.symlinks[path] = target

    def add_host_file(self, host_path: str) -> None:
        """A host file at the same place, its directory resolved (merged /usr: /lib -> /usr/lib)."""
        directory = os.path.realpath(os.path.dirname(host_path))
        self.add_file(os.path.join(directory, os.path.basename(host_path)), Path(os.path.realpath(host_path)))

    def write_tar(self, stream: IO[bytes]) -> None:
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.GNU_FORMAT) as tar:
            for path in sorted(self.dirs):
                tar.addfile(self._info(path, tarfile.DIRTYPE, self.dirs[path]))
            for path, target in sorted(self.symlinks.items()):
                info = self._info(path, tarfile.SYMTYPE, 0o777)
                info.linkname = target
                tar.addfile(info)
            for path, source in sorted(self.files.items(), key=lambda item: item[0]):
                if isinstance(source, bytes):
                    info = self._info(path, tarfile.REGTYPE, self.modes.get(path, 0o644))
                    info.size = len(source)
                    tar.addfile(info, io.BytesIO(source))
                else:
                    st = source.stat()
                    info = self._info(path, tarfile.REGTYPE, self.modes.get(path, st.st_mode & 0o7777))
                    info.size = st.st_size
                    info.mtime = int(st.st_mtime)
                    with source.open("rb") as fh:
                        tar.addfile(info, fh)

    @staticmethod
    def _info(path: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(path)
        info.type = kind
        info.mode = mode
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        return info


def _ldd(binary: Path) -> list[str] | None:
    """Shared libraries (absolute paths, loader included) `binary` needs; None if one is missing."""
    done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    if "not a dynamic executable" in (done.stdout + done.stderr):
        return []
    if done.returncode != 0:
        return None
    libs = []
    for line in done.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            return None
        match = re.search(r"=>\s*(/\S+)", line) or re.match(r"(/\S+)\s+\(", line)
        if match:
            libs.append(match.group(1))
    return libs


def _walk_stdlib(stdlib: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(stdlib):
        dirnames[:] = [d for d in dirnames if d not in STDLIB_SKIP_DIRS and not d.startswith(STDLIB_SKIP_PREFIXES)]
        for name in filenames:
            if name.endswith((".pyc", ".pyo", ".a")):
                continue
            yield Path(dirpath) / name


def _rootfs(python: Path, info: dict[str, str]) -> _RootFs:
    fs = _RootFs()
    # Merged /usr on the host (Debian 12): keep the same top-level symlinks so ELF paths resolve.
    for top in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        if os.path.islink(f"/{top}"):
            fs.add_symlink(top, os.readlink(f"/{top}"))
    for directory, mode in (("tmp", 0o1777), ("var/tmp", 0o1777), ("root", 0o700), ("etc", 0o755)):
        fs.add_dir(directory, mode)
    for directory in ("proc", "sys", "dev", "models", "usr/local/bin", "usr/bin", "run"):
        fs.add_dir(directory)
    fs.add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n")
    fs.add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    fs.add_file("etc/os-release", b'NAME="ascendgen stand-in"\nID=ascendgen-standin\n')

    elves: list[Path] = [python]
    fs.add_file(str(python), python)
    stdlib, dynload = Path(info["stdlib"]), Path(info["dynload"])
    for path in _walk_stdlib(stdlib):
        if path.parent == dynload:
            continue
        fs.add_file(str(path), path)
    if dynload.is_dir():
        for module in sorted(dynload.iterdir()):
            if module.suffix == ".so" and not DYNLOAD_SKIP.match(module.name):
                if _ldd(module) is None:
                    continue  # its library is not on this host; the module is optional
                fs.add_file(str(module), module)
                elves.append(module)
    shell = _shell()
    if shell is not None:
        fs.add_file(str(shell), shell)
        fs.add_symlink("usr/bin/sh", os.path.basename(shell))
        elves.append(shell)

    libs: set[str] = set()
    for elf in elves:
        needed = _ldd(elf)
        if needed is None:
            raise StandinBuildError(f"ldd {elf} reports a missing library")
        libs.update(needed)
    for lib in sorted(libs):
        fs.add_host_file(lib)

    interpreter = str(python)
    for name in ("usr/bin/python3", "usr/bin/python"):
        if name.lstrip("/") != interpreter.lstrip("/"):
            fs.add_symlink(name, interpreter)
    shebang = f"#!{interpreter}\n".encode()
    scripts = (
        (HERE / "vllm_standin.py", "usr/local/bin/vllm"),
        (HERE / "curl_standin.py", "usr/bin/curl"),
        (HERE / "ray_standin.py", "usr/local/bin/ray"),
        (HERE / "litellm_standin.py", "usr/local/bin/litellm"),
    )
    for source, target in scripts:
        body = source.read_bytes()
        if body.startswith(b"#!"):
            body = body.split(b"\n", 1)[1]
        fs.add_file(target, shebang + body, 0o755)
    return fs


# ----------------------------------------------------------------------------------------------- build


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    with LOCK_PATH.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_standin_image(tag: str = DEFAULT_TAG, *, force: bool = False, docker: str = "docker") -> str:
    """Build (or reuse) the stand-in engine image; returns its tag. Raises StandinBuildError."""
    return _build(tag, "vllm", force=force, docker=docker)


def build_gateway_standin_image(tag: str = GATEWAY_TAG, *, force: bool = False, docker: str = "docker") -> str:
    """Build (or reuse) the stand-in LiteLLM gateway image; returns its tag. Raises StandinBuildError."""
    return _build(tag, "litellm", force=force, docker=docker)


def _pyyaml_files() -> list[tuple[str, Path]]:
    """PyYAML's pure-Python modules from the test environment (the C extension is optional to it), as paths below
    the image's STANDIN_SITE."""
    import yaml

    package = Path(yaml.__file__).resolve().parent
    return [(f"yaml/{path.name}", path) for path in sorted(package.glob("*.py"))]


def _build(tag: str, entrypoint: str, *, force: bool, docker: str) -> str:
    if shutil.which(docker) is None:
        raise StandinBuildError(f"`{docker}` is not on PATH: run scripts/install-test-deps.sh")
    python = _pick_python()
    gateway = entrypoint == "litellm"
    content_hash = standin_hash(python)
    if gateway:
        digest = hashlib.sha256(content_hash.encode())
        for name, path in _pyyaml_files():
            digest.update(name.encode() + b"\0" + path.read_bytes())
        content_hash = digest.hexdigest()[:24]
    with _build_lock():
        old_id, old_hash = _image_label(tag, docker)
        if old_hash == content_hash and not force:
            return tag
        fs = _rootfs(python, _python_info(python))
        changes = [
            f'ENTRYPOINT ["{entrypoint}"]',
            f"ENV PATH={IMAGE_PATH}",
            "ENV LANG=C.UTF-8",
            "ENV PYTHONUNBUFFERED=1",
            "ENV PYTHONDONTWRITEBYTECODE=1",
            "WORKDIR /",
            f"LABEL {HASH_LABEL}={content_hash}",
        ]
        if gateway:
            for name, path in _pyyaml_files():
                fs.add_file(f"{STANDIN_SITE}/{name}", path, 0o644)
            changes.append(f"ENV PYTHONPATH=/{STANDIN_SITE}")
        command = [docker, "import"]
        for change in changes:
            command += ["--change", change]
        command += ["-", tag]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            fs.write_tar(proc.stdin)
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
        assert proc.stdout is not None and proc.stderr is not None
        new_id = proc.stdout.read().decode(errors="replace").strip()
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise StandinBuildError(f"docker import failed ({proc.returncode}): {err}")
        if old_id and old_id != new_id:
            # The previous build is now untagged; drop it unless a container still uses it.
            _docker("image", "rm", old_id, docker=docker)
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tag", default=None)
    parser.add_argument("--force", action="store_true", help="rebuild even when the content hash matches")
    parser.add_argument("--gateway", action="store_true", help=f"build the LiteLLM stand-in ({GATEWAY_TAG})")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if args.gateway:
            tag = build_gateway_standin_image(args.tag or GATEWAY_TAG, force=args.force)
        else:
            tag = build_standin_image(args.tag or DEFAULT_TAG, force=args.force)
    except StandinBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{tag} ready in {time.monotonic() - started:.1f} s (hash {standin_hash()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
