"""A fake Ascend NPU host under a temporary directory, for tests that run real containers.

`make_fake_npu_host(root)` lays out what an Atlas 800I A2 exposes to a vllm-ascend container: the NPU
character devices, the driver tree, `npu-smi` and a models directory holding config.json files with
real numbers. The devices are made with mknod as copies of /dev/null (char 1:3), so a container that
maps them sees character devices it can open, and nothing under the real /dev or /usr/local/Ascend is
touched. Plain functions, no pytest: fixtures call them.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CONTROL_DEVICES",
    "QWEN2_5_7B_INSTRUCT_CONFIG",
    "QWEN3_8B_CONFIG",
    "FakeHost",
    "NpuProcess",
    "make_fake_npu_host",
    "render_npu_smi_info",
    "write_hardware_file",
    "write_model",
]

# The devices every vllm-ascend container maps besides its /dev/davinciN (vllm-ascend installation docs).
CONTROL_DEVICES = ("davinci_manager", "hisi_hdc", "devmm_svm")

# Qwen/Qwen3-8B config.json as published on the Hub (32 query heads, 8 KV heads, 36 layers).
QWEN3_8B_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 12288,
    "max_position_embeddings": 40960,
    "max_window_layers": 36,
    "model_type": "qwen3",
    "num_attention_heads": 32,
    "num_hidden_layers": 36,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

# Qwen/Qwen2.5-7B-Instruct config.json: 28 heads, the seed blog's example of a TP that must divide 28.
QWEN2_5_7B_INSTRUCT_CONFIG: dict[str, Any] = {
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "hidden_act": "silu",
    "hidden_size": 3584,
    "initializer_range": 0.02,
    "intermediate_size": 18944,
    "max_position_embeddings": 32768,
    "max_window_layers": 28,
    "model_type": "qwen2",
    "num_attention_heads": 28,
    "num_hidden_layers": 28,
    "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.43.1",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 152064,
}


@dataclass(frozen=True)
class NpuProcess:
    """One row of `npu-smi info`'s process table. Real npu-smi prints an empty name for processes it
    sees from inside another PID namespace (e.g. a container); pass name="" to reproduce that."""

    pid: int
    name: str = "python3"
    memory_mb: int = 30000


@dataclass
class FakeHost:
    """Paths of a fake NPU host. Host paths are under `root`; `container_*` are where a vllm-ascend
    compose file mounts them."""

    root: Path
    npus: int
    dev: Path
    davinci: list[Path]
    control_devices: dict[str, Path]
    driver_lib64: Path
    driver_version_info: Path
    ascend_install_info: Path
    dcmi: Path
    npu_smi: Path
    models: Path
    cache: Path
    npu_name: str = "910B4"
    hbm_mb: int = 32768
    busy: dict[int, list[NpuProcess]] = field(default_factory=dict)

    def device_mappings(self, npus: list[int] | None = None) -> list[str]:
        """`devices:` entries in host:container form: the control devices, then /dev/davinciN."""
        wanted = range(self.npus) if npus is None else npus
        return [f"{path}:/dev/{name}" for name, path in self.control_devices.items()] + [
            f"{self.davinci[i]}:/dev/davinci{i}" for i in wanted
        ]

    def driver_volumes(self) -> list[str]:
        """Read-only `volumes:` entries for the driver files, at the paths the real image expects."""
        return [
            f"{self.dcmi}:/usr/local/dcmi:ro",
            f"{self.npu_smi}:/usr/local/bin/npu-smi:ro",
            f"{self.driver_lib64}/:/usr/local/Ascend/driver/lib64/:ro",
            f"{self.driver_version_info}:/usr/local/Ascend/driver/version.info:ro",
            f"{self.ascend_install_info}:/etc/ascend_install.info:ro",
        ]

    def host_paths(self) -> dict[str, Path]:
        """Real host path -> this fake's path, for pointing a host profile at the fake in tests."""
        paths = {f"/dev/{name}": path for name, path in self.control_devices.items()}
        paths.update({f"/dev/davinci{i}": path for i, path in enumerate(self.davinci)})
        paths.update(
            {
                "/usr/local/Ascend/driver/lib64": self.driver_lib64,
                "/usr/local/Ascend/driver/version.info": self.driver_version_info,
                "/etc/ascend_install.info": self.ascend_install_info,
                "/usr/local/dcmi": self.dcmi,
                "/usr/local/bin/npu-smi": self.npu_smi,
                "/models": self.models,
                "/root/.cache": self.cache,
            }
        )
        return paths

    def set_busy(self, busy: dict[int, list[NpuProcess]]) -> None:
        """Rewrite npu-smi so that its process table shows these processes on these NPUs."""
        self.busy = {npu: list(procs) for npu, procs in busy.items()}
        _write_npu_smi(self)

    def add_model(self, name: str, config: dict[str, Any]) -> Path:
        """Write models/<name>/config.json (name like "Qwen/Qwen3-8B"); returns the model directory."""
        return write_model(self.models, name, config)


def make_fake_npu_host(
    root: Path,
    npus: int = 8,
    *,
    models: dict[str, dict[str, Any]] | None = None,
    npu_name: str = "910B4",
    hbm_mb: int = 32768,
    driver_version: str = "25.5.0",
) -> FakeHost:
    """Create the fake host under `root` (made if missing). `models` maps "org/name" to config.json
    content; by default Qwen/Qwen3-8B. Needs root (mknod of character devices)."""
    root = Path(root).resolve()
    if root == Path("/"):
        raise ValueError("the fake NPU host needs its own directory, not /")
    dev = root / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    control = {name: _char_device(dev / name) for name in CONTROL_DEVICES}
    davinci = [_char_device(dev / f"davinci{i}") for i in range(npus)]

    driver = root / "usr/local/Ascend/driver"
    lib64 = driver / "lib64"
    lib64.mkdir(parents=True, exist_ok=True)
    # Dummies: the stand-in engine checks they are mounted; nothing loads them.
    for lib in ("libascend_hal.so", "libdrvdsmi_host.so"):
        (lib64 / lib).write_bytes(b"fake Ascend driver library for tests\n")
    version_info = driver / "version.info"
    version_info.write_text(f"Version={driver_version}\nascendhal_version=7.35.19\n", encoding="utf-8")
    tools = driver / "tools"
    tools.mkdir(parents=True, exist_ok=True)
    hccn_tool = tools / "hccn_tool"  # multi-node nodes mount it (RoCE network checks)
    hccn_tool.write_text("#!/bin/sh\necho 'fake hccn_tool'\n", encoding="utf-8")
    hccn_tool.chmod(0o755)
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    # what `hccn_tool -i N -ip -s address ... netmask ...` writes for each NPU's RoCE port (multi-node preflight
    # checks every NPU has one)
    hccn = "".join(f"address_{i}=29.74.153.{181 + i}\nnetmask_{i}=255.255.0.0\n" for i in range(npus))
    (etc / "hccn.conf").write_text(hccn, encoding="utf-8")
    install_info = etc / "ascend_install.info"
    install_info.write_text(
        "UserName=HwHiAiUser\nUserGroup=HwHiAiUser\nDriver_Install_Type=full\n"
        "Driver_Install_Path_Param=/usr/local/Ascend\nDriver_Install_For_All=no\n",
        encoding="utf-8",
    )
    dcmi = root / "usr/local/dcmi"
    dcmi.mkdir(parents=True, exist_ok=True)
    (dcmi / "libdcmi.so").write_bytes(b"fake dcmi library for tests\n")
    bin_dir = root / "usr/local/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    model_dir = root / "models"
    model_dir.mkdir(parents=True, exist_ok=True)
    cache = root / "root/.cache"
    cache.mkdir(parents=True, exist_ok=True)

    host = FakeHost(
        root=root,
        npus=npus,
        dev=dev,
        davinci=davinci,
        control_devices=control,
        driver_lib64=lib64,
        driver_version_info=version_info,
        ascend_install_info=install_info,
        dcmi=dcmi,
        npu_smi=bin_dir / "npu-smi",
        models=model_dir,
        cache=cache,
        npu_name=npu_name,
        hbm_mb=hbm_mb,
    )
    _write_npu_smi(host, driver_version)
    for name, config in (models if models is not None else {"Qwen/Qwen3-8B": QWEN3_8B_CONFIG}).items():
        write_model(model_dir, name, config)
    return host


def write_hardware_file(path: Path, host: FakeHost, *, server: str = "fake-a2") -> Path:
    """An ascendgen hardware file (`--hardware`) with a server profile whose device and driver paths live
    under the fake host: an 8-NPU Atlas 800I A2 made of mknod devices."""
    path.write_text(
        f"servers:\n"
        f"  - name: {server}\n"
        f"    description: an Atlas 800I A2 made of mknod devices under a temporary directory\n"
        f"    npu_type: {host.npu_name}\n"
        f"    npu_count: {host.npus}\n"
        f"    groups: [[0, 1, 2, 3], [4, 5, 6, 7]]\n"
        f"    host_root: {host.root}\n",
        encoding="utf-8",
    )
    return path


def write_model(models_dir: Path, name: str, config: dict[str, Any]) -> Path:
    """models_dir/<name>/config.json with `config`; returns the model directory."""
    path = Path(models_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def _char_device(path: Path) -> Path:
    """A character device like /dev/null (1:3) at `path`, which must not be under the real /dev."""
    if Path("/dev") in path.resolve().parents:
        raise ValueError(f"refusing to create a device under the real /dev: {path}")
    if path.exists() or path.is_symlink():
        if stat.S_ISCHR(path.lstat().st_mode):
            return path
        path.unlink()
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    path.chmod(0o666)  # mknod's mode is filtered by the umask
    return path


_RULE = "+---------------------------+---------------+----------------------------------------------------+"
_DOUBLE = "+===========================+===============+====================================================+"


def render_npu_smi_info(
    npus: int,
    busy: dict[int, list[NpuProcess]] | None = None,
    *,
    npu_name: str = "910B4",
    hbm_mb: int = 32768,
    version: str = "25.5.0",
) -> str:
    """`npu-smi info` as an Atlas 800I A2 prints it (910B, one chip per NPU), process table included."""
    busy = busy or {}
    lines = [
        "+" + "-" * 96 + "+",
        f"| {'npu-smi ' + version:<32} {'Version: ' + version:<62}|",
        _RULE,
        "| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|",
        "| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |",
        _DOUBLE,
    ]
    for npu in range(npus):
        used = 3400 + sum(p.memory_mb for p in busy.get(npu, []))
        lines += [
            f"| {npu:<5} {npu_name:<19} | {'OK':<13} | {'93.5':<11} {'38':<17} {'0    / 0':<21}|",
            f"| {0:<25} | {f'0000:{0xC1 + npu:02X}:00.0':<13} | {'0':<11} {'0    / 0':<17} "
            f"{f'{min(used, hbm_mb):<5}/ {hbm_mb}':<21}|",
            _DOUBLE,
        ]
    lines += [
        _RULE,
        "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |",
        _DOUBLE,
    ]
    for npu in range(npus):
        procs = busy.get(npu, [])
        if not procs:
            lines.append(f"| {'No running processes found in NPU ' + str(npu):<94} |")
        for proc in procs:
            lines.append(f"| {npu:<7} {0:<17} | {proc.pid:<13} | {proc.name:<24} | {proc.memory_mb:<23} |")
        lines.append(_DOUBLE)
    return "\n".join(lines) + "\n"


def _write_npu_smi(host: FakeHost, version: str | None = None) -> None:
    """npu-smi as a /bin/sh script (runs on the host and inside the stand-in image, which has only
    builtins): `npu-smi info` prints the table, anything else a short usage line."""
    if version is None:
        text = host.driver_version_info.read_text(encoding="utf-8")
        version = next((ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("Version=")), "25.5.0")
    table = render_npu_smi_info(host.npus, host.busy, npu_name=host.npu_name, hbm_mb=host.hbm_mb, version=version)
    quoted = "\n".join("'" + line.replace("'", "'\\''") + "'" for line in table.splitlines())
    script = (
        "#!/bin/sh\n"
        "# Fake npu-smi written by tests/fakehost.py.\n"
        'case "$1" in\n'
        "  info)\n"
        "    printf '%s\\n' \\\n" + " \\\n".join("      " + q for q in quoted.splitlines()) + "\n"
        "    ;;\n"
        "  -v|--version|version)\n"
        f"    printf '%s\\n' 'npu-smi version: {version}'\n"
        "    ;;\n"
        "  *)\n"
        "    printf '%s\\n' 'Usage: npu-smi info' >&2\n"
        "    exit 1\n"
        "    ;;\n"
        "esac\n"
    )
    # Rewritten in place (same inode), so a container that bind-mounted it sees the new table.
    host.npu_smi.write_text(script, encoding="utf-8")
    host.npu_smi.chmod(0o755)
