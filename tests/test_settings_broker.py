"""Production mode refuses an MQTT broker it reaches over the network without signing in."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from campusguard.settings import Mode, Settings


def production(url: str, tmp_path: Path) -> Settings:
    return Settings(mode=Mode.PRODUCTION, mqtt_url=url, data_dir=tmp_path, secret_key=secrets.token_hex(32),
                    admin_password=secrets.token_urlsafe(16), _env_file=None)


@pytest.mark.parametrize("url", [
    "mqtt://broker.example.internal:1883",
    "mqtts://broker.example.internal",
    "mqtt://ingest@10.0.0.5:1883",  # a user name alone is not a sign-in
    "mqtt://ingest:@10.0.0.5:1883",
])
def test_a_network_broker_without_credentials_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        production(url, tmp_path)
    message = str(caught.value)
    assert "refusing to start in production mode" in message
    assert "CAMPUSGUARD_MQTT_URL" in message and "without a user name and password" in message


@pytest.mark.parametrize("url", [
    "mqtt://svc.ingest:s3cret@mosquitto:1883",
    "mqtts://ingest:p%40ss@broker.example.internal:8883",
    # This host's loopback: Mosquitto may leave a loopback-only listener open to local services while its
    # device listener requires passwords, and nothing here can tell (docs/mqtt.md).
    "mqtt://127.0.0.1:1883",
    "mqtt://localhost:1883",
    "mqtt://[::1]:1883",
])
def test_a_broker_we_sign_in_to_or_on_the_loopback_is_accepted(url: str, tmp_path: Path) -> None:
    assert production(url, tmp_path).mqtt_url == url


def test_the_demo_takes_any_broker(tmp_path: Path) -> None:
    url = "mqtt://broker.example.internal:1883"
    assert Settings(mode=Mode.DEMO, mqtt_url=url, data_dir=tmp_path, _env_file=None).mqtt_url == url


def test_a_process_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUSGUARD_")}
    env |= {"CAMPUSGUARD_MODE": "production", "CAMPUSGUARD_MQTT_URL": "mqtt://broker.example.internal:1883",
            "CAMPUSGUARD_DATA_DIR": str(tmp_path), "CAMPUSGUARD_SECRET_KEY": secrets.token_hex(32),
            "CAMPUSGUARD_ADMIN_PASSWORD": secrets.token_urlsafe(16)}
    done = subprocess.run([sys.executable, "-m", "campusguard", "ingest-receiver", "--http"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "configuration error" in done.stderr and "without a user name and password" in done.stderr
