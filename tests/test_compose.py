"""docker-compose.yml and the Dockerfile agree with the code, checked without a Docker engine.

Each test is something `docker compose up` would trip over: a variable the settings never read,
a service waiting for one that does not exist, a port taken twice, Prometheus scraping the
wrong port, a broker address no listener answers, a mount of a missing file, an entrypoint or
a command the CLI does not have, a healthcheck asking for a page the worker does not serve.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import typer
import yaml
from pydantic import AliasChoices

from streams.cli import cli
from streams.local_kafka import KAFKA_VERSION
from streams.settings import ENV_PREFIX, ConfigurationError, Settings, load_settings

ROOT = Path(__file__).parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPENDS_ON_CONDITIONS = {
    "service_started",
    "service_healthy",
    "service_completed_successfully",
}


# --- the Dockerfile --------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = (line.strip() for line in text.splitlines())
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line)
        if not word.startswith("#")
    ]


def _final_stage() -> list[tuple[str, str]]:
    """The image that runs: the instructions after the last FROM."""
    instructions = _instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from + 1 :]


def _exec_form(instruction: str) -> list[str]:
    values = [json.loads(rest) for word, rest in _final_stage() if word == instruction]
    assert values, f"the Dockerfile has no {instruction}"
    value = values[-1]  # as Docker does: the last one counts
    assert isinstance(value, list), f"{instruction} should be in exec form (a JSON list)"
    return [str(item) for item in value]


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in _final_stage():
        if word != "ENV":
            continue
        tokens = shlex.split(rest)
        if "=" not in tokens[0]:  # the legacy `ENV NAME value` form
            env[tokens[0]] = " ".join(tokens[1:])
            continue
        env |= dict(token.split("=", 1) for token in tokens)
    return env


def _healthcheck() -> str:
    checks = [rest for word, rest in _final_stage() if word == "HEALTHCHECK"]
    assert checks, "the Dockerfile has no HEALTHCHECK"
    return checks[-1]


# --- the compose file --------------------------------------------------------------------------


def _ours() -> list[str]:
    """Services running the image built from this repository's Dockerfile."""
    names: list[str] = []
    for name, service in SERVICES.items():
        build = service.get("build")
        context = build.get("context", ".") if isinstance(build, dict) else build
        if context is not None and (ROOT / context).resolve() == ROOT.resolve():
            names.append(name)
    return names


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def _container_env(name: str) -> dict[str, str]:
    """What a container of our image sees: the image's ENV, overridden by compose."""
    return _image_env() | _environment(SERVICES[name])


def _command(name: str) -> list[str]:
    """The crmstream arguments a service runs (compose's command, else the image's CMD)."""
    service = SERVICES[name]
    assert "entrypoint" not in service, f"{name}: overrides the image's entrypoint"
    command = service.get("command", _exec_form("CMD"))
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def _workers() -> list[str]:
    workers = [name for name in _ours() if _command(name)[:1] == ["worker"]]
    assert workers, "no service runs `crmstream worker`"
    return workers


def _service_with_image(prefix: str) -> str:
    matches = [name for name, s in SERVICES.items() if str(s.get("image", "")).startswith(prefix)]
    assert len(matches) == 1, f"expected one service with image {prefix}*, found {matches}"
    return matches[0]


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Each dependency with its condition (the list form means service_started)."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def _has_healthcheck(name: str) -> bool:
    check = SERVICES[name].get("healthcheck")
    if check is not None and (check.get("disable") or check.get("test") in (["NONE"], "NONE")):
        return False
    return check is not None or (name in _ours() and bool(_healthcheck()))


def _published_ports(service: dict[str, Any]) -> Iterator[tuple[int, int, str]]:
    """(host port, container port, protocol) of each published port."""
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                yield int(entry["published"]), int(entry["target"]), entry.get("protocol", "tcp")
            continue
        mapping, _, protocol = str(entry).partition("/")
        parts = mapping.rsplit(":", 2)
        if len(parts) >= 2:  # a bare container port is published on a random host port
            yield int(parts[-2]), int(parts[-1]), protocol or "tcp"


def _mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, container path) of each volume entry, short or long syntax."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            yield str(entry["source"]), str(entry["target"])
        else:
            source, target, *_ = str(entry).split(":")
            yield source, target


def _is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def _host_file_mounted_at(name: str, container_path: str) -> Path:
    """The repository file or directory a service sees at ``container_path``."""
    wanted = PurePosixPath(container_path)
    for source, target in _mounts(SERVICES[name]):
        target_path = PurePosixPath(target)
        if _is_bind(source) and (wanted == target_path or target_path in wanted.parents):
            host_path = ROOT / source / wanted.relative_to(target_path)
            assert host_path.exists(), f"{name}: {container_path} would be missing {host_path}"
            return host_path
    pytest.fail(f"{name}: nothing from the repository is mounted at {container_path}")


# --- settings ---------------------------------------------------------------------------------


def _setting_variables() -> dict[str, str]:
    """Every environment variable Settings reads, with the field it sets."""
    variables: dict[str, str] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            variables |= {str(choice): field for choice in alias.choices}
        elif isinstance(alias, str):
            variables[alias] = field
        else:
            variables[f"{ENV_PREFIX}{field.upper()}"] = field
    return variables


def _settings_of(name: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a container of this service loads at start, or the error it dies with."""
    known = _setting_variables()
    for variable in list(os.environ):
        if variable in known or variable.startswith(ENV_PREFIX):
            monkeypatch.delenv(variable)
    for variable, value in _container_env(name).items():
        if variable in known:
            monkeypatch.setenv(variable, value)
    try:
        return load_settings()
    except ConfigurationError as exc:
        pytest.fail(f"{name} would not start: {exc}")


# --- Kafka ------------------------------------------------------------------------------------


def _listeners(variable: str) -> dict[str, tuple[str, int]]:
    """KAFKA_LISTENERS-style value as {listener name: (host, port)}."""
    value = _environment(SERVICES[_service_with_image("apache/kafka:")])[variable]
    listeners: dict[str, tuple[str, int]] = {}
    for item in value.split(","):
        listener, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        listeners[listener] = (host, int(port))
    return listeners


def _kafka_hostnames() -> set[str]:
    kafka = _service_with_image("apache/kafka:")
    return {kafka, SERVICES[kafka].get("hostname", kafka)}


# --- tests ------------------------------------------------------------------------------------


def test_the_stack_creates_topics_runs_a_worker_and_feeds_it() -> None:
    commands = [_command(name) for name in _ours()]
    assert ["topics", "create"] in [command[:2] for command in commands]
    assert ["worker"] in [command[:1] for command in commands]
    assert ["generate"] in [command[:1] for command in commands]


def test_our_services_set_only_variables_the_settings_read() -> None:
    known = _setting_variables()
    for name in _ours():
        unknown = sorted(set(_environment(SERVICES[name])) - set(known))
        assert not unknown, f"{name}: no setting reads {unknown}"
    image_unknown = sorted(v for v in _image_env() if v.startswith(ENV_PREFIX) and v not in known)
    assert not image_unknown, f"Dockerfile ENV: no setting reads {image_unknown}"


@pytest.mark.parametrize("name", _ours())
def test_each_service_starts_with_valid_settings_and_a_broker(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _settings_of(name, monkeypatch).kafka_bootstrap_servers, f"{name}: no Kafka broker"


@pytest.mark.parametrize("name", _ours())
def test_each_service_bootstraps_from_a_listener_kafka_advertises(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    advertised = {
        f"{host}:{port}" for host, port in _listeners("KAFKA_ADVERTISED_LISTENERS").values()
    }
    servers = str(_settings_of(name, monkeypatch).kafka_bootstrap_servers).split(",")
    for server in servers:
        assert server in advertised, f"{name}: {server} is not among {sorted(advertised)}"
        host = server.rpartition(":")[0]
        assert host in _kafka_hostnames(), f"{name}: {host} is not the kafka service's name"


def test_kafka_listeners_are_consistent() -> None:
    """Listener names, ports and the controller quorum agree, or the broker never starts."""
    kafka = SERVICES[_service_with_image("apache/kafka:")]
    env = _environment(kafka)
    assert env.get("CLUSTER_ID"), "the apache/kafka image refuses KRaft mode without CLUSTER_ID"
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    bound = _listeners("KAFKA_LISTENERS")
    advertised = _listeners("KAFKA_ADVERTISED_LISTENERS")
    assert set(bound) <= set(protocols), "a listener without a security protocol"
    for listener, (host, port) in advertised.items():
        assert bound.get(listener, ("", -1))[1] == port, f"{listener} advertises a port not bound"
        if host in {"localhost", "127.0.0.1"}:  # for clients on the host: published as is
            assert (port, port, "tcp") in set(_published_ports(kafka)), f"{listener} unpublished"
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in bound
    assert controller not in advertised, "clients must not be sent to the controller listener"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    voter_host, _, voter_port = (
        env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")[2].rpartition(":")
    )
    assert voter_host in _kafka_hostnames()
    assert int(voter_port) == bound[controller][1]


def test_kafka_is_the_version_the_tests_run_against() -> None:
    image = SERVICES[_service_with_image("apache/kafka:")]["image"]
    assert image == f"apache/kafka:{KAFKA_VERSION}"


def test_every_dependency_is_a_service_that_can_meet_its_condition() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in _depends_on(service).items():
            assert dependency in SERVICES, f"{name} depends on undefined {dependency}"
            assert condition in DEPENDS_ON_CONDITIONS, f"{name}: unknown condition {condition}"
            if condition == "service_healthy":
                assert _has_healthcheck(dependency), f"{name} waits for {dependency}'s health"


def test_workers_start_after_kafka_is_healthy_and_the_topics_exist() -> None:
    kafka = _service_with_image("apache/kafka:")
    creators = [name for name in _ours() if _command(name)[:2] == ["topics", "create"]]
    for worker in _workers():
        depends = _depends_on(SERVICES[worker])
        assert depends.get(kafka) == "service_healthy", worker
        assert any(depends.get(c) == "service_completed_successfully" for c in creators), worker


def test_published_ports_do_not_clash() -> None:
    taken: dict[tuple[int, str], str] = {}
    for name, service in SERVICES.items():
        for host_port, _, protocol in _published_ports(service):
            other = taken.setdefault((host_port, protocol), name)
            assert other == name, f"{name} and {other} both publish {host_port}/{protocol}"


@pytest.mark.parametrize("name", _workers())
def test_workers_serve_where_prometheus_scrapes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings_of(name, monkeypatch)
    assert settings.web_host == "0.0.0.0", f"{name}: unreachable from other containers"
    for _, container_port, _ in _published_ports(SERVICES[name]):
        assert container_port == settings.web_port, f"{name} publishes {container_port}"
    config_file = _host_file_mounted_at(
        _service_with_image("prom/prometheus"), "/etc/prometheus/prometheus.yml"
    )
    config = yaml.safe_load(config_file.read_text())
    targets = [
        (target, job.get("metrics_path", "/metrics"))
        for job in config.get("scrape_configs") or []
        for static in job.get("static_configs") or []
        for target in static.get("targets") or []
    ]
    ours = [(target, path) for target, path in targets if target.rpartition(":")[0] == name]
    assert ours, f"Prometheus scrapes none of {name}: {targets}"
    for target, path in ours:
        assert target == f"{name}:{settings.web_port}"
        assert path in _served_pages(), f"Prometheus scrapes {path}, not a page of {name}"


def test_prometheus_rule_files_are_mounted() -> None:
    prometheus = _service_with_image("prom/prometheus")
    config_path = "/etc/prometheus/prometheus.yml"
    config = yaml.safe_load(_host_file_mounted_at(prometheus, config_path).read_text())
    rule_files = config.get("rule_files") or []
    assert rule_files, "Prometheus loads no alert rules"
    for pattern in rule_files:
        in_container = PurePosixPath(config_path).parent / pattern  # relative to the config
        host_dir = _host_file_mounted_at(prometheus, str(in_container.parent))
        assert list(host_dir.glob(in_container.name)), f"{pattern} matches no mounted file"


def test_grafana_reads_prometheus_and_the_mounted_dashboards() -> None:
    grafana = _service_with_image("grafana/grafana")
    provisioning = _host_file_mounted_at(grafana, "/etc/grafana/provisioning")
    datasources = [
        source
        for path in sorted((provisioning / "datasources").glob("*.y*ml"))
        for source in yaml.safe_load(path.read_text()).get("datasources") or []
        if source.get("type") == "prometheus"
    ]
    assert datasources, "no Prometheus datasource is provisioned"
    prometheus = _service_with_image("prom/prometheus")
    for source in datasources:
        assert source.get("url", "").rstrip("/") == f"http://{prometheus}:9090", source
    providers = [
        provider
        for path in sorted((provisioning / "dashboards").glob("*.y*ml"))
        for provider in yaml.safe_load(path.read_text()).get("providers") or []
    ]
    assert providers, "no dashboard provider is provisioned"
    for provider in providers:
        dashboards = _host_file_mounted_at(grafana, provider["options"]["path"])
        assert list(dashboards.rglob("*.json")), f"no dashboard JSON in {dashboards}"


def test_every_mounted_host_path_exists_and_every_volume_is_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for source, _ in _mounts(service):
            if _is_bind(source):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_the_entrypoint_is_our_console_script() -> None:
    entrypoint = _exec_form("ENTRYPOINT")
    assert len(entrypoint) == 1
    assert entrypoint[0] in PYPROJECT["project"]["scripts"]


def _disarm(command: Any) -> Any:
    """The command tree with every action removed: running it only parses and validates."""
    command.callback = None
    for subcommand in (getattr(command, "commands", None) or {}).values():
        _disarm(subcommand)
    return command


def _parse(arguments: list[str]) -> None:
    """Parse `crmstream ARGUMENTS` as the real CLI does (options, types, choices), run nothing."""
    _disarm(typer.main.get_command(cli)).main(
        list(arguments), prog_name="crmstream", standalone_mode=False
    )


def test_the_image_command_and_every_service_command_are_real_cli_commands() -> None:
    _parse(_exec_form("CMD"))
    for name in _ours():
        try:
            _parse(_command(name))
        except Exception as exc:  # typer raises its own copy of click's UsageError
            pytest.fail(f"{name}: `crmstream {' '.join(_command(name))}`: {exc}")


@functools.cache
def _served_pages() -> list[str]:
    """The web pages of a worker configured as the compose file configures the first one."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = _container_env(_workers()[0]) | {f"{ENV_PREFIX}DATA_DIR": data_dir}
        # What `crmstream worker` imports: the app, and the agents that may declare more pages.
        program = (
            "import json, streams.agents, streams.app as a; print(json.dumps([*a.app.web.views]))"
        )
        pages = subprocess.run(
            [sys.executable, "-c", program],
            env={k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)} | env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert pages.returncode == 0, f"the worker's app does not load:\n{pages.stderr}"
    return list(json.loads(pages.stdout.strip().splitlines()[-1]))


def test_the_healthcheck_asks_the_worker_for_a_page_it_serves() -> None:
    check = _healthcheck()
    paths = re.findall(r"""['"](/[\w./-]*)['"]""", check)
    assert len(paths) == 1, f"expected one URL path in the HEALTHCHECK: {check}"
    assert f"{ENV_PREFIX}WEB_PORT" in check, "the healthcheck must follow the configured port"
    assert paths[0] in _served_pages(), f"the worker serves {_served_pages()}, not {paths[0]}"


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Approximately Docker's rule: the last pattern matching the path or a parent decides."""
    candidates = [path, *(str(parent) for parent in PurePosixPath(path).parents if parent.name)]
    ignored = False
    for line in patterns:
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        if any(fnmatch(candidate, pattern) for candidate in candidates):
            ignored = not negated
    return ignored


def test_the_image_build_gets_every_file_pip_install_needs() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = [
        os.path.normpath(source)
        for word, rest in _instructions()
        if word == "COPY" and "--from" not in rest
        for source in shlex.split(rest)[:-1]
        if not source.startswith("--")
    ]
    setuptools = PYPROJECT["tool"]["setuptools"]
    needed = ["pyproject.toml", PYPROJECT["project"]["readme"]]
    for package in setuptools["packages"]:
        needed += [str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*.py")]
        for pattern in setuptools.get("package-data", {}).get(package, []):
            needed += [str(p.relative_to(ROOT)) for p in (ROOT / package).glob(pattern)]
    for path in needed:
        assert not _dockerignored(path, patterns), f".dockerignore leaves out {path}"
        assert any(source in {".", path} or path.startswith(f"{source}/") for source in copied), (
            f"the Dockerfile copies no {path}"
        )
