"""The webhook HTTP client: one POST, bounded in time and size, only to addresses webhooks may reach.

Addresses are checked where the connection is made (a network backend for httpcore), so the address
checked is the address connected to: a name that resolves to a public address when registered and to
a private one later (DNS rebinding) is refused when delivering. Redirects are not followed, proxies
from the environment are not used, and at most READ_LIMIT bytes of an answer are read.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, NamedTuple

import httpcore
import httpx

from domain.webhook import WebhookUrlError, check_addresses, check_url

READ_LIMIT = 4096
EXCERPT_CHARS = 1024
USER_AGENT = "KeyLedger-Webhooks/1"


class PostResult(NamedTuple):
    """What one attempt got: a status (None when no answer came), how long it took, an error, the answer's start."""

    status_code: int | None
    response_time_ms: int
    error: str | None
    excerpt: str


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (empty when it does not resolve)."""
    try:
        return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))
    except (socket.gaierror, UnicodeError):
        return []


def fenced_host(url: str, allow_private: bool, hosts: frozenset[str] | None) -> str:
    """The URL's host, if its shape is right and (when `hosts` is given) it is one of them."""
    host = check_url(url, allow_private)
    if hosts is not None and host not in hosts:
        raise WebhookUrlError(f"url's host must be one of: {', '.join(sorted(hosts))}")
    return host


class UrlGuard:
    """The registration-time check: the URL's shape and host, then every address its host resolves to."""

    def __init__(self, allow_private: bool, hosts: frozenset[str] | None = None) -> None:
        self.allow_private = allow_private
        self.hosts = hosts

    def __call__(self, url: str) -> None:
        host = fenced_host(url, self.allow_private, self.hosts)
        if not self.allow_private:
            check_addresses(host, resolve(host, 443), self.allow_private)


_DEADLINE: ContextVar[float | None] = ContextVar("webhook_deadline", default=None)
"""When the current attempt must end (monotonic seconds): every socket read and write is bounded by it."""


def _bounded(timeout: float | None) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("the attempt's time is up")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the attempt's deadline: httpx's timeouts bound each read,
    so an answer dripped a byte at a time (headers included) would otherwise hold the worker indefinitely."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's own sockets, connected only to an address the check allows (the one checked), and bounded by
    the attempt's deadline."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        check_addresses(host, addresses, self.allow_private)
        return _DeadlineStream(super().connect_tcp(addresses[0], port, _bounded(timeout), local_address,
                                                   socket_options))


class WebhookPoster:
    """POSTs webhook bodies; thread-safe (one httpx client, its pool shared)."""

    def __init__(self, allow_private: bool, timeout: float = 10.0, hosts: frozenset[str] | None = None) -> None:
        self.allow_private = allow_private
        self.hosts = hosts
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        """The client, built at the first delivery: its TLS contexts take a tenth of a second to load, which
        every process would otherwise pay at start, webhooks or not."""
        with self._lock:
            if self._client is None:
                transport = httpx.HTTPTransport(trust_env=False)
                # httpx has no public way to give its transport a network backend: replace its httpcore pool
                # with one built the same way around the guarded backend.
                transport._pool = httpcore.ConnectionPool(
                    ssl_context=ssl.create_default_context(), max_connections=100, max_keepalive_connections=20,
                    keepalive_expiry=5.0, network_backend=_GuardedBackend(self.allow_private))
                self._client = httpx.Client(transport=transport, follow_redirects=False, trust_env=False,
                                            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
                                            headers={"User-Agent": USER_AGENT})
            return self._client

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        """One attempt; never raises for what the receiver or the network did."""
        started = time.monotonic()
        token = _DEADLINE.set(started + self.timeout)
        try:
            fenced_host(url, self.allow_private, self.hosts)
            with self._http().stream("POST", url, content=body,
                                     headers={**headers, "Content-Type": "application/json"}) as response:
                answer = self._read(response, started)
                status = response.status_code
        except (httpx.HTTPError, WebhookUrlError, OSError) as error:
            return PostResult(None, _ms_since(started), _describe(error), "")
        finally:
            _DEADLINE.reset(token)
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return PostResult(status, _ms_since(started), error, _text(answer)[:EXCERPT_CHARS])

    def _read(self, response: httpx.Response, started: float) -> bytes:
        """At most READ_LIMIT bytes, within the timeout overall (a slow drip of bytes cannot hold the worker)."""
        kept = b""
        for chunk in response.iter_raw():
            kept += chunk
            if len(kept) >= READ_LIMIT or time.monotonic() - started > self.timeout:
                break
        return kept[:READ_LIMIT]

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _describe(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    return _text(f"{type(error).__name__}: {error}".encode())[:500]


def _text(raw: bytes) -> str:
    """Bytes as text fit to store: invalid UTF-8 and NUL (which PostgreSQL text cannot hold) replaced."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")
