"""The one request schema: flags, deployment files and recipes all validate through PlanRequest, and one flag
table drives the recipe writer and reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascendgen.errors import InputError
from ascendgen.records import validate
from ascendgen.request import (
    PLAN_FLAGS,
    InstanceRequest,
    PlanRequest,
    flag_for,
    recipe_command,
    request_from_flags,
    request_from_recipe,
)


def words(command: str) -> list[str]:
    return command.split()[2:]  # after `ascendgen plan`


@pytest.mark.parametrize(
    ("given", "recipe"),
    [
        ({}, "ascendgen plan Qwen3-8B"),
        ({"tp": 2, "npus": "4-5"}, "ascendgen plan Qwen3-8B --tp 2 --npus 4-5"),
        ({"npus": "7,5,6"}, "ascendgen plan Qwen3-8B --npus 5-7"),
        ({"port": 8001, "served_name": "q"}, "ascendgen plan Qwen3-8B --port 8001 --served-name q"),
        ({"port": 8000}, "ascendgen plan Qwen3-8B"),  # the default is left out
        ({"gpu_memory_utilization": 0.85}, "ascendgen plan Qwen3-8B --gpu-memory-utilization 0.85"),
        ({"models_dir": "/models"}, "ascendgen plan Qwen3-8B"),
        (
            {"models_dir": "/data/m", "host": "127.0.0.1"},
            "ascendgen plan Qwen3-8B --models-dir /data/m --host 127.0.0.1",
        ),
        ({"api_key_env": True}, "ascendgen plan Qwen3-8B --api-key-env"),
        (
            {"nodes": ["10.0.0.1:eth0", "10.0.0.2:eth1"], "layout": "tp-pp", "image": "v0.11.0"},
            "ascendgen plan Qwen3-8B --image v0.11.0 --node 10.0.0.1:eth0 --node 10.0.0.2:eth1 --layout tp-pp",
        ),
    ],
)
def test_one_model_writes_the_canonical_recipe(given: dict[str, object], recipe: str) -> None:
    request = request_from_flags(["Qwen3-8B"], given)
    assert recipe_command(request) == recipe
    # read back, it writes itself again (what `check` relies on)
    assert recipe_command(request_from_recipe(words(recipe), Path("/"))) == recipe


def test_per_instance_flags_come_first_and_port_is_the_first_port_with_several_models() -> None:
    request = request_from_flags(["Qwen3-8B", "Qwen3-14B"], {"port": 9000, "server": "atlas-800i-a2"})
    assert request.first_port == 9000
    assert [i.port for i in request.instances] == [None, None]
    assert recipe_command(request) == "ascendgen plan Qwen3-8B Qwen3-14B --server atlas-800i-a2 --port 9000"
    assert request_from_recipe(words(recipe_command(request)), Path("/")) == request


def test_every_flag_of_the_table_reads_back_as_written() -> None:
    """A flag added to the table is written and read through it: each one set to a non-default value."""
    values: dict[str, object] = {
        "tp": 4, "npus": "0-3", "gpu_memory_utilization": 0.8, "max_model_len": 4096, "port": 8100,
        "served_name": "chat", "server": "atlas-800i-a2", "npu_type": "910B4", "image": "v0.11.0",
        "models_dir": "/srv/models", "host": "127.0.0.1", "nodes": ["10.0.0.1:eth0", "10.0.0.2:eth0"],
        "layout": "tp", "api_key_env": True, "catalogs": ["/etc/ascendgen/extra.yaml"], "hardware": ["/hw.yaml"],
        "dp": 2,
    }  # fmt: skip
    # what cannot go together with the above (--fill with --dp, --gateway with --node), in a second request
    others: dict[str, object] = {"fill": True, "gateway": True, "api_key_env": True, "port": 8100}
    fields = {flag.field for flag in PLAN_FLAGS} - {"first_port"}
    assert fields == set(values) | set(others), "every flag in PLAN_FLAGS needs a value in this test"
    for given in (values, others):
        request = request_from_flags(["Qwen3-8B"], given)
        command = recipe_command(request)
        for flag in PLAN_FLAGS:
            if flag.field in given:
                assert flag.option in command.split(), flag.option
        assert request_from_recipe(words(command), Path("/")) == request


def test_recipe_paths_are_relative_to_the_compose_file(tmp_path: Path) -> None:
    catalog = tmp_path / "catalogs" / "mine.yaml"
    request = request_from_flags(["Qwen3-8B"], {"catalogs": [catalog]})
    command = recipe_command(request, relative_to=tmp_path / "deploy")
    assert command == "ascendgen plan Qwen3-8B --catalog ../catalogs/mine.yaml"
    back = request_from_recipe(words(command), tmp_path / "deploy")
    assert Path(back.catalogs[0]).resolve() == catalog


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Qwen3-8B", "--tpp", "2"], "unknown option --tpp"),
        (["Qwen3-8B", "--tp"], "--tp needs a value"),
        (["Qwen3-8B", "--tp", "two"], "--tp 'two': not a number"),
        (["Qwen3-8B", "--api-key-env=yes"], "--api-key-env takes no value"),
        (["Qwen3-8B", "--tp", "0"], "--tp 0: Input should be greater than 0"),
    ],
)
def test_bad_recipes_are_refused_in_one_line(args: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        request_from_recipe(args, Path("/"))
    assert "\n" not in str(caught.value)


def test_the_equals_form_reads_like_the_spaced_form() -> None:
    spaced = request_from_recipe(["Qwen3-8B", "--tp", "2", "--node", "10.0.0.1:e0", "--node", "10.0.0.2:e0"], Path("/"))
    joined = request_from_recipe(["Qwen3-8B", "--tp=2", "--node=10.0.0.1:e0", "--node=10.0.0.2:e0"], Path("/"))
    assert spaced == joined
    assert spaced.instances[0].tp == 2


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"tp": 2}, "--tp with several models is ambiguous"),
        ({"npus": "0-3", "served_name": "x"}, "--npus, --served-name with several models"),
    ],
)
def test_per_instance_flags_with_several_models_are_refused(given: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        request_from_flags(["Qwen3-8B", "Qwen3-14B"], given)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"tp": 0}, "--tp 0: Input should be greater than 0"),
        ({"tp": True}, "--tp"),
        ({"port": 70000}, "--port 70000"),
        ({"gpu_memory_utilization": 0.0}, "--gpu-memory-utilization 0.0"),
        ({"gpu_memory_utilization": float("nan")}, "--gpu-memory-utilization"),
        ({"npus": "3-1"}, "runs backwards"),
        ({"served_name": "a\nb"}, "--served-name"),
        ({"layout": "ep"}, "--layout ep spreads one model over several servers: add --node"),
        ({"nodes": ["nonsense"]}, "expected ADDRESS:INTERFACE"),
        ({"catalogs": ["a\x1bb.yaml"]}, "control characters"),
    ],
)
def test_bad_flags_are_refused_naming_the_flag(given: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        request_from_flags(["Qwen3-8B"], given)


def test_zero_is_a_value_not_an_absent_flag() -> None:
    with pytest.raises(InputError, match="--max-model-len 0"):
        request_from_flags(["Qwen3-8B"], {"max_model_len": 0})


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"model": "Qwen3-8B", "port": True}, "port"),  # YAML `port: yes`
        ({"model": "Qwen3-8B", "tp": "2"}, "tp"),  # a number as text
        ({"model": "Qwen3-8B", "max_model_len": 1.5}, "max_model_len"),
        ({"model": "Qwen3-8B", "npus": True}, "npus"),
        ({"model": "Qwen3-8B", "gpu_memory_utilization": "0.9"}, "gpu_memory_utilization"),
        ({"model": "Qwen3-8B", "extra": 1}, "extra"),
    ],
)
def test_instances_are_strict(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        validate(InstanceRequest, raw)


def test_npus_are_read_from_text_lists_and_single_numbers() -> None:
    assert validate(InstanceRequest, {"model": "m", "npus": "4-7"}).npus == (4, 5, 6, 7)
    assert validate(InstanceRequest, {"model": "m", "npus": [6, 4]}).npus == (4, 6)
    assert validate(InstanceRequest, {"model": "m", "npus": 3}).npus == (3,)


def test_a_request_needs_an_instance() -> None:
    with pytest.raises(ValueError, match="instances"):
        validate(PlanRequest, {"instances": []})


# ---- the flag table's corners, exactly -----------------------------------------------------------------------


def test_messages_name_the_flag_that_sets_a_field() -> None:
    assert [flag_for(f) for f in ("first_port", "port", "tp", "max_model_len", "nodes", "unknown")] == [
        "--port", "--port", "--tp", "--max-model-len", "--node", "unknown"
    ]  # fmt: skip


def test_the_commands_own_options_and_unset_flags_are_not_the_requests() -> None:
    given = {"out": "/x", "json": True, "dry_run": True, "nodes": [], "api_key_env": False, "tp": None, "port": 8001}
    request = request_from_flags(["Qwen3-8B"], given)
    assert request.nodes == () and request.api_key_env is False and request.instances[0].tp is None
    # one model: --port is its port, and the first port
    assert (request.instances[0].port, request.first_port) == (8001, 8001)
    several = request_from_flags(["Qwen3-8B", "Qwen3-4B"], {"port": 8001})
    assert [i.port for i in several.instances] == [None, None] and several.first_port == 8001


@pytest.mark.parametrize(
    ("models", "given", "message"),
    [
        ([], {}, "name a model (see 'ascendgen models'), or a deployment file with -f ascendgen.yaml"),
        (["a", "b"], {"tp": 2}, "--tp with several models is ambiguous: give each instance its own in a deployment "
                               "file (ascendgen plan -f ascendgen.yaml)"),
        (["Qwen3-8B"], {"tp": 0}, "--tp 0: Input should be greater than 0"),
        (["Qwen3-8B"], {"tp": True}, "--tp: Input should be a valid integer"),  # a boolean is not shown as a value
        (["Qwen3-8B"], {"npus": "3-1"}, "--npus '3-1': range 3-1 runs backwards"),  # the validator named the flag
        ([""], {}, "model '': String should have at least 1 character"),  # inside instances: the field's own name
        (["Qwen3-8B"], {"layout": "ep"}, "--layout ep spreads one model over several servers: add --node "
                                         "ADDRESS:INTERFACE for each server (two or more), or drop --layout"),
    ],
)  # fmt: skip
def test_refusals_exactly(models: list[str], given: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as refused:
        request_from_flags(models, given)
    assert str(refused.value) == message


def test_a_request_with_a_first_port_and_one_model_records_it_as_the_port() -> None:
    request = validate(PlanRequest, {"instances": [{"model": "Qwen3-8B"}], "first_port": 8001})
    assert recipe_command(request) == "ascendgen plan Qwen3-8B --port 8001"
    assert recipe_command(request_from_flags(["Qwen3-8B", "Qwen3-4B"], {"port": 8000})) == (
        "ascendgen plan Qwen3-8B Qwen3-4B"
    )


def test_a_deployment_file_is_the_whole_recipe(tmp_path: Path) -> None:
    deployment = tmp_path / "conf" / "ascendgen.yaml"
    deployment.parent.mkdir()
    (tmp_path / "out").mkdir()
    deployment.write_text("instances:\n  - model: Qwen3-8B\n    port: 8005\n")
    request = validate(PlanRequest, {"instances": [{"model": "Qwen3-8B"}], "deployment_file": str(deployment)})
    command = recipe_command(request, relative_to=tmp_path / "out")
    assert command == "ascendgen plan -f ../conf/ascendgen.yaml"
    found: list[tuple[str, str]] = []

    def locate(flag: str, path: str) -> str:
        found.append((flag, path))
        return str(tmp_path / "out" / path)

    for option in ("-f", "--file"):
        back = request_from_recipe([option, "../conf/ascendgen.yaml"], tmp_path / "out", locate)
        assert back.instances[0].port == 8005
    assert found == [("-f", "../conf/ascendgen.yaml")] * 2
    for args in (["-f"], ["-f", "a.yaml", "b"], ["Qwen3-8B", "-f", "a.yaml"]):
        with pytest.raises(InputError) as refused:
            request_from_recipe(args, tmp_path)
        assert (
            str(refused.value)
            == f"recipe 'ascendgen plan {' '.join(args)}': -f takes one deployment file and nothing else"
        )


def test_recipe_paths_go_through_the_locator_and_absolute_ones_stay(tmp_path: Path) -> None:
    found: list[tuple[str, str]] = []

    def locate(flag: str, path: str) -> str:
        found.append((flag, path))
        return f"/located/{path}"

    back = request_from_recipe(["Qwen3-8B", "--catalog", "mine.yaml", "--hardware=hw.yaml"], tmp_path, locate)
    assert found == [("--catalog", "mine.yaml"), ("--hardware", "hw.yaml")]
    assert (back.catalogs, back.hardware) == (("/located/mine.yaml",), ("/located/hw.yaml",))
    plain = request_from_recipe(["Qwen3-8B", "--catalog", "/abs/c.yaml", "--catalog", "rel.yaml"], tmp_path)
    assert plain.catalogs == ("/abs/c.yaml", str(tmp_path / "rel.yaml"))


def test_a_model_directory_is_recorded_as_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my-model").mkdir()
    (tmp_path / "my-model" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    request = request_from_flags(["my-model"], {})
    assert recipe_command(request) == f"ascendgen plan {tmp_path / 'my-model'}"
    assert recipe_command(request_from_flags(["not-a-dir"], {})) == "ascendgen plan not-a-dir"


def test_a_message_that_names_its_flag_is_not_prefixed_again() -> None:
    with pytest.raises(InputError) as refused:
        request_from_flags(["Qwen3-8B"], {"nodes": ["nonsense"]})
    assert str(refused.value) == "--node 'nonsense': expected ADDRESS:INTERFACE, e.g. 192.168.0.147:enp1s0 or " \
                                 "[fd00::147]:enp1s0"  # fmt: skip


def test_only_the_port_has_a_default_to_leave_out() -> None:
    # 8000 is the port's default, nothing else's: --max-model-len 8000 is recorded
    assert recipe_command(request_from_flags(["Qwen3-8B"], {"max_model_len": 8000})) == (
        "ascendgen plan Qwen3-8B --max-model-len 8000"
    )
