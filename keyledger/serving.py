"""How `keyledger serve` runs the ASGI app under uvicorn: Nagle off, and one listening socket per API process.

The event loop is asyncio's own, even where uvloop is installed (uvicorn's `loop="auto"` would take it): uvloop
signed fewer RSA-4096 answers, the default algorithm (docs/decisions/0026-asyncio-event-loop-not-uvloop.md).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import subprocess
import sys
import threading
import time

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")
LOOP = "asyncio"


class NoDelayHTTP(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol with Nagle's algorithm off on every connection: asyncio turns on
    TCP_NODELAY only where `proto` is IPPROTO_TCP, a socket bound for several workers has proto 0, and an answer
    written as headers then body would wait for the client's delayed ACK (about 40 ms on Linux)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if b"h2c" in data:  # a scan in C: almost never there
            data = without_h2c_upgrade(data)
        super().data_received(data)


_H2C_UPGRADE = re.compile(rb"\r\nupgrade:[ \t]*h2c[ \t]*(?=\r\n)", re.IGNORECASE)


def without_h2c_upgrade(data: bytes) -> bytes:
    """The request without its offer to switch to HTTP/2 (`Upgrade: h2c`, which Java's HTTP client sends on
    plain http). The parser would stop at that header and the request lose its body; RFC 9113 lets a server
    ignore the offer and answer in HTTP/1.1."""
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    return _H2C_UPGRADE.sub(b"", head) + data[len(head):]


def listening_sockets(host: str, port: int, count: int, backlog: int = 2048) -> list[socket.socket]:
    """`count` sockets listening on one address with SO_REUSEPORT: the kernel spreads new connections
    across them by a hash of the connection's addresses (port 0: the port the first one got)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # Linux: only sockets of the same user join
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(backlog)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class SpreadWorkers(Multiprocess):
    """uvicorn's supervisor of several API processes, each accepting on a socket of its own, so the kernel spreads a
    burst of connections instead of one process taking them all (decision 0027). The sockets stay open here, so a
    process restarted after dying finds the connections that arrived meanwhile waiting in its socket's queue."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.processes_num = len(sockets)

    def _start(self, index: int) -> Process:
        process = Process(self.config, [self.sockets[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(index) for index in range(len(self.sockets))]

    def keep_subprocess_alive(self) -> None:
        """uvicorn's own rule (restart a dead or hung process; stop if one failed at startup), per socket."""
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # the app or its settings are broken: every restart would fail
                logger.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            logger.info(f"Child process [{process.pid}] died")
            self.processes[index] = self._start(index)

    def restart_all(self) -> None:
        """SIGHUP: replace each process, its replacement serving the same socket before the old one stops."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                logger.error(f"New child process [{new.pid}] was not ready in time; keeping [{old.pid}].")
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def handle_ttin(self) -> None:
        logger.info("The number of API processes is KEYLEDGER_WORKERS; SIGTTIN ignored.")

    def handle_ttou(self) -> None:
        logger.info("The number of API processes is KEYLEDGER_WORKERS; SIGTTOU ignored.")


def serve(app: str, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the ASGI app factory `app`: in this process, or in `workers` processes with a socket each."""
    import uvicorn

    if workers <= 1:
        uvicorn.run(app, factory=True, host=host, port=port, log_level=log_level, http=NoDelayHTTP, loop=LOOP)
        return
    config = Config(app, factory=True, host=host, port=port, workers=workers, log_level=log_level, http=NoDelayHTTP,
                    loop=LOOP)
    try:
        sockets = listening_sockets(host, port, workers, config.backlog)
    except OSError as error:
        logger.error(error)
        sys.exit(STARTUP_FAILURE)
    try:
        SpreadWorkers(config, sockets).run()
    finally:
        for sock in sockets:
            sock.close()


class Companion:
    """A child process `keyledger serve` keeps beside its API processes (the call-log followers, `keyledger
    follow`): started again when it dies, stopped when serve stops. If serve itself is killed, the child
    notices that its parent is gone and stops (keyledger/cli.py)."""

    RESTART_DELAYS = (1.0, 30.0)
    """The first restart waits the first, each quick death after it twice as long, up to the second."""

    def __init__(self, command: list[str], name: str) -> None:
        self.command, self.name = command, name
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._keep_alive, name=name, daemon=True)

    def start(self) -> Companion:
        self._spawn()
        self._thread.start()
        return self

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if not self._stop.is_set():
                self._process = subprocess.Popen(self.command)
            return self._process

    def _keep_alive(self) -> None:
        first, longest = self.RESTART_DELAYS
        delay, process = first, self._process
        while process is not None:
            started = time.monotonic()
            code = process.wait()
            if self._stop.is_set():
                return
            delay = first if time.monotonic() - started > longest else delay
            logger.warning(f"{self.name} [{process.pid}] exited with {code}; starting it again in {delay:.0f} s")
            if self._stop.wait(delay):
                return
            delay = min(2 * delay, longest)
            process = self._spawn()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
        with self._lock:
            self._stop.set()
            process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
