"""Output at 80 columns (SSH terminals, CI logs): every name and number whole, no column cut to '…'."""

from __future__ import annotations

import pytest
import typer

from ascendgen.catalog import load_catalog
from ascendgen.cli.app import app

from helpers import Run


@pytest.fixture
def narrow(run: Run, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("COLUMNS", "80")
    return run


def fits_80(text: str) -> None:
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_models_at_80_columns_show_what_matters_per_row(narrow: Run) -> None:
    result = narrow("models")
    assert result.exit_code == 0, result.stderr
    fits_80(result.stdout)
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.replace("┃", "│").split("│")[1:-1]]
        if cells:
            rows[cells[0]] = cells[1:]
    assert rows.pop("Name") == ["Params", "Heads/KV", "Context", "910B4"]  # the default server's NPUs
    assert "910B4: the NPUs each needs" in result.stdout
    for model in load_catalog().models:
        params, heads, context, npus = rows.pop(model.name)
        assert params.startswith(f"{model.params_b:g}B")
        assert heads == f"{model.num_attention_heads}/{model.num_key_value_heads}"
        assert context == str(model.max_position_embeddings)
        assert npus == str(model.npus.get("910B4", "-"))
    assert rows == {}


def test_models_on_a_wide_terminal_keep_every_column(run: Run) -> None:
    result = run("models")  # 200 columns
    header = next(line for line in result.stdout.splitlines() if "Name" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        "Name", "Hub id", "Kind", "Params", "Heads/KV", "Context", "NPUs"
    ]  # fmt: skip
    assert "Qwen/Qwen3-30B-A3B" in result.stdout and "4 x 910B4" in result.stdout


def test_plan_help_at_80_columns_shows_every_option_whole(narrow: Run) -> None:
    result = narrow("plan", "--help")
    assert result.exit_code == 0
    fits_80(result.stdout)
    command = typer.main.get_command(app).get_command(None, "plan")  # type: ignore[attr-defined]
    names = [opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")]
    assert "--gpu-memory-utilization" in names and "--generate-api-key" in names
    shown = result.stdout.split()
    assert [name for name in names if name not in shown] == []


def test_plan_at_80_columns_keeps_numbers_whole(narrow: Run) -> None:
    for model in load_catalog().models:
        if model.npus.get("910B4", 99) > 8:
            continue  # refused on one server (tests/test_plan_messages.py)
        text = narrow("plan", model.name, "--dry-run")
        assert text.exit_code == 0, text.stderr
        fits_80(text.stdout)
        data = narrow("plan", model.name, "--dry-run", "--json").json()
        lines = [line.strip() for line in text.stdout.splitlines()]
        weights = f"- {data['weights_gib_per_npu']:.1f} GiB weights - "
        assert any(line.startswith(weights) and line.endswith(" GiB runtime") for line in lines), model.name
        kv = next(line for line in lines if line.startswith("= ") and line.endswith(" GiB KV cache"))
        assert float(kv.split()[1]) == pytest.approx(data["kv_cache_gib_per_npu"], abs=0.051)
        assert f"{data['kv_cache_tokens']:,} tokens" in text.stdout
        assert f"KV per token     {data['kv_bytes_per_token']:,} B per NPU" in text.stdout
        assert f"max-model-len    {data['max_model_len']:,}:" in text.stdout


def test_instances_at_80_columns_keep_model_names_whole(narrow: Run) -> None:
    result = narrow("plan", "DeepSeek-R1-Distill-Qwen-32B", "Qwen2.5-VL-32B-Instruct", "--dry-run")
    assert result.exit_code == 0, result.stderr
    fits_80(result.stdout)
    table = result.stdout[result.stdout.index("instances on this server") :]
    assert "│ DeepSeek-R1-Distill-Qwen-32B │ 0-3  │ 4  │ 8000 │ 131,072" in table
    # Qwen2.5-VL-32B-Instruct on the default image (v0.23.0, reserves of images from v0.15.0rc1): 29.49 x 0.92 =
    # 27.1308 GiB - 15.5996 weights - 3.6 activation (0.5 + 3.1 vision) - 0.55 runtime (0.3 + 0.25 TP group) =
    # 7.3812 GiB / (65,536 B x 128) = 944 blocks = 120,832 tokens < 128,000; 1% margin: 10 blocks -> 119,552
    assert "│ Qwen2.5-VL-32B-Instruct      │ 4-7  │ 4  │ 8001 │ 119,552" in table


@pytest.mark.parametrize("server", ["atlas-800i-a2", "atlas-300i-duo", "atlas-800i-a3"])
def test_models_fit_at_80_columns_keeps_names_and_numbers_whole(narrow: Run, server: str) -> None:
    result = narrow("models", "--fit", "--server", server)
    assert result.exit_code == 0, result.stderr
    fits_80(result.stdout)
    shown = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.replace("┃", "│").split("│")[1:-1]]
        if cells:
            shown[cells[0]] = cells[1:]
    assert shown.pop("Model") == ["Fits", "NPUs", "Max len", "Requests"]
    for row in narrow("models", "--fit", "--server", server, "--json").json():
        fits, npus, length, requests = shown.pop(row["name"])
        assert fits == {"yes": "yes", "shorter-context": "shorter", "no": "no"}[row["fits"]]
        if row["fits"] == "no":
            needs = ">64" if row["summary"] == "does not fit (needs more than 64 NPUs)" else row["npus"]
            assert (npus, length, requests) == (f"needs {needs}" if needs else "-", "-", "-")
        else:
            assert (npus, length, requests) == (
                str(row["npus"]), f"{row['max_model_len']:,}", f"{row['max_concurrency']:g}"
            )  # fmt: skip
    assert shown == {}
