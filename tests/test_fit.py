"""`ascendgen models --fit`: every catalog model on one server, as `ascendgen plan` would plan it there.

Numbers by hand, with the shipped hardware and the default image v0.23.0.post1 (vLLM 0.23: gpu_memory_utilization
0.92); 1 GiB = 2**30 B, KV blocks of 128 tokens:
    910B4: 29.49 GiB visible x 0.92 = 27.1308 GiB usable; reserves 1.0 activation + 0.5 runtime + 0.25 per HCCL group.
    310P3: 42.67 x 0.92 = 39.2564 GiB usable; reserves 1.0 + 1.0 + 0.25 per group; KV budget halved (v0.18.0rc1 on).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ascendgen.catalog import load_catalog

from helpers import Result, Run

SAMPLES = Path(__file__).parent / "fixtures" / "npu-smi"  # real `npu-smi info` outputs (README.md there)
DUO_CARD = (SAMPLES / "atlas-300i-duo.txt").read_text(encoding="utf-8")
A3_DIES = (SAMPLES / "a3-two-npus.txt").read_text(encoding="utf-8")


def a3_node() -> str:
    """All 16 dies of an 8-NPU A3 node, in the layout of A3_DIES."""
    rows = []
    for die in range(16):
        rows.append(f"| {die // 2:<5} {'Ascend910':<19} | {'OK':<13} | {'178.5':<11} {'36':<17} {'0    / 0':<21}|")
        rows.append(
            f"| {die % 2:<5} {die:<19} | {'0000:9D:00.0':<13} | {'0':<11} {'0    / 0':<17} {'3416 / 65536':<21}|"
        )
    return A3_DIES.split("| 0     Ascend910")[0] + "\n".join(rows) + "\n"


def rows(result: Result) -> dict[str, dict[str, object]]:
    assert result.exit_code == 0, result.stderr
    return {row["name"]: row for row in result.json()}


def test_fit_json_has_one_verdict_per_catalog_model(run: Run) -> None:
    fits = run("models", "--fit", "--server", "atlas-800i-a2", "--json").json()
    assert [row["name"] for row in fits] == [m.name for m in load_catalog().models]
    for row in fits:
        assert {"name", "fits", "npus", "max_model_len", "max_concurrency"} <= set(row)
        if row["fits"] == "no":
            assert row["max_model_len"] is None and row["max_concurrency"] is None
        else:
            assert row["fits"] in ("yes", "shorter-context") and 1 <= row["npus"] <= 8
            assert (row["max_model_len"] == row["context"]) == (row["fits"] == "yes")
    assert {row["fits"] for row in fits} == {"yes", "shorter-context", "no"}


def test_fit_rows_by_hand_on_the_default_server(run: Run) -> None:
    fits = rows(run("models", "--fit", "--server", "atlas-800i-a2", "--json"))
    # Qwen3-8B on v0.23.0.post1 (reserves of images from v0.15.0rc1: activation 0.5, runtime 0.3):
    # 8.2e9 x 2 B = 15.2737 GiB; 27.1308 - 15.2737 - 0.5 - 0.3 = 11.0571 GiB of KV cache;
    # / (2 x 36 layers x 8 KV heads x 128 x 2 B = 147,456 B x 128) = 629.0 -> 629 blocks = 80,512 tokens;
    # its 40,960-token context fits (no margin needed): 80,512 / 40,960 = 1.97 requests at once
    assert fits["Qwen3-8B"] | {"image": None} == {
        "name": "Qwen3-8B",
        "fits": "yes",
        "npus": 1,
        "servers": None,
        "max_model_len": 40_960,
        "max_concurrency": 1.97,
        "context": 40_960,
        "full_context_npus": None,
        "image": None,
        "summary": "runs",
    }
    assert fits["Qwen3-8B"]["image"] == "quay.io/ascend/vllm-ascend:v0.23.0.post1"
    # Qwen3-235B-A22B-W8A8: embeddings 2 x 151,936 x 4,096 = 1,244,659,712 params in bf16, the other
    # 233,755,340,288 in int8: 236,244,659,712 B = 220.02 GiB. TP 8: 27.50 GiB per NPU, more than 27.13 usable.
    # TP 16: 13.75 + 1.0 + 0.5 + 2 x 0.25 (TP and EP groups) = 15.75 -> 11.38 GiB of KV cache, and 8,192 tokens
    # need 8,192 x 48,128 B (94 layers x 1 KV head) = 0.37 GiB: 16 NPUs = 2 servers
    assert fits["Qwen3-235B-A22B-W8A8"] | {"image": None} == {
        "name": "Qwen3-235B-A22B-W8A8",
        "fits": "no",
        "npus": 16,
        "servers": 2,
        "max_model_len": None,
        "max_concurrency": None,
        "context": 40_960,
        "full_context_npus": None,
        "image": None,
        "summary": "does not fit (needs 16 NPUs = 2 x atlas-800i-a2)",
    }
    assert fits["Qwen3-Coder-480B-A35B-Instruct"]["summary"] == "does not fit (needs more than 64 NPUs)"
    assert fits["Qwen3-Coder-480B-A35B-Instruct"]["npus"] is None


def test_fit_rows_by_hand_on_the_duo(run: Run) -> None:
    fits = rows(run("models", "--fit", "--server", "atlas-300i-duo", "--json"))
    # Qwen3-14B (bf16, served as float16): 14.8e9 x 2 B = 27.5671 GiB; 310P3 planned at 42.67 GiB x 0.92 =
    # 39.2564 usable; TP 1: (39.2564 - 27.5671 - 1.0 - 1.0) x 0.5 = 4.8447 GiB; / (2 x 40 x 8 x 128 x 2 B =
    # 163,840 B x 128) = 248.0 -> 248 blocks = 31,744 tokens < 40,960; 1% margin: ceil(2.48) = 3 blocks kept
    # back -> 245 blocks = 31,360 tokens (31,744 / 31,360 = 1.01 requests).
    # TP 2: (39.2564 - 13.7836 - 1.0 - 1.25) x 0.5 = 11.61 GiB; 40,960 x 81,920 B = 3.13 GiB: the full context
    assert (fits["Qwen3-14B"]["fits"], fits["Qwen3-14B"]["npus"], fits["Qwen3-14B"]["max_model_len"]) == (
        "shorter-context",
        1,
        31_360,
    )
    assert fits["Qwen3-14B"]["max_concurrency"] == 1.01 and fits["Qwen3-14B"]["full_context_npus"] == 2
    assert fits["Qwen3-14B"]["summary"] == "runs with shorter context (31,360 tokens; full context on 2 NPUs)"
    assert fits["Qwen3-14B"]["image"] == "quay.io/ascend/vllm-ascend:v0.23.0.post1-310p"
    # the W8A8 235B: 220.02 GiB / 8 = 27.50 GiB per chip fits 39.78 usable only from 8 chips: 4 cards
    assert fits["Qwen3-235B-A22B-W8A8"]["summary"] == "does not fit (needs 8 NPUs = 4 x atlas-300i-duo)"


def test_fit_table_names_every_model_with_its_verdict(run: Run) -> None:
    result = run("models", "--fit", "--server", "atlas-300i-duo")
    assert result.exit_code == 0, result.stderr
    assert "what fits on atlas-300i-duo (2 x 310P3)" in result.stdout
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 4}
    assert [c.strip() for c in lines["Qwen3-14B"].split("│")[2:6]] == [
        "runs with shorter context (31,360 tokens; full context on 2 NPUs)", "1", "31,360", "1.01"
    ]  # fmt: skip
    assert [c.strip() for c in lines["Qwen3-235B-A22B-W8A8"].split("│")[2:6]] == [
        "does not fit (needs 8 NPUs = 4 x atlas-300i-duo)", "-", "-", "-"
    ]  # fmt: skip
    assert set(lines) == {m.name for m in load_catalog().models}


def test_fit_takes_an_npu_type_like_plan(run: Run) -> None:
    by_type = run("models", "--fit", "--npu-type", "910C", "--json")
    by_server = run("models", "--fit", "--server", "atlas-800i-a3", "--json")
    assert by_type.json() == by_server.json()
    assert all(row["image"] is None or row["image"].endswith("-a3") for row in by_type.json())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--server", "atlas-800i-a2"), "--server, --npu-type and --hardware choose the server for --fit: add --fit"),
        (("--fit", "--server", "atlas-800i"), "unknown server profile 'atlas-800i'"),
        (("--fit", "--npu-type", "910X"), "unknown NPU type '910X'"),
    ],
)
def test_fit_bad_input_is_one_line(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run("models", *args)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1


# ---- this machine's NPUs, from npu-smi ---------------------------------------------------------------------


def fake_npu_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, *, code: int = 0) -> None:
    """An npu-smi first on PATH that prints `text` for `npu-smi info` (and exits `code`)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "info.txt").write_text(text, encoding="utf-8")
    script = bin_dir / "npu-smi"
    script.write_text(f'#!/bin/sh\n[ "$1" = info ] || exit 1\ncat "{bin_dir}/info.txt"\nexit {code}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr("ascendgen.npusmi.NPU_SMI", str(tmp_path / "no-npu-smi"))


def test_fit_reads_a_300i_duo_from_npu_smi(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npu_smi(tmp_path, monkeypatch, DUO_CARD)
    host = run("models", "--fit", "--json")
    assert host.stderr == ""
    assert host.json() == run("models", "--fit", "--server", "atlas-300i-duo", "--json").json()
    table = run("models", "--fit")
    assert "what fits on atlas-300i-duo (2 x 310P3)" in table.stdout


def test_fit_reads_four_duo_cards_as_this_host(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cards = DUO_CARD + "".join(DUO_CARD.split("+===", 1)[1].split("\n", 1)[1] for _ in range(3))
    fake_npu_smi(tmp_path, monkeypatch, cards)
    host = rows(run("models", "--fit", "--json"))
    # 8 chips: the W8A8 235B at TP 8, 27.50 GiB of weights per chip; (39.2564 - 27.5027 - 1.0 - 1.5) x 0.5 = 4.63 GiB,
    # 806 blocks of 128 x 48,128 B: more than its 40,960-token context
    assert host["Qwen3-235B-A22B-W8A8"]["fits"] == "yes" and host["Qwen3-235B-A22B-W8A8"]["npus"] == 8
    assert "what fits on this-host (8 x 310P3)" in run("models", "--fit").stdout


def test_fit_reads_an_a3_node_from_npu_smi(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npu_smi(tmp_path, monkeypatch, a3_node())
    assert "what fits on atlas-800i-a3 (16 x 910C)" in run("models", "--fit").stdout


def test_fit_refuses_an_npu_it_does_not_know(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npu_smi(tmp_path, monkeypatch, A3_DIES.replace("Ascend910  ", "Ascend950PR"))
    result = run("models", "--fit")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: npu-smi names this machine's NPUs 'Ascend950PR', which is not a known NPU")
    assert "pass --npu-type or --server" in result.stderr


def test_fit_without_a_working_npu_smi_shows_the_default_server(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_npu_smi(tmp_path, monkeypatch, "dcmi module initialize failed. ret is -8005\n", code=1)
    failed = run("models", "--fit", "--json")
    assert failed.exit_code == 0
    failure = "info` failed (exit 1: dcmi module initialize failed. ret is -8005)"  # npu-smi's last line, as doctor
    assert failed.stderr.startswith("`") and f"{failure}: showing the default server atlas-800i-a2" in failed.stderr
    assert json.loads(failed.stdout) == run("models", "--fit", "--server", "atlas-800i-a2", "--json").json()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    none = run("models", "--fit")
    assert none.stderr == (
        "no npu-smi on this machine: showing the default server atlas-800i-a2; choose one with --server or --npu-type\n"
    )
    assert "what fits on atlas-800i-a2 (8 x 910B4)" in none.stdout


def test_a_model_refused_for_another_reason_than_memory_says_why(run: Run, write: Callable[[str, str], Path]) -> None:
    # without serve_dtype, the 310P refuses bfloat16 checkpoints: the planner's reason, not an NPU count
    hardware = write("hw.yaml", "platforms:\n  - name: 310p\n    serve_dtype: null\n")
    fits = rows(run("models", "--fit", "--server", "atlas-300i-duo", "--hardware", str(hardware), "--json"))
    assert fits["Qwen3-8B"]["fits"] == "no" and fits["Qwen3-8B"]["npus"] is None
    assert (
        fits["Qwen3-8B"]["summary"] == "Qwen3-8B is bfloat16, which 310P3 (310p) does not run; it needs a float16 build"
    )
