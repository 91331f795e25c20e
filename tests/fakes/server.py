"""A small threaded HTTP server hosting fake providers, with fault injection and recording.

A ``FakeProvider`` answers the requests it recognises; a ``ProviderServer`` (stdlib
``ThreadingHTTPServer`` in a background thread, 127.0.0.1, port 0 by default) hosts one or more
providers. ``down()`` closes the listening socket and every open connection, so clients get
"connection refused" until ``up()`` binds the same port again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlsplit

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    query: str
    headers: Message
    body: bytes

    def form(self) -> dict[str, str]:
        """The url-encoded body; the last value wins for repeated names."""
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class FakeResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> FakeResponse:
        return cls(
            status,
            json.dumps(payload).encode("utf-8"),
            {"Content-Type": "application/json; charset=utf-8", **headers},
        )


@dataclass
class Faults:
    """What goes wrong. Reset to "nothing" by ``FakeProvider.reset()``.

    error_rate: share of requests answered with ``error_status`` (a seeded random, so a run
        is reproducible); error_every: every n-th request fails (0: never); delay_s: wait
        before answering (longer than the client's timeout gives a timeout).
    """

    error_rate: float = 0.0
    error_every: int = 0
    error_status: int = 503
    delay_s: float = 0.0


class Recorder(Generic[T]):
    """A thread-safe list that tests can wait on."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._cond = threading.Condition()

    def append(self, item: T) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def all(self) -> list[T]:
        with self._cond:
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[T]:
        """All items once there are at least ``count``; AssertionError after ``timeout`` s."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) >= count, timeout=timeout):
                raise AssertionError(
                    f"waited {timeout} s for {count} recorded, got {len(self._items)}"
                )
            return list(self._items)


class FakeProvider:
    """Base of FakeTwilio and FakeFCM: faults, recording helpers and a lifecycle of its own."""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self.faults = Faults()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._request_count = 0
        self._release = threading.Event()
        self.server: ProviderServer | None = None
        # The recipient (number or token) of every API call that reached the fault decision,
        # answered or failed: how often a client tried, e.g. to prove it did not retry.
        self.attempts: Recorder[str] = Recorder()

    # Subclasses: return a response for the paths they serve, None for others.
    def handle(self, request: FakeRequest) -> FakeResponse | None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget recordings, clear faults, cut pending delays short, and be up again."""
        with self._lock:
            self.faults = Faults()
            self._random = random.Random(self.seed)
            self._request_count = 0
            release, self._release = self._release, threading.Event()
        release.set()
        self.attempts.clear()
        if self.server is not None and not self.server.is_up:
            self.server.up()

    def should_fail(self, recipient: str = "") -> bool:
        """Count one request and decide whether the configured fault hits it."""
        self.attempts.append(recipient)
        with self._lock:
            self._request_count += 1
            faults = self.faults
            if faults.error_every and self._request_count % faults.error_every == 0:
                return True
            return bool(faults.error_rate) and self._random.random() < faults.error_rate

    @property
    def request_count(self) -> int:
        """Requests that reached the fault decision (authenticated API calls) since reset()."""
        with self._lock:
            return self._request_count

    def delay(self) -> bool:
        """Wait ``faults.delay_s``; False when a reset() cut the wait short.

        A request interrupted by reset() belongs to the previous test: the provider answers it
        with an error and records nothing, so it cannot leak into the next test's recordings.
        """
        delay_s = self.faults.delay_s
        if delay_s <= 0:
            return True
        return not self._release.wait(delay_s)

    # Lifecycle of a server hosting only this provider.
    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeProvider:
        ProviderServer([self], host=host, port=port).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def down(self) -> None:
        """Close the listening socket and open connections: clients get connection refused."""
        assert self.server is not None, "not started"
        self.server.down()

    def up(self) -> None:
        assert self.server is not None, "not started"
        self.server.up()

    @property
    def base_url(self) -> str:
        assert self.server is not None, "not started"
        return self.server.base_url


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs; every answer has a length
    timeout = 30
    # Each answer leaves in one segment, at once. Unbuffered (the default), the headers and the
    # body were two writes; Nagle held the body until the client acknowledged the headers, and
    # the client delays that ACK by 40 ms: every kept-alive request took 44 ms.
    wbufsize = -1  # buffered; BaseHTTPRequestHandler flushes after each request
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.untrack(self.connection)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = FakeRequest(self.command, parts.path, parts.query, self.headers, body)
        response = None
        try:
            for provider in self.server.providers:
                response = provider.handle(request)
                if response is not None:
                    break
        except Exception:
            logger.exception("fake provider failed on %s %s", self.command, self.path)
            response = FakeResponse.json(500, {"error": "fake provider crashed"})
        if response is None:
            response = FakeResponse.json(404, {"error": f"no fake for {self.command} {parts.path}"})
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:  # the server went down or the client gave up (timeout)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], providers: list[FakeProvider]) -> None:
        self.providers = providers
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(sock)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class ProviderServer:
    """Serves one or more fake providers on one port."""

    def __init__(
        self, providers: Iterable[FakeProvider], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.providers = list(providers)
        self.host = host
        self.port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for provider in self.providers:
            provider.server = self

    @property
    def is_up(self) -> bool:
        return self._httpd is not None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ProviderServer:
        if self._httpd is not None:
            return self
        httpd = self._bind()
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-providers:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def _bind(self) -> _HTTPServer:
        # up() rebinds the port it had; a just-closed port can need a moment.
        deadline = time.monotonic() + 2.0
        while True:
            try:
                return _HTTPServer((self.host, self.port), self.providers)
            except OSError:
                if not self.port or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    down = stop

    def up(self) -> None:
        self.start()

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def call_later(delay_s: float, function: Callable[[], Any]) -> threading.Thread:
    """Run ``function`` in a daemon thread after ``delay_s`` seconds (status callbacks)."""

    def run() -> None:
        time.sleep(delay_s)
        try:
            function()
        except Exception:
            logger.exception("fake provider background call failed")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
