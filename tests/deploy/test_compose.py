"""docker/compose.yaml and docker/Dockerfile against the code they deploy.

No container is started: the checks are that the file is well formed (``docker compose config`` where the
plugin exists, structural checks always), that each service runs a real ``campusguard`` command with
options the command accepts, that every ``CAMPUSGUARD_*`` variable is a settings field and the settings
accept the values, that mounted files exist, and that no secret has a default a deployment could keep.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from pydantic import BaseModel
from typer.core import TyperGroup

from campusguard.cli import app
from campusguard.settings import Settings
from command_ui.app import VENDOR
from command_ui.routers import health

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / "env.example"
# Files a deployment makes for itself (secrets): mounted, never committed.
GENERATED = {DOCKER / "mosquitto" / "passwd"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|NOTIFIERS")
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
# Values for the variables env.example leaves empty (the secrets), strong enough for the settings.
FILLED = {
    "POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef",
    "CAMPUSGUARD_SECRET_KEY": "0123456789abcdef0123456789abcdef0123456789",
    "CAMPUSGUARD_ADMIN_PASSWORD": "0123456789abcdef",
    "MQTT_INGEST_PASSWORD": "aa11",
    "MQTT_GEO_PASSWORD": "bb22",
    "MQTT_ALERTS_PASSWORD": "cc33",
    "MQTT_DRILL_PASSWORD": "dd44",
    "CAMPUSGUARD_ALERTS__NOTIFIERS": '[{"type": "mqtt", "url": "mqtt://svc.alerts:cc33@mosquitto:1883"}]',
}
# Keys of a service in the Compose specification that this file may use; a typo is not silently ignored.
SERVICE_KEYS = {
    "build", "cap_drop", "command", "depends_on", "deploy", "entrypoint", "environment", "env_file", "expose",
    "healthcheck", "image", "logging", "ports", "profiles", "read_only", "restart", "security_opt",
    "shm_size", "stop_grace_period", "tmpfs", "user", "volumes", "working_dir",
}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def _compose_text() -> str:
    """The compose file without its comment lines, which quote ${VAR:?...} as an example."""
    return "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())  # resolves the file's anchors and << merges
    assert isinstance(document, dict)
    return document


def _example_env() -> dict[str, str]:
    """env.example's values, with the secrets it leaves empty filled in."""
    env = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name] = value or FILLED.get(name, "")
    return env


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Substitute ${VAR}, ${VAR:-default} and ${VAR:?error} as compose does; an unset required one fails."""
    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        given = env.get(name, "")
        if op and op.endswith("?") and not given:
            raise AssertionError(f"{name} is required: {arg}")
        return given or (arg if op and op.endswith("-") else "")
    return INTERPOLATION.sub(one, value).replace("$$", "$")


def _resolved(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _interpolate(node, env)
    if isinstance(node, list):
        return [_resolved(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _resolved(value, env) for key, value in node.items()}
    return node


def _services() -> dict[str, dict[str, Any]]:
    services = _resolved(_compose(), _example_env())["services"]
    assert isinstance(services, dict)
    return services


def _ours() -> dict[str, dict[str, Any]]:
    """The services that run the campusguard image."""
    return {name: s for name, s in _services().items() if "build" in s}


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)


def _mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax."""
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            yield str(volume["source"]), str(volume["target"])
        else:
            source, target = str(volume).split(":")[:2]
            yield source, target


def _setting_names(model: type[BaseModel], prefix: str) -> Iterator[str]:
    """Every environment variable the settings read: fields, and the fields of nested settings."""
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        yield variable  # a nested group may also be given whole, as JSON
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _setting_names(annotation, f"{variable}__")


# --- The file itself ------------------------------------------------------------------------------------------


def test_services_use_only_compose_keys() -> None:
    """Each service's keys are Compose keys, and images of others are pinned to a version."""
    for name, service in _services().items():
        assert set(service) <= SERVICE_KEYS, f"{name}: unknown keys {set(service) - SERVICE_KEYS}"
        image = service["image"]
        if "build" not in service:
            tag = image.rpartition(":")[2]
            assert ":" in image and tag != "latest" and re.search(r"\d", tag), f"{name}: pin {image}"


def test_docker_compose_accepts_it(tmp_path: Path) -> None:
    """`docker compose config` validates against the Compose specification, where the plugin exists."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True,
                                        check=False).returncode != 0:
        pytest.skip("the docker compose plugin is not installed here")
    env = tmp_path / "env"
    env.write_text("".join(f"{k}='{v}'\n" for k, v in _example_env().items()))
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "--env-file", str(env),
                             "--profile", "vision", "config", "--quiet"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_dependencies_exist_and_setup_runs_first() -> None:
    """depends_on names real services; migrate, then site-load, complete before the long-lived services."""
    services = _services()
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on a missing service {target}"
            assert spec["condition"] in CONDITIONS
    assert services["site-load"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    for name, service in _ours().items():
        if name not in ("migrate", "site-load"):
            assert service["depends_on"]["site-load"]["condition"] == "service_completed_successfully", name
            assert service["restart"] == "unless-stopped", name


def test_mounted_files_exist_and_volumes_are_declared() -> None:
    """Every bind-mounted file is in the repository (or made by the documented script); volumes exist."""
    volumes = set(_compose()["volumes"])
    ignored = (DOCKER / ".gitignore").read_text().split()
    for name, service in _services().items():
        for source, _target in _mounts(service):
            if not source.startswith((".", "/")):
                assert source in volumes, f"{name}: volume {source} is not declared"
                continue
            path = (DOCKER / source).resolve()
            if path in GENERATED:
                assert str(path.relative_to(DOCKER)) in ignored, f"{path} holds secrets: ignore it"
                assert path.name in (DOCKER / "mosquitto" / "make-passwd.sh").read_text()
            else:
                assert path.exists(), f"{name} mounts {source}, which does not exist"
        if "build" in service:
            assert (DOCKER / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


# --- Secrets --------------------------------------------------------------------------------------------------


def test_secrets_have_no_default() -> None:
    """A secret is always ${VAR:?...}: compose refuses to start without it, and no value is written here."""
    for match in INTERPOLATION.finditer(_compose_text()):
        if SECRET_NAME.search(match["name"]):
            assert match["op"] == ":?", f"{match[0]} must be required, with no default"
    for name, service in _compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert "${" in str(value), f"{name}: {key} has a literal value"
        for value in _strings(service):
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert password.startswith("${") and ":?" in password, f"{name}: literal password in {value}"


def test_every_variable_is_documented_in_the_example() -> None:
    """Each ${VAR} the compose file reads is in env.example, which says what to put there."""
    documented = set(_example_env())
    used = {m["name"] for m in INTERPOLATION.finditer(_compose_text())}
    assert used <= documented, f"not in docker/env.example: {sorted(used - documented)}"


# --- Against the code -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(_ours()))
def test_each_service_runs_a_real_command(service: str) -> None:
    """The command is a campusguard CLI command, and its options and arguments parse as the CLI's own."""
    spec = _ours()[service]
    args = [str(a) for a in spec["command"]]
    # An argument naming a file inside the container must be a file mounted there: check the host file.
    mounted = {target: str((DOCKER / source).resolve()) for source, target in _mounts(spec)}
    args = [mounted.get(a, a) for a in args]
    command = typer.main.get_command(app)
    path: list[str] = []
    # Typer builds its own click classes, so groups are told apart by its group class, not click's.
    while isinstance(command, TyperGroup) and args and not args[0].startswith("-"):
        sub = command.commands.get(args[0])
        if sub is None:
            if args[0] == "vision" and not path:
                pytest.skip("`campusguard vision` is not in this CLI yet; its services wait under a profile")
            pytest.fail(f"{service}: `campusguard {' '.join([*path, args[0]])}` is not a command")
        path.append(args.pop(0))
        command = sub
    assert path, f"{service}: no command"
    assert not isinstance(command, TyperGroup), f"{service}: `campusguard {' '.join(path)}` needs a subcommand"
    # Parsing without invoking: unknown options, bad values and missing files fail here.
    with command.make_context(" ".join(path), args):
        pass


@pytest.mark.parametrize("service", sorted(_ours()))
def test_environment_is_valid_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CAMPUSGUARD_* variable is a settings field, and the settings accept the service's values."""
    known = set(_setting_names(Settings, "CAMPUSGUARD_"))
    environment = {k: str(v) for k, v in (_ours()[service].get("environment") or {}).items()}
    ours = {k: v for k, v in environment.items() if k.startswith("CAMPUSGUARD_")}
    assert set(ours) <= known, f"{service}: not settings: {sorted(set(ours) - known)}"
    for name in [n for n in os.environ if n.startswith("CAMPUSGUARD_")]:
        monkeypatch.delenv(name)
    for name, value in ours.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.mode.value == "production"


def test_the_dockerfile_matches_the_code() -> None:
    """Its settings variables exist, it runs as a non-root user, and its health check asks the health route."""
    dockerfile = (DOCKER / "Dockerfile").read_text()
    known = set(_setting_names(Settings, "CAMPUSGUARD_"))
    assert set(re.findall(r"CAMPUSGUARD_[A-Z0-9_]+", dockerfile)) <= known
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert final_stage.startswith("${PYTHON_IMAGE}") and "ARG PYTHON_IMAGE=python:3.11" in dockerfile
    assert re.search(r"^USER (?!root|0\b)\S+", final_stage, re.MULTILINE)
    health_paths = {getattr(route, "path", None) for route in health.router.routes}
    (probe,) = re.findall(r"http://127\.0\.0\.1:8080(/\S*?)'", final_stage)
    assert probe in health_paths
    # It ships exactly the packages pyproject installs: every layer, no dev harness.
    packages = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    installed = {pattern.rstrip("*") for pattern in packages["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.MULTILINE))
    assert copied == installed and "devtools" not in copied
    # Every browser library the app serves under /vendor is in the image (the map's clusters, the charts, video).
    shipped = set(re.findall(r"^COPY --from=ui /app/(tools/ui/node_modules/\S+) \./\1$", dockerfile, re.MULTILINE))
    root = DOCKER.parent
    assert {str(folder.relative_to(root)) for folder in VENDOR.values()} <= shipped
    # And what the video stage and the bulletin's PDF need from Debian.
    assert re.search(r"apt-get install .*\bffmpeg\b.*\bfonts-noto-cjk\b", final_stage)


def test_service_users_are_in_the_acl() -> None:
    """Each service signs in to the broker as a user the ACL file knows and make-passwd.sh creates."""
    acl_users = set(re.findall(r"^user (\S+)$", (DOCKER / "mosquitto" / "acl").read_text(), re.MULTILINE))
    script = (DOCKER / "mosquitto" / "make-passwd.sh").read_text()
    for name, service in _ours().items():
        url = (service.get("environment") or {}).get("CAMPUSGUARD_MQTT_URL")
        if url is not None:
            user = re.match(r"mqtt://([^:@]+):", str(url))
            assert user is not None, f"{name}: signs in anonymously"
            assert user[1] in acl_users and user[1] in script, name


def test_vision_workers_take_disjoint_shards() -> None:
    """The vision services' --shard I/N cover 0..N-1 once each, all with the same N."""
    shards = []
    for name, service in _ours().items():
        command = [str(a) for a in service["command"]]
        if command[0] == "vision":
            index, count = command[command.index("--shard") + 1].split("/")
            shards.append((int(index), int(count)))
            assert service["volumes"], f"{name}: each worker keeps its own data volume"
    counts = {count for _, count in shards}
    assert len(counts) == 1 and sorted(i for i, _ in shards) == list(range(counts.pop()))
