"""The HTTP/1.1 protocol `leadgate serve` runs: uvicorn's httptools protocol with a deadline for
a request's head. uvicorn times out a keep-alive connection only once a response is sent, so a
connection that sends nothing, or trickles its headers, would otherwise stay open for ever (and
hold a slot and a file descriptor). nginx's `client_header_timeout` does this when in front."""

from __future__ import annotations

import asyncio
import functools

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@functools.cache
def header_timeout_seconds() -> float:
    """Read once per process (each worker process of `leadgate serve --workers N` imports this)."""
    from leadgate.settings import Settings

    return Settings().header_timeout_seconds


class HeaderTimeoutProtocol(HttpToolsProtocol):
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_head()

    def on_headers_complete(self) -> None:
        self._head_arrived()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(
                header_timeout_seconds(), self._head_timed_out
            )

    def _head_arrived(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
