"""`keyledger serve` answers without waiting on Nagle's algorithm, with one API process or several."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from keyledger import cli
from keyledger.serving import NoDelayHTTP


def nagle_off_on_accepted(protocol: type[asyncio.Protocol]) -> bool:
    """Serve `protocol` on a listening socket bound the way `uvicorn --workers` binds it; TCP_NODELAY of one
    accepted connection."""

    async def accept_one() -> bool:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn's Config.bind_socket
        listener.bind(("127.0.0.1", 0))
        config = uvicorn.Config(lambda scope, receive, send: None)
        config.load()
        accepted: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def connected() -> asyncio.Protocol:
            server_protocol = protocol(config, ServerState(), {})  # type: ignore[call-arg]
            made = server_protocol.connection_made

            def connection_made(transport: Any) -> None:
                made(transport)
                accepted.set_result(transport.get_extra_info("socket"))

            server_protocol.connection_made = connection_made  # type: ignore[method-assign]
            return server_protocol

        server = await asyncio.get_running_loop().create_server(connected, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        try:
            sock = await asyncio.wait_for(accepted, 5)
            return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        finally:
            writer.close()
            server.close()

    return asyncio.run(accept_one())


def test_uvicorn_alone_leaves_nagle_on_for_multi_worker_sockets():
    # Why NoDelayHTTP exists: every answer would wait ~40 ms for the client's delayed ACK.
    assert nagle_off_on_accepted(HttpToolsProtocol) is False


def test_keyledgers_protocol_turns_nagle_off():
    assert nagle_off_on_accepted(NoDelayHTTP) is True


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_runs_uvicorn_with_that_protocol(monkeypatch, tmp_path, workers):
    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: ran.update(kwargs, app=app))
    monkeypatch.setattr(cli.os, "environ", {k: v for k, v in cli.os.environ.items() if not k.startswith("KEYLEDGER_")})

    cli.main(["serve", "--data-dir", str(tmp_path), "--workers", workers, "--port", "0"])

    assert ran["app"] == "keyledger.asgi:create" and ran["http"] is NoDelayHTTP
