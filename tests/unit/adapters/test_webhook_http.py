"""The webhook HTTP client against real local servers: a huge or slow answer cannot hold it, redirects are not
followed, and private addresses are refused where they are not allowed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.webhook_http import EXCERPT_CHARS, WebhookPoster


@contextmanager
def raw_server(answer: bytes, pause: float = 0.0, drip: bool = False) -> Iterator[str]:
    """A TCP server that reads a request, waits `pause`, then writes `answer` (byte by byte when `drip`)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                time.sleep(pause)
                try:
                    for chunk in ([answer[i:i + 1] for i in range(len(answer))] if drip else [answer]):
                        conn.sendall(chunk)
                        if drip:
                            time.sleep(0.2)
                        if stop.is_set():
                            break
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_huge_answer_is_read_only_so_far():
    body = b"x\x00" * 5_000_000
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    poster = WebhookPoster(allow_private=True, timeout=5)
    with raw_server(answer) as url:
        started = time.monotonic()
        result = poster.post(url, b"{}", {})

    assert result.status_code == 200 and result.error is None
    assert len(result.excerpt) == EXCERPT_CHARS and "\x00" not in result.excerpt
    assert time.monotonic() - started < 3


def test_a_slow_answer_or_a_slow_drip_is_cut_off_at_the_timeout():
    poster = WebhookPoster(allow_private=True, timeout=1)
    with raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", pause=5) as url:
        slow = poster.post(url, b"{}", {})
    drip_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 100
    with raw_server(drip_answer, drip=True) as url:
        started = time.monotonic()
        poster.post(url, b"{}", {})
        dripped = time.monotonic() - started

    assert (slow.status_code, slow.error) == (None, "timeout") and slow.response_time_ms < 2500
    assert dripped < 2.5  # 140 bytes a fifth of a second apart would take 28 s


def test_a_redirect_is_not_followed_and_counts_as_a_failure():
    answer = b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest\r\nContent-Length: 0\r\n\r\n"
    with raw_server(answer) as url:
        result = WebhookPoster(allow_private=True, timeout=2).post(url, b"{}", {})
    assert (result.status_code, result.error) == (302, "HTTP 302")


def test_private_addresses_are_refused_at_connect_time_unless_allowed():
    with raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") as url:
        refused = WebhookPoster(allow_private=False, timeout=2).post(url.replace("http:", "https:"), b"{}", {})
        allowed = WebhookPoster(allow_private=True, timeout=2).post(url, b"{}", {})
    assert refused.status_code is None and "private" in refused.error
    assert allowed.status_code == 200
