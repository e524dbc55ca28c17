"""docker-compose.yml and the Dockerfiles cannot run here (no Docker engine): check what can be."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
BUILT = {name: spec for name, spec in COMPOSE["services"].items() if "build" in spec}


def console_scripts() -> dict[str, Path]:
    scripts = {}
    for pyproject in [*ROOT.glob("services/*/pyproject.toml"), ROOT / "deploy/ops/pyproject.toml"]:
        for script in tomllib.loads(pyproject.read_text())["project"].get("scripts", {}):
            scripts[script] = pyproject.parent
    return scripts


def dockerfile_of(spec: dict) -> Path:
    return ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]


def test_the_four_services_and_the_infrastructure_are_there() -> None:
    assert {"gateway", "scoring", "notify", "outreach", "kafka", "postgres"} <= set(
        COMPOSE["services"]
    )
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:3.9")
    assert COMPOSE["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


@pytest.mark.parametrize("name", sorted(BUILT))
def test_build_context_dockerfile_and_copied_paths_exist(name: str) -> None:
    spec = BUILT[name]
    assert (ROOT / spec["build"]["context"]).is_dir()
    dockerfile = dockerfile_of(spec)
    assert dockerfile.is_file()
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            *sources, _ = shlex.split(line)[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"{dockerfile}: COPY {source} does not exist"


@pytest.mark.parametrize("name", sorted(BUILT))
def test_commands_are_console_scripts_of_the_built_package(name: str) -> None:
    spec = BUILT[name]
    dockerfile = dockerfile_of(spec).read_text()
    cmd = json.loads(re.search(r"^CMD (.+)$", dockerfile, re.M)[1])  # type: ignore[index]
    commands = [spec.get("command", cmd)]
    scripts = console_scripts()
    for command in commands:
        words = shlex.split(command[-1]) if command[0] == "sh" else command
        for executable in [w for w in words if w.startswith("mingdeng")]:
            assert executable in scripts, f"{name}: {executable} is no console script"
            package_dir = scripts[executable].relative_to(ROOT)
            assert f"COPY {package_dir} {package_dir}" in dockerfile


@pytest.mark.parametrize("name", sorted(BUILT))
def test_services_are_configured_from_the_environment(name: str) -> None:
    environment = COMPOSE["services"][name]["environment"]
    assert environment["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert environment["MINGDENG_DATABASE_URL"].startswith("postgresql://")


def test_dependencies_wait_for_health_and_have_a_healthcheck() -> None:
    services = COMPOSE["services"]
    for name, spec in services.items():
        for dependency, rule in spec.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    for name in ("gateway", "scoring", "notify", "outreach"):
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        port = re.search(r"127\.0\.0\.1:(\d+)/healthz", str(services[name]["healthcheck"]["test"]))
        assert port is not None
        assert port[1] in {str(v) for v in services[name]["environment"].values()}


def test_long_running_services_are_restarted_and_checked_and_topics_are_never_auto_created() -> (
    None
):
    services = COMPOSE["services"]
    for name in ("gateway", "scoring", "notify", "outreach", "kafka", "postgres"):
        assert services[name]["restart"] in ("always", "unless-stopped"), name
        assert services[name]["healthcheck"]["test"], name
    assert services["topics"]["restart"] == "no"
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    broker = (ROOT / "deploy/kafka/server.properties.in").read_text().splitlines()
    assert "auto.create.topics.enable=false" in broker
    assert not any(line.startswith("auto.create.topics.enable=true") for line in broker)
