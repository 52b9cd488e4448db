"""The URLs leadgate tells people about (start banner, console, CLI hints), worked out from
where it really answers: `public_url` (which `leadgate serve` sets from its own address and port
unless configured) and the tenant subdomains under `base_domain`, port included."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit

from leadgate.settings import Settings


def tenant_base_url(settings: Settings, slug: str) -> str | None:
    """`http://<slug>.<base domain>[:port]`, the tenant's own address; None without a base
    domain. Scheme and port are the public URL's."""
    if not settings.base_domain:
        return None
    public = urlsplit(settings.public_url)
    port = f":{public.port}" if public.port else ""
    return f"{public.scheme or 'https'}://{slug}.{settings.base_domain}{port}"


def serve_public_url(scheme: str, host: str, port: int) -> str:
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return f"{scheme}://{shown_host}:{port}"


def command_path() -> str:
    """How this terminal ran `leadgate` (`.venv/bin/leadgate` under `make run`), for hints
    that can be pasted as they are."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "leadgate"
    if Path(argv0).name != "leadgate":
        return "leadgate"
    path = Path(argv0)
    if path.is_absolute():
        try:
            relative = path.relative_to(Path.cwd())
        except ValueError:
            return shlex.quote(argv0)
        return shlex.quote(str(relative)) if os.sep in str(relative) else f"./{relative}"
    return shlex.quote(argv0)


def serve_banner(settings: Settings) -> list[str]:
    base = settings.public_url.rstrip("/")
    lines = [
        f"leadgate is serving on {base}",
        f"  Console:      {base}/console",
        f"  API explorer: {base}/docs",
        f"  OpenAPI:      {base}/openapi.json",
    ]
    example = tenant_base_url(settings, "<slug>")
    if example:
        lines.append(f"  Tenant URLs:  {example}/api/v1 (e.g. {tenant_base_url(settings, 'demo')})")
    return lines
