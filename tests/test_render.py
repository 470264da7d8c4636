"""The YAML quoting filter and the rendered file: every outside value reads back exactly."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import jinja2
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from test_planner import plan

from ascendgen import __version__, render
from ascendgen.envfile import EnvRef
from ascendgen.errors import AscendgenError
from ascendgen.planner import Plan
from ascendgen.render import (
    build_service,
    check_round_trip,
    compose_unescaped,
    flag_lines,
    header_lines,
    jinja_environment,
    memory_label,
    plan_note,
    read_generated,
    render_compose,
    render_services,
    service_name,
    unique_service_names,
    with_header,
    yaml_quote,
    yaml_quote_folded,
)


def read_back(quoted: str) -> str:
    # docker compose turns `$$` back into `$` when it interpolates; do the same here
    value = yaml.safe_load(f"key: {quoted}\nafter: 1\n")
    assert value["after"] == 1, "the quoted value must not swallow the next key"
    return str(value["key"]).replace("$$", "$")


def test_yaml_special_strings_read_back() -> None:
    for text in [
        "Qwen/Qwen3-8B",
        "yes",
        "no",
        "null",
        "~",
        "0-3",
        "1e3",
        "0x1F",
        "key: value",
        "- item",
        "#comment",
        "a # b",
        "{a: 1}",
        "[1, 2]",
        "*alias",
        "&anchor",
        "!tag",
        "|",
        ">",
        '"quoted"',
        "'single'",
        "back\\slash",
        "new\nline",
        "tab\tchar",
        "${HOME}",
        "$$",
        "中文模型",
        "\u2028line sep",
        "\x00nul",
        "",
    ]:
        assert read_back(yaml_quote(text)) == text, text


@given(st.text())
def test_any_text_reads_back(text: str) -> None:
    assert read_back(yaml_quote(text)) == text


def test_dollar_is_doubled_for_compose() -> None:
    assert yaml_quote("a$b") == '"a$$b"'


# ---- the round-trip check every template's output passes (render.check_round_trip) ---------------------------


@dataclass(frozen=True)
class Planned:
    name: str
    values: dict[str, object]

    def planned(self) -> dict[str, object]:
        return self.values


WRITTEN = """\
services:
  api:
    image: "img:1"
    command: ["--price", "$$5"]
    environment:
      KEY: "${KEY:?set KEY in .env}"
"""


def test_what_was_meant_reads_back() -> None:
    meant = Planned("api", {"image": "img:1", "command": ["--price", "$5"], "devices": [], "labels": {},
                            "environment": {"KEY": "${KEY:?set KEY in .env}"}})  # fmt: skip
    parsed = check_round_trip(WRITTEN, [meant])
    assert parsed["services"]["api"]["image"] == "img:1"


@pytest.mark.parametrize(
    "values",
    [
        {"image": "img:2"},
        {"command": ["--price", "$$5"]},  # `$$` is one `$` once compose has read it
        {"devices": ["/dev/davinci0"]},  # left out of the file, but planned
        {"environment": {"KEY": "other"}},
    ],
)
def test_what_was_not_meant_is_an_internal_error(values: dict[str, object]) -> None:
    with pytest.raises(AscendgenError, match=r"internal error: rendered \w+ of api does not read back as planned"):
        check_round_trip(WRITTEN, [Planned("api", values)])


WRITTEN_PARTIAL = """\
services:
  api:
    image: "img:1"
"""


def test_a_key_the_template_leaves_out_reads_as_empty() -> None:
    """An empty list or mapping (or None) planned for a key the file leaves out is what compose reads too; an
    empty string is not."""
    meant = Planned("api", {"image": "img:1", "devices": [], "labels": {}, "healthcheck": None})
    assert check_round_trip(WRITTEN_PARTIAL, [meant])["services"]["api"] == {"image": "img:1"}
    with pytest.raises(AscendgenError, match="rendered command of api does not read back as planned"):
        check_round_trip(WRITTEN_PARTIAL, [Planned("api", {"command": ""})])


def test_compose_unescapes_every_string_inside_lists_and_mappings() -> None:
    assert compose_unescaped({"a": ["$$x", {"b": "$$$$"}], "n": 3}) == {"a": ["$x", {"b": "$$"}], "n": 3}
    assert compose_unescaped(None) is None and compose_unescaped("$x") == "$x"


# ---- the quoting filters, exactly ---------------------------------------------------------------------------


def test_escapes_are_yaml_double_quoted_escapes() -> None:
    assert yaml_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert yaml_quote("1\n2\r3\t4") == '"1\\n2\\r3\\t4"'
    assert yaml_quote("\x85\u2028\u2029\ufeff") == '"\\N\\L\\P\\ufeff"'
    assert yaml_quote("\x00\x1b\x7f\x9f") == '"\\x00\\x1b\\x7f\\x9f"'
    assert yaml_quote("plain é 中") == '"plain é 中"'
    assert yaml_quote(8000) == '"8000"'
    # the one value compose interpolates (and refuses to start without): its `$` is not doubled
    assert yaml_quote(EnvRef("VLLM_API_KEY")) == '"${VLLM_API_KEY:?set VLLM_API_KEY in .env}"'


def test_folded_lines_read_back_as_one_line_joined_by_spaces() -> None:
    folded = yaml_quote_folded(["ray start &&", 'exec vllm serve "$HOME"'], "    ")
    assert folded == '"ray start && \\\n    exec vllm serve \\"$$HOME\\""'
    assert yaml.safe_load(f"key: {folded}\n")["key"] == 'ray start && exec vllm serve "$$HOME"'
    assert yaml_quote_folded(["one"], "  ") == '"one"'


def test_the_template_environment_is_strict_and_does_not_escape_html() -> None:
    env = jinja_environment()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing }}").render()
    assert env.from_string("{{ x | q }} {{ y }}").render(x="<a&b>", y="'\"") == '"<a&b>" \'"'
    assert env.from_string("a\n").render() == "a\n"  # a template keeps its last line break
    assert env.get_template("compose.yml.j2").filename.endswith("templates/compose.yml.j2")


# ---- the rendered file, field by field ----------------------------------------------------------------------


def qwen3_8b(**options: object) -> Plan:
    return plan("Qwen3-8B", **options)  # type: ignore[no-any-return]


COMMAND = ["serve", "/models/Qwen/Qwen3-8B", "--served-model-name", "Qwen/Qwen3-8B", "--host", "127.0.0.1", "--port",
           "8000", "--max-model-len", "40960"]  # fmt: skip
HEALTH = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=5)"
# tests/test_planner.py::test_qwen3_8b_on_one_910b4: usable 29.49 x 0.9 = 26.541 GiB, weights 15.2737 GiB,
# reserve 1.0 activation + 0.5 runtime, KV 9.7673 GiB, 147,456 B per token, 71,040 tokens
MEMORY_LABEL = ("gpu_memory_utilization=0.9,usable_gib=26.54,weights_gib=15.27,reserve_gib=1.50,kv_budget_factor=1,"
                "kv_cache_gib=9.77,kv_bytes_per_token=147456")  # fmt: skip


def test_one_service_as_compose_reads_it() -> None:
    p = qwen3_8b(require_api_key=True, host="127.0.0.1")
    text = render_compose([p], regenerate="ascendgen plan Qwen3-8B --api-key-env")
    ((name, service),) = yaml.safe_load(text)["services"].items()
    assert name == "vllm-qwen3-8b"
    assert service == {
        "image": "quay.io/ascend/vllm-ascend:v0.9.2rc1",
        "container_name": "vllm-qwen3-8b",
        "restart": "unless-stopped",
        "init": True,
        "network_mode": "host",
        "shm_size": "1g",
        "devices": ["/dev/davinci_manager", "/dev/hisi_hdc", "/dev/devmm_svm", "/dev/davinci0"],
        "volumes": ["/usr/local/dcmi:/usr/local/dcmi:ro", "/root/.cache:/root/.cache", "/models:/models:ro"],
        "environment": {"VLLM_USE_MODELSCOPE": "True", "VLLM_API_KEY": "${VLLM_API_KEY:?set VLLM_API_KEY in .env}"},
        "labels": {
            "io.ascendgen.model": "Qwen3-8B",
            "io.ascendgen.served-model-name": "Qwen/Qwen3-8B",
            "io.ascendgen.port": "8000",
            "io.ascendgen.npus": "0",
            "io.ascendgen.tensor-parallel-size": "1",
            "io.ascendgen.model-config": "num_attention_heads=32,num_key_value_heads=8,num_hidden_layers=36",
            "io.ascendgen.npu-type": "910B4",
            "io.ascendgen.kv-cache-tokens": "71040",
            "io.ascendgen.memory-per-npu": MEMORY_LABEL,
        },
        "entrypoint": ["vllm"],
        "command": COMMAND,
        "healthcheck": {
            "test": ["CMD", "python3", "-c", HEALTH],
            "interval": "30s",
            "timeout": "10s",
            "retries": 3,
            "start_period": "30m",
        },
    }
    # one flag (with its value) per line, as the seeds write it
    assert '      "serve", "/models/Qwen/Qwen3-8B",\n      "--served-model-name", "Qwen/Qwen3-8B",\n' in text


def test_memory_label_at_tp_2_by_hand() -> None:
    # weights 15.2737 / 2 = 7.63685 GiB; reserve 1.0 activation + 0.5 runtime + 0.25 the TP group's HCCL = 1.75;
    # KV 26.541 - 7.63685 - 1.75 = 17.15415 GiB; per token 2 x 36 layers x 4 KV heads x 128 x 2 B = 73,728 B
    p = qwen3_8b(tp=2, npus=(4, 5))
    assert memory_label(p) == (
        "gpu_memory_utilization=0.9,usable_gib=26.54,weights_gib=7.64,reserve_gib=1.75,kv_budget_factor=1,"
        "kv_cache_gib=17.15,kv_bytes_per_token=73728"
    )
    assert dict(build_service(p).labels)["io.ascendgen.tensor-parallel-size"] == "2"
    # 17.15415 GiB / (73,728 B x 128) = 1,951.x blocks -> 249,728 tokens
    assert plan_note(p) == (
        "Qwen3-8B: TP 2 on 910B4 NPUs 4-5, port 8000, weights 7.6 GiB + KV cache 17.2 GiB per NPU (249,728 tokens), "
        "max-model-len 40,960"
    )


def test_a_data_parallel_plan_says_so_in_its_note() -> None:
    note = plan_note(qwen3_8b(dp=2))
    assert note.startswith("Qwen3-8B: TP 1 x DP 2 on 910B4 NPUs 0-1, port 8000, ")


def test_the_header_says_how_to_regenerate_and_hashes_the_body() -> None:
    p = qwen3_8b()
    text = render_compose([p], regenerate="ascendgen plan Qwen3-8B\n--x")
    lines = text.split("\n")
    assert lines[0] == f"# Generated by ascendgen {__version__}. Keep local changes in compose.override.yml, not here."
    assert lines[1] == "# Regenerate (in this directory): ascendgen plan Qwen3-8B\\n--x"  # kept on one line
    assert lines[2] == (
        "# Qwen3-8B: TP 1 on 910B4 NPUs 0, port 8000, weights 15.3 GiB + KV cache 9.8 GiB per NPU (71,040 tokens), "
        "max-model-len 40,960"
    )
    body = "\n".join(lines[4:])
    assert lines[3] == f"# Content hash: sha256:{hashlib.sha256(body.encode()).hexdigest()}"
    assert body.startswith("services:\n") and body.endswith("\n") and not body.endswith("\n\n")
    parent = header_lines("ascendgen plan X", ["a\nb"], in_parent=True)
    assert parent[1:] == ["# Regenerate (in the parent directory): ascendgen plan X", "# a\\nb"]
    digest = hashlib.sha256("é\n".encode()).hexdigest()
    assert with_header(["# h"], "é\n") == f"# h\n# Content hash: sha256:{digest}\né\n"


def test_a_file_tells_its_recipe_its_hash_and_a_hand_edit() -> None:
    text = render_compose([qwen3_8b()], regenerate="ascendgen plan Qwen3-8B")
    read = read_generated(text)
    assert (read.regenerate, read.by_ascendgen, read.edited_by_hand, read.in_parent) == (
        "ascendgen plan Qwen3-8B", True, False, False
    )  # fmt: skip
    assert read.body == text.split("\n", 4)[4]
    edited = read_generated(text.replace("shm_size: 1g", "shm_size: 2g"))
    assert edited.by_ascendgen and edited.edited_by_hand
    foreign = read_generated("services:\n  x:\n    image: busybox\n")
    assert (foreign.by_ascendgen, foreign.regenerate, foreign.edited_by_hand) == (False, None, False)
    # a comment after the first non-comment line is not a header
    late = read_generated("services: {}\n# Content hash: sha256:abc\n")
    assert not late.by_ascendgen
    parent = read_generated("# Regenerate (in the parent directory): ascendgen plan X --node a:b\n"
                            "# Content hash: sha256:00 \nbody\n")  # fmt: skip
    assert (parent.regenerate, parent.in_parent, parent.recorded_hash, parent.body) == (
        "ascendgen plan X --node a:b", True, "00", "body\n"
    )  # fmt: skip


def test_a_header_without_a_hash_still_gives_its_recipe() -> None:
    text = "# Regenerate (in this directory): ascendgen plan Qwen3-8B --served-name 'a: b'\nx: 1\n"
    read = read_generated(text)
    assert (read.regenerate, read.recorded_hash, read.in_parent, read.by_ascendgen, read.edited_by_hand) == (
        "ascendgen plan Qwen3-8B --served-name 'a: b'", None, False, False, False
    )  # fmt: skip
    assert read.body == text
    assert read_generated("x: 1\n").in_parent is False
    # a node file's recipe line without a hash: still run in the parent directory
    node = read_generated("# Regenerate (in the parent directory): ascendgen plan X\nx: 1\n")
    assert (node.regenerate, node.in_parent, node.by_ascendgen) == ("ascendgen plan X", True, False)


def test_service_names_follow_the_model_and_stay_apart() -> None:
    assert service_name(plan("Qwen2.5-VL-32B-Instruct")) == "vllm-qwen2-5-vl-32b-instruct"
    odd = qwen3_8b()
    odd = replace(odd, model=replace(odd.model, name="--My__Model.."))
    assert service_name(odd) == "vllm-my-model"
    assert unique_service_names([qwen3_8b(), qwen3_8b(), qwen3_8b(), plan("Qwen3-4B")]) == [
        "vllm-qwen3-8b", "vllm-qwen3-8b-2", "vllm-qwen3-8b-3", "vllm-qwen3-4b"
    ]  # fmt: skip


def test_several_plans_render_as_several_services() -> None:
    first, second = qwen3_8b(npus=(0,), port=8001), qwen3_8b(npus=(1,), port=8002)
    text = render_compose([first, second], regenerate="ascendgen plan -f ascendgen.yaml")
    services = yaml.safe_load(text)["services"]
    assert list(services) == ["vllm-qwen3-8b", "vllm-qwen3-8b-2"]
    assert [s["container_name"] for s in services.values()] == ["vllm-qwen3-8b", "vllm-qwen3-8b-2"]
    assert [s["labels"]["io.ascendgen.port"] for s in services.values()] == ["8001", "8002"]
    assert [s["devices"][-1] for s in services.values()] == ["/dev/davinci0", "/dev/davinci1"]
    assert text.split("\n")[2].startswith("# Qwen3-8B: TP 1 on 910B4 NPUs 0, port 8001")
    assert text.split("\n")[3].startswith("# Qwen3-8B: TP 1 on 910B4 NPUs 1, port 8002")


def test_flags_are_grouped_one_per_line_with_their_values() -> None:
    assert flag_lines(["--a", "1", "2", "--b", "--c", "x"]) == (("--a", "1", "2"), ("--b",), ("--c", "x"))
    assert flag_lines(["value", "more", "--a"]) == (("value", "more"), ("--a",))  # a leading value: its own line
    assert flag_lines([]) == ()


def test_a_shell_command_is_one_string_and_other_commands_a_list() -> None:
    service = build_service(qwen3_8b())
    assert service.command == ["serve", "/models/Qwen/Qwen3-8B", "--served-model-name", "Qwen/Qwen3-8B", "--port",
                               "8000", "--max-model-len", "40960"]  # fmt: skip
    shell = replace(service, entrypoint=("sh", "-c"), shell_lines=("ray start &&", "exec vllm serve m"))
    assert shell.command == ["ray start && exec vllm serve m"]
    (parsed,) = yaml.safe_load(render_services([shell]))["services"].values()
    assert parsed["entrypoint"] == ["sh", "-c"] and parsed["command"] == ["ray start && exec vllm serve m"]
    assert (
        "healthcheck"
        not in yaml.safe_load(render_services([replace(service, healthcheck=None)]))["services"][service.name]
    )


def test_a_template_that_does_not_read_back_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The round-trip check is what stands between a quoting bug and a file that means something else."""
    template = (
        "services:\n  x:\n    image: {{ services[0].image }}\n    devices: []\n    volumes: []\n    command: []\n"
        "    environment: {}\n    labels: {}\n"
    )
    env = jinja2.Environment(loader=jinja2.DictLoader({"compose.yml.j2": template}))
    monkeypatch.setattr(render, "jinja_environment", lambda: env)
    service = replace(build_service(qwen3_8b()), name="x", container_name="", devices=(), volumes=(), environment=(),
                      labels=(), command_lines=(), image="x #y")  # fmt: skip
    with pytest.raises(AscendgenError, match="internal error: rendered image of x does not read back as planned"):
        render_services([service])


def test_node_services_get_the_multinode_mounts_and_labels_list_every_npu() -> None:
    p = qwen3_8b(tp=2, npus=(4, 5))
    tools = ("/usr/local/Ascend/driver/tools/hccn_tool", "/etc/hccn.conf")
    p = replace(p, platform=replace(p.platform, multinode_mounts=tools))
    single = build_service(p)
    assert dict(single.labels)["io.ascendgen.npus"] == "4,5"
    assert single.devices[-2:] == ("/dev/davinci4", "/dev/davinci5")
    hccn = "/usr/local/Ascend/driver/tools/hccn_tool:/usr/local/Ascend/driver/tools/hccn_tool:ro"
    assert hccn not in single.volumes
    node = build_service(p, multinode=True)
    assert node.volumes == ("/usr/local/dcmi:/usr/local/dcmi:ro", hccn, "/etc/hccn.conf:/etc/hccn.conf:ro",
                            "/root/.cache:/root/.cache", "/models:/models:ro")  # fmt: skip
    assert build_service(p, "mine").name == build_service(p, "mine").container_name == "mine"


def test_a_dollar_in_a_value_passes_the_round_trip_check() -> None:
    p = qwen3_8b()
    odd = replace(p, model=replace(p.model, served_name="a$b $$c"))
    text = render_compose([odd], regenerate="ascendgen plan Qwen3-8B")
    labels = yaml.safe_load(text)["services"]["vllm-qwen3-8b"]["labels"]
    assert labels["io.ascendgen.served-model-name"] == "a$$b $$$$c"  # compose reads it back as a$b $$c


@pytest.mark.parametrize(("name", "task"), [("bge-m3", "embed"), ("Qwen3-Reranker-0.6B", "rerank"), ("Qwen3-8B", None)])
def test_a_pooling_model_is_labelled_with_its_task(name: str, task: str | None) -> None:
    """`smoke` and `up`'s curl hint read the label to ask an embedding model or a reranker the right way; a chat
    model has none (its files stay as they were)."""
    ((_, service),) = yaml.safe_load(render_compose([plan(name)], regenerate="x"))["services"].items()
    assert service["labels"].get("io.ascendgen.task") == task
