"""A real HTTP receiver for webhook tests: a threaded server on 127.0.0.1 that records every
request and answers as the test tells it to."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


# (status, headers, body) for the n-th request (0-based).
Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[int, Received], Reply]


def always(status: int, body: bytes = b"ok", headers: dict[str, str] | None = None) -> Responder:
    return lambda _n, _request: (status, headers or {}, body)


class Receiver:
    def __init__(self, responder: Responder | None = None, delay: float = 0.0) -> None:
        self.responder = responder or always(200)
        self.delay = delay
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request (SIGKILL): nothing was delivered
                received = Received(
                    at=time.monotonic(),
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with receiver.lock:
                    index = len(receiver.requests)
                    receiver.requests.append(received)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, headers, body = receiver.responder(index, received)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except ConnectionError:
                    pass  # the sender gave up (timeout) or died: what it may do

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # senders connect concurrently (a batch at a time)

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a sender that dies or times out resets its connection: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Waits until at least `count` requests arrived (fails the test after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.received())}")

    def verify_all(self, secret: str) -> list[Any]:
        """Every request verified with the standardwebhooks package; returns the payloads."""
        webhook = Webhook(secret)
        return [webhook.verify(r.body, r.headers) for r in self.received()]


@contextmanager
def running_receiver(responder: Responder | None = None, delay: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(responder, delay)
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
