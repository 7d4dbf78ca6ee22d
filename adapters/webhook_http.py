"""The webhook HTTP client: one POST, bounded in time and size, only to addresses webhooks may reach.

Addresses are checked where the connection is made (a network backend for httpcore), so the address
checked is the address connected to: a name that resolves to a public address when registered and to
a private one later (DNS rebinding) is refused when delivering. Redirects are not followed, proxies
from the environment are not used, and at most READ_LIMIT bytes of an answer are read.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable
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


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's own sockets, connected only to an address the check allows (the one checked)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        check_addresses(host, addresses, self.allow_private)
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


class WebhookPoster:
    """POSTs webhook bodies; thread-safe (one httpx client, its pool shared)."""

    def __init__(self, allow_private: bool, timeout: float = 10.0, hosts: frozenset[str] | None = None) -> None:
        self.allow_private = allow_private
        self.hosts = hosts
        self.timeout = timeout
        transport = httpx.HTTPTransport(trust_env=False)
        # httpx has no public way to give its transport a network backend: replace its httpcore pool with
        # one built the same way around the guarded backend.
        transport._pool = httpcore.ConnectionPool(ssl_context=ssl.create_default_context(), max_connections=100,
                                                  max_keepalive_connections=20, keepalive_expiry=5.0,
                                                  network_backend=_GuardedBackend(allow_private))
        self._client = httpx.Client(transport=transport, follow_redirects=False, trust_env=False,
                                    timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                                    headers={"User-Agent": USER_AGENT})

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        """One attempt; never raises for what the receiver or the network did."""
        started = time.monotonic()
        try:
            fenced_host(url, self.allow_private, self.hosts)
            with self._client.stream("POST", url, content=body,
                                     headers={**headers, "Content-Type": "application/json"}) as response:
                answer = self._read(response, started)
                status = response.status_code
        except (httpx.HTTPError, WebhookUrlError, OSError) as error:
            return PostResult(None, _ms_since(started), _describe(error), "")
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return PostResult(status, _ms_since(started), error, answer.decode("utf-8", "replace")[:EXCERPT_CHARS])

    def _read(self, response: httpx.Response, started: float) -> bytes:
        """At most READ_LIMIT bytes, within the timeout overall (a slow drip of bytes cannot hold the worker)."""
        kept = b""
        for chunk in response.iter_raw():
            kept += chunk
            if len(kept) >= READ_LIMIT or time.monotonic() - started > self.timeout:
                break
        return kept[:READ_LIMIT]

    def close(self) -> None:
        self._client.close()


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _describe(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
