"""An httpx transport that connects only to public addresses: the name is resolved here, each
address checked, and the connection made to the checked address. No second resolution is left
for a DNS rebinding answer to slip into (TLS still verifies the certificate for the host name)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from leadgate.webhooks.urls import is_public


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, allowed: Callable[[str], bool] = is_public) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allowed = allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
        addresses = [str(info[4][0]) for info in infos]
        refused = [address for address in addresses if not self._allowed(address)]
        if refused:
            raise httpcore.ConnectError(f"{host} resolves to a non-public address ({refused[0]})")
        return await self._inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never sent to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def public_only_transport(allowed: Callable[[str], bool] = is_public) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx does not take a network backend, so its connection pool is swapped for one that
    # uses ours, with httpx's own TLS defaults.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=PublicOnlyBackend(allowed),
    )
    return transport
