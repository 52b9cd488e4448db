"""The deployment files agree with each other: the image, compose, nginx and the entrypoint.

No Docker engine runs here, so the image is not built; these checks (and `make compose-config`
in CI) keep the files consistent, and tests/test_nginx.py runs nginx.conf and entrypoint.sh.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.processes import ENTRYPOINT, ROOT, render_template

DEPLOY = ROOT / "deploy"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def _entrypoint_commands() -> set[str]:
    return set(re.findall(r"^    (\w+)\)$", ENTRYPOINT.read_text(), re.MULTILINE))


def test_compose_services_run_the_entrypoints_commands() -> None:
    services = _compose()["services"]
    assert set(services) == {"migrate", "leadgate", "worker", "postgres", "redis", "nginx"}
    commands = {name: services[name]["command"] for name in ("migrate", "leadgate", "worker")}
    assert commands == {"migrate": ["migrate"], "leadgate": ["serve"], "worker": ["worker"]}
    assert _entrypoint_commands() == {"serve", "worker", "migrate"}
    for name in ("leadgate", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    # Only nginx is reachable from outside.
    assert [name for name, service in services.items() if "ports" in service] == ["nginx"]


def test_compose_trusts_only_nginx_and_keeps_secrets_out_of_the_file() -> None:
    compose = _compose()
    services = compose["services"]
    nginx_address = services["nginx"]["networks"]["backend"]["ipv4_address"]
    env = services["leadgate"]["environment"]
    assert env["LEADGATE_TRUSTED_PROXIES"] == nginx_address
    assert "LEADGATE_SECRET_KEY" not in env
    assert "LEADGATE_DATABASE_URL" not in env
    assert env["LEADGATE_SECRET_KEY_FILE"].startswith("/run/secrets/")
    assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]
    assert all("file" in secret for secret in compose["secrets"].values())


def test_nginx_conf_placeholders_are_all_given_by_compose() -> None:
    template = (DEPLOY / "nginx.conf").read_text()
    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", template))
    env = _compose()["services"]["nginx"]["environment"]
    assert placeholders <= set(env), placeholders - set(env)
    assert render_template(template, {name: "x" for name in placeholders})
    with pytest.raises(ValueError, match="NGINX_LISTEN"):
        render_template(template, {name: "x" for name in placeholders - {"NGINX_LISTEN"}})


def test_the_image_is_multi_stage_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]
    assert len(stages) == 2
    final = stages[-1]
    assert "build-essential" in stages[0]
    assert "build-essential" not in final
    assert "apt-get install" not in final
    user = re.search(r"^USER (\S+)", final, re.MULTILINE)
    assert user is not None
    assert not user.group(1).startswith(("root", "0"))
    assert 'ENTRYPOINT ["leadgate-entrypoint"]' in final
    assert "COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/leadgate-entrypoint" in final
    assert 'CMD ["serve"]' in final
    assert "HEALTHCHECK" in final
    assert "/healthz" in final
    assert "EXPOSE 8000" in final
    ignored = (ROOT / ".dockerignore").read_text()
    assert "!deploy/entrypoint.sh" in ignored


def test_entrypoint_reads_secrets_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file")
    shown = subprocess.run(
        [str(ENTRYPOINT), "sh", "-c", 'echo "$LEADGATE_SECRET_KEY|${LEADGATE_SECRET_KEY_FILE:-}"'],
        env={"PATH": "/usr/bin:/bin", "LEADGATE_SECRET_KEY_FILE": str(secret)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == "from-a-file|"


def test_compose_config_is_valid() -> None:
    """What `make compose-config` runs in CI, when a compose client is installed."""
    if shutil.which("docker-compose"):
        command = ["docker-compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"]
    else:
        pytest.skip("no docker-compose here; CI runs `make compose-config`")
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
