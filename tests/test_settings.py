"""Settings: one validated object; production refuses default secrets, demo invents and keeps them."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from campusguard.runtime import server_config
from campusguard.settings import Mode, Settings, estimated_bits


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="refusing to start in production mode"):
        Settings(mode=Mode.PRODUCTION, data_dir=tmp_path)


def test_production_refuses_weak_secrets(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY must be set to at least 32"):
        Settings(mode=Mode.PRODUCTION, data_dir=tmp_path, secret_key="short", admin_password="x" * 20)


@pytest.mark.parametrize(("secret_key", "admin_password", "refused"), [
    ("k" * 40, "Rq7-vX2m-Lp9s", "CAMPUSGUARD_SECRET_KEY is too predictable"),
    (secrets.token_hex(32), "aaaaaaaaaaaa", "CAMPUSGUARD_ADMIN_PASSWORD is too predictable"),
    (secrets.token_hex(32), "abcdabcdabcd", "CAMPUSGUARD_ADMIN_PASSWORD is too predictable"),
    (secrets.token_hex(32), "Rq7-vX2m", "CAMPUSGUARD_ADMIN_PASSWORD must be set to at least 12"),
], ids=["repeated-key", "repeated-password", "pattern-password", "short-password"])  # ids: never the random keys
def test_production_refuses_predictable_secrets(tmp_path: Path, secret_key: str, admin_password: str,
                                                refused: str) -> None:
    with pytest.raises(ValidationError, match=refused):
        Settings(mode=Mode.PRODUCTION, data_dir=tmp_path, secret_key=secret_key, admin_password=admin_password)


def test_generated_secrets_are_strong_enough_for_production(tmp_path: Path) -> None:
    # What the docs say to use (openssl rand -hex 32), and what the demo generates, pass.
    Settings(mode=Mode.PRODUCTION, data_dir=tmp_path, secret_key=secrets.token_hex(32),
             admin_password=secrets.token_hex(32))
    demo = Settings(mode=Mode.DEMO, data_dir=tmp_path)
    Settings(mode=Mode.PRODUCTION, data_dir=tmp_path, secret_key=demo.secret_key, admin_password=demo.admin_password)
    assert estimated_bits("aaaaaaaaaaaa") == 0 and estimated_bits("0123456789abcdef") == 64


def test_forwarded_headers_are_believed_from_no_one_unless_configured(tmp_path: Path) -> None:
    default = Settings(mode=Mode.DEMO, data_dir=tmp_path)
    assert default.trusted_proxies == ""
    config = server_config(default)
    assert config.proxy_headers is False and config.forwarded_allow_ips == []
    proxied = server_config(Settings(mode=Mode.DEMO, data_dir=tmp_path, trusted_proxies="10.0.0.7, 172.16.0.0/12"))
    assert proxied.proxy_headers is True and proxied.forwarded_allow_ips == ["10.0.0.7", "172.16.0.0/12"]
    with pytest.raises(ValidationError, match="neither an IP address nor a network"):
        Settings(mode=Mode.DEMO, data_dir=tmp_path, trusted_proxies="proxy.internal")


def test_environment_overrides_with_the_campusguard_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAMPUSGUARD_MODE", "demo")
    monkeypatch.setenv("CAMPUSGUARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAMPUSGUARD_HTTP_PORT", "9090")
    monkeypatch.setenv("CAMPUSGUARD_RETENTION__POSITIONS_DAYS", "30")
    settings = Settings()
    assert settings.http_port == 9090 and settings.retention.positions_days == 30


def test_unknown_settings_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings(mode=Mode.DEMO, data_dir=tmp_path, databse_url="typo")  # type: ignore[call-arg]


def test_demo_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(mode=Mode.DEMO, data_dir=tmp_path)
    second = Settings(mode=Mode.DEMO, data_dir=tmp_path)
    assert first.admin_password is not None and second.admin_password is not None
    assert first.admin_password.get_secret_value() == second.admin_password.get_secret_value()
    assert len(first.secret_key.get_secret_value()) >= 32  # type: ignore[union-attr]
    assert (tmp_path / "demo-secrets.env").stat().st_mode & 0o077 == 0


def test_only_prefixed_variables_configure_campusguard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A Kubernetes Service named "http" sets HTTP_PORT=tcp://…; a shell may export WORKERS. Neither is ours.
    for name, value in {"WORKERS": "7", "HTTP_PORT": "tcp://10.0.0.1:80", "POSITIONS_DAYS": "1",
                        "TILES_URL": "http://elsewhere/{z}/{x}/{y}", "POSE": "false", "RULES_FILE": "/nope",
                        "METRICS_PORT": "tcp://10.0.0.2:9108"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(mode=Mode.DEMO, data_dir=tmp_path)
    assert settings.ingest.workers == 2 and settings.ingest.metrics_port == 9108
    assert settings.retention.positions_days == 180 and settings.map.tiles_url is None
    assert settings.vision.pose is True and settings.alerts.rules_file is None
    monkeypatch.setenv("CAMPUSGUARD_INGEST__WORKERS", "3")
    assert Settings(mode=Mode.DEMO, data_dir=tmp_path).ingest.workers == 3
