"""`keyledger serve` answers without waiting on Nagle's algorithm, and spreads connections over its API processes."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.config import STARTUP_FAILURE
from uvicorn.server import ServerState

from keyledger import cli
from keyledger.serving import NoDelayHTTP, listening_sockets


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


def test_serve_runs_one_process_under_uvicorn_with_that_protocol(monkeypatch, tmp_path):
    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: ran.update(kwargs, app=app))
    monkeypatch.setattr(cli.os, "environ", {k: v for k, v in cli.os.environ.items() if not k.startswith("KEYLEDGER_")})

    cli.main(["serve", "--data-dir", str(tmp_path), "--workers", "1", "--port", "0"])

    assert ran["app"] == "keyledger.asgi:create" and ran["http"] is NoDelayHTTP and ran["loop"] == "asyncio"


def test_several_processes_get_a_listening_socket_each_on_one_port():
    sockets = listening_sockets("127.0.0.1", 0, 3)
    try:
        # Check every socket listens on the same port, so clients see one address.
        assert len({sock.getsockname() for sock in sockets}) == 1
        assert all(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def test_a_burst_of_connections_is_spread_over_every_process_socket():
    sockets = listening_sockets("127.0.0.1", 0, 2)
    clients = []
    try:
        for _ in range(64):  # what a proxy's keep-alive pool or a load generator opens at once
            clients.append(socket.create_connection(sockets[0].getsockname(), timeout=5))
        accepted = [_accept_all(sock) for sock in sockets]
        # Check both processes' sockets got a fair share: with one shared socket, one process may take all.
        assert sum(accepted) == 64
        assert min(accepted) >= 16, accepted
    finally:
        for sock in [*clients, *sockets]:
            sock.close()


def _accept_all(listener: socket.socket) -> int:
    listener.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_a_taken_port_stops_serve_with_uvicorns_startup_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(cli.os, "environ", {k: v for k, v in cli.os.environ.items() if not k.startswith("KEYLEDGER_")})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(SystemExit) as exited:
            cli.main(["serve", "--data-dir", str(tmp_path), "--workers", "2", "--port", str(port)])

    assert exited.value.code == STARTUP_FAILURE
