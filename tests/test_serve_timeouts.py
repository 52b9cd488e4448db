"""`leadgate serve` without a proxy in front: a connection that sends nothing, or its request
head too slowly, is closed after the header timeout; an idle keep-alive connection after the
keep-alive timeout (nginx's `client_header_timeout` and `keepalive_timeout` do this behind it)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import Server, leadgate_env, run_leadgate, start_server, stop

# Far more than the timeouts below: the server closing first is what is waited for.
PATIENCE_SECONDS = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("serve-timeouts")
    env = leadgate_env(data_dir=str(data), header_timeout_seconds="1", keep_alive_seconds="1")
    run_leadgate(["db", "upgrade"], env)
    running = start_server(env, data / "server.log")
    try:
        yield running
    finally:
        stop(running.process)


def _closed_by_server(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    connection.settimeout(PATIENCE_SECONDS)
    received = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            pytest.fail(f"the server kept the connection open ({received[:200]!r})")
        if not chunk:
            return received
        received += chunk


def _connect(server: Server) -> socket.socket:
    port = int(server.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    with _connect(server) as connection:
        assert _closed_by_server(connection) == b""


def test_a_request_head_that_never_ends_is_closed(server: Server) -> None:
    with _connect(server) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
        assert b"200 OK" not in _closed_by_server(connection)


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with _connect(server) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"200 OK" in _closed_by_server(connection)


def test_a_second_request_on_a_connection_still_works(server: Server) -> None:
    with _connect(server) as connection:
        connection.settimeout(PATIENCE_SECONDS)
        for _ in range(2):
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            response = b""
            while not response.endswith(b'{"status":"ok"}'):
                chunk = connection.recv(65536)
                assert chunk, response
                response += chunk
            assert response.startswith(b"HTTP/1.1 200 OK")


def test_the_timeouts_are_documented() -> None:
    text = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    assert "LEADGATE_HEADER_TIMEOUT_SECONDS" in text
    assert "LEADGATE_KEEP_ALIVE_SECONDS" in text
    assert "client_header_timeout" in text
