"""Real processes for tests: `leadgate` servers and workers, and private Redis/PostgreSQL servers.

Every test that starts a process goes through here, so ports, readiness waits and shutdown are
handled one way. Private Redis and PostgreSQL servers exist for outage tests: never stop or flush
the shared services on 127.0.0.1:6379/5432 (other tests, and other runs, use them at once).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

LEADGATE = str(Path(sys.executable).with_name("leadgate"))
ROOT = Path(__file__).resolve().parent.parent
# The production commands (Dockerfile, deploy/compose.yaml): `entrypoint.sh serve|worker|migrate`.
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
NGINX = "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), 0.5):
            return True
    except OSError:
        return False


def accepted_connections(port: int) -> int:
    """Open connections to local `port` that the listening process has accepted. Linux's table
    shows a connection still waiting in the listen queue without an inode: a server that stops
    listening drops those, but finishes the accepted ones."""
    accepted = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            established, inode = fields[3] == "01", fields[9]
            if local_port == port and established and inode != "0":
                accepted += 1
    return accepted


def leadgate_env(settings: Mapping[str, str] | None = None, /, **overrides: str) -> dict[str, str]:
    """This process's environment without any LEADGATE_ variable, plus `settings` and `overrides`
    (keys without the prefix are given it: `access_log="false"` → LEADGATE_ACCESS_LOG)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    env.update(settings or {})
    env.update({f"LEADGATE_{k.upper()}": v for k, v in overrides.items()})
    return env


def wait_until_up(
    url: str,
    process: subprocess.Popen[Any] | None = None,
    path: str = "/healthz",
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Wait (60 s at most: coverage on a busy machine is slow) until `url + path` answers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            httpx.get(f"{url}{path}", timeout=1, verify=verify)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Send `sig` (SIGTERM: a graceful stop) and wait; kill if it does not end in `timeout`."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


def metric(url: str, name: str) -> float:
    """One unlabelled value from a server's `/metrics` (0 while it was never set)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_leadgate(
    args: Sequence[str], env: Mapping[str, str], log: Path, wait: bool = True
) -> subprocess.Popen[bytes]:
    """`leadgate <args>` with output (stdout and stderr) appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [LEADGATE, *args], env=dict(env), stdout=output, stderr=subprocess.STDOUT
        )


def run_leadgate(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> str:
    """`leadgate <args>` to completion (a CLI command); its stdout. Fails with its stderr."""
    result = subprocess.run(
        [LEADGATE, *args], env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"leadgate {' '.join(args)}: {result.stderr}")
    return result.stdout


def entrypoint_env(env: Mapping[str, str], **extra: str) -> dict[str, str]:
    """`env` for deploy/entrypoint.sh: this virtualenv's `leadgate` first on PATH, plus `extra`."""
    path = f"{Path(LEADGATE).parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    return {**env, "PATH": path, **extra}


def start_entrypoint(
    args: Sequence[str], env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """`deploy/entrypoint.sh <args>`, exactly as the image runs it, output appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(ENTRYPOINT), *args],
            env=entrypoint_env(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def start_server(
    env: Mapping[str, str],
    log: Path,
    args: Sequence[str] = (),
    port: int | None = None,
    entrypoint: bool = False,
) -> Server:
    """One `leadgate serve` on a free port, up when this returns. `entrypoint=True` starts it as
    the image does (`deploy/entrypoint.sh serve`, the port given in $PORT)."""
    port = port or free_port()
    if entrypoint:
        env = {**env, "LISTEN_HOST": "127.0.0.1", "PORT": str(port)}
        process = start_entrypoint(["serve", *args], env, log)
    else:
        process = start_leadgate(["serve", "--port", str(port), *args], env, log)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_up(server.url, process)
    except RuntimeError:
        stop(process)
        raise RuntimeError(server.output()) from None
    return server


@contextmanager
def servers(
    env: Mapping[str, str],
    count: int,
    log_dir: Path,
    args: Sequence[str] = (),
    entrypoint: bool = False,
) -> Iterator[list[Server]]:
    """`count` `leadgate serve` processes; stopped with SIGTERM (then SIGKILL) on exit."""
    started: list[Server] = []
    try:
        for index in range(count):
            log = log_dir / f"server-{index}.log"
            started.append(start_server(env, log, args, entrypoint=entrypoint))
        yield started
    finally:
        for server in started:
            stop(server.process)


@contextmanager
def private_redis(port: int | None = None) -> Iterator[int]:
    """A redis-server of the test's own (nothing on disk), for tests that stop Redis."""
    port = port or free_port()
    process = start_redis(port)
    try:
        yield port
    finally:
        stop(process, timeout=10)


def start_redis(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not port_open(port):
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError("private redis-server did not start")
        time.sleep(0.05)
    return process


def _postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return versions[-1].parent


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, which the test may stop and start again."""

    port: int
    data_dir: Path
    log: Path
    bin_dir: Path = field(default_factory=_postgres_bin)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log)]
        subprocess.run(_as_postgres([*command, *args]), check=True, capture_output=True)

    def start(self) -> None:
        self._pg_ctl("-o", f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1",
                     "-w", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop")

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The server and its sessions stopped dead (SIGSTOP): connections stay open and nothing
        answers, like a network partition. Thawed (SIGCONT) on exit, whatever happened."""
        master = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        # The postmaster first, so that no session is forked after its children were listed
        # (a client pool opening a connection at that moment would get a live backend).
        os.kill(master, signal.SIGSTOP)
        pids = [master, *_children(master)]
        for pid in pids[1:]:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


def _children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # /proc/PID/stat: "pid (comm) state ppid ...", comm may contain spaces.
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent:
            children.append(int(entry.name))
    return children


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb a throw-away cluster (trust auth, fsync off) on a free port and start it."""
    root = Path(tempfile.mkdtemp(prefix="leadgate-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    server = PrivatePostgres(free_port(), root / "data", root / "postgres.log")
    subprocess.run(
        _as_postgres([str(server.bin_dir / "initdb"), "-D", str(server.data_dir), "-U",
                      "postgres", "--auth=trust", "--no-sync"]),
        check=True,
        capture_output=True,
    )  # fmt: skip
    with (server.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
    server.start()
    try:
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):  # already stopped by the test
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# --- nginx (deploy/nginx.conf) ---------------------------------------------------------------


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Fills `${NAME}` placeholders as the nginx image's envsubst step does; every placeholder
    must have a value (nginx's own `$variables` have no braces and are left alone)."""
    missing = sorted(set(re.findall(r"\$\{([A-Z0-9_]+)\}", text)) - set(values))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return re.sub(r"\$\{([A-Z0-9_]+)\}", lambda match: values[match.group(1)], text)


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    port: int
    prefix: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def access_log(self) -> str:
        return (self.prefix / "access.log").read_text(errors="replace")

    def error_log(self) -> str:
        return (self.prefix / "error.log").read_text(errors="replace")


@contextmanager
def nginx(
    prefix: Path, upstreams: Sequence[str], cert: Path, key: Path, client_ca: Path
) -> Iterator[Nginx]:
    """Debian's nginx, as the current user, running deploy/nginx.conf rendered for `upstreams`
    (`host:port` each) on a free port; its access log (stdout) in `prefix/access.log`."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    upstream_file = prefix / "upstreams.conf"
    upstream_file.write_text("".join(f"server {address};\n" for address in upstreams))
    conf = prefix / "nginx.conf"
    template = (ROOT / "deploy" / "nginx.conf").read_text()
    conf.write_text(
        render_template(
            template,
            {
                "NGINX_LISTEN": f"127.0.0.1:{port}",
                "NGINX_TLS_CERT": str(cert),
                "NGINX_TLS_KEY": str(key),
                "NGINX_CLIENT_CA": str(client_ca),
                "NGINX_UPSTREAMS": str(upstream_file),
            },
        )
    )
    directives = f"daemon off; pid {prefix / 'nginx.pid'};"
    if os.geteuid() == 0:  # workers would run as `nobody`, who cannot use the test's files
        directives += " user root;"
    command = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"),
               "-g", directives]  # fmt: skip
    with (prefix / "access.log").open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            log = prefix / "error.log"
            raise RuntimeError(
                f"nginx did not start: {log.read_text() if log.exists() else '(no log)'}"
            )
        time.sleep(0.05)
    try:
        yield Nginx(process, port, prefix)
    finally:
        stop(process, signal.SIGQUIT)  # graceful: finish requests in flight
