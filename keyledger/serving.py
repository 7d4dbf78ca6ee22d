"""How `keyledger serve` runs the ASGI app under uvicorn."""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHTTP(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol with Nagle's algorithm off on every connection.

    asyncio turns on TCP_NODELAY only for sockets whose `proto` is IPPROTO_TCP. With several workers,
    uvicorn binds its listening socket with proto 0, so accepted connections keep Nagle on; an answer
    written as headers then body then waits for the client's delayed ACK, about 40 ms on Linux.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
