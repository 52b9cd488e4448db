"""The README's `make run` path as real processes: migrate, provision the demo tenant, serve."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.factories import seed_lead
from tests.processes import LEADGATE, free_port, leadgate_env, wait_until_up


def clean_env(data_dir: Path) -> dict[str, str]:
    return leadgate_env(data_dir=str(data_dir))


@pytest.mark.slow
def test_embedded_default_serves_the_seed_example(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    subprocess.run([LEADGATE, "db", "upgrade"], env=env, check=True, capture_output=True)
    demo = subprocess.run(
        [LEADGATE, "tenant", "demo"], env=env, check=True, capture_output=True, text=True
    )
    key = re.search(r"\b(lg_[0-9A-Za-z]{38})\b", demo.stdout)
    assert key is not None, demo.stdout
    assert (tmp_path / "data" / "leadgate.db").exists()
    assert (tmp_path / "data" / "server-secret").exists()

    port = free_port()
    server = subprocess.Popen(
        [LEADGATE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = [server.stdout.readline() if server.stdout else "" for _ in range(5)]
        assert f"http://127.0.0.1:{port}" in banner[0]
        # The banner names the console and the tenants' own addresses, port included.
        assert any(f"http://127.0.0.1:{port}/console" in line for line in banner), banner
        assert any(f"http://demo.localtest.me:{port}" in line for line in banner), banner
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, server)
        # The SnapCRM seed's cURL example with the host changed and the demo key.
        body = {"firstName": "Jane", "lastName": "Smith", "email": "jane@example.com"}
        headers = {"X-API-Key": key.group(1)}
        assert httpx.post(f"{url}/api/v1/leads", json=body, headers=headers).status_code == 201
        assert httpx.post(f"{url}/api/v1/leads", json=body, headers=headers).status_code == 409
        missing = httpx.post(f"{url}/api/v1/leads", json={"firstName": "J"}, headers=headers)
        assert missing.status_code == 400
        assert missing.json()["details"][0]["field"] == "lastName"
        full = httpx.post(
            f"{url}/api/v1/leads",
            json=seed_lead(email="x@example.com", firstName="X"),
            headers=headers,
        )
        assert full.status_code == 201
        # The demo tenant's own address, as the banner prints it (localtest.me is 127.0.0.1).
        on_subdomain = httpx.post(
            f"{url}/api/leads/intake",
            json=seed_lead(email="sub@example.com", firstName="Sub"),
            headers={**headers, "Host": f"demo.localtest.me:{port}"},
        )
        assert on_subdomain.status_code == 201, on_subdomain.text
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so supervisors see the signal.
    assert server.returncode in (0, -15)
    assert "Traceback" not in errors
    assert key.group(1) not in errors
    # Development logs are readable lines (JSON is the production default).
    assert "path=/api/v1/leads" in errors
    assert '"path":' not in errors

    again = subprocess.run(
        [LEADGATE, "tenant", "demo"], env=env, check=True, capture_output=True, text=True
    )
    assert "exists" in again.stdout
    # The hint names the command as it was run, so it can be pasted as it is.
    hint = re.search(r"New key: (\S+) keys create", again.stdout)
    assert hint is not None, again.stdout
    assert shutil.which(hint.group(1)) or Path(hint.group(1)).exists(), hint.group(1)


def test_migrations_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    for command in (["db", "upgrade"], ["db", "downgrade", "base"], ["db", "upgrade"]):
        result = subprocess.run([LEADGATE, *command], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    current = subprocess.run([LEADGATE, "db", "current"], env=env, capture_output=True, text=True)
    assert current.stdout.strip().endswith("(head)")
