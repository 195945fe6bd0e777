"""A TCP proxy that delivers every byte a fixed time late, both ways.

The lab's kernel has no netem, so a component is slowed by pointing it at
this proxy: each of its API calls and watch events then takes the delay
longer, the same every time (a CPU cap slows it by how busy it happens to
be). Bytes pass through untouched (TLS stays end to end) and in order.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from typing import Self

CHUNK = 65536


class DelayProxy:
    """Listen on ``host``, forward each connection to ``upstream`` with
    ``delay_s`` added to both directions; ``close`` ends every connection."""

    def __init__(
        self, host: str, upstream: tuple[str, int], delay_s: float
    ) -> None:
        self.upstream = upstream
        self.delay_s = delay_s
        self._server = socket.create_server((host, 0))
        self.address: tuple[str, int] = self._server.getsockname()[:2]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.connections = 0
        """Connections accepted so far (the component really uses us)."""

    @property
    def url(self) -> str:
        host, port = self.address
        return f"https://{host}:{port}"

    def start(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def close(self) -> None:
        self._closed.set()
        self._server.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._closed.is_set():
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
                self.connections += 1
            for src, dst in ((client, server), (server, client)):
                self._pipe(src, dst)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        """Read ``src`` now, write ``dst`` ``delay_s`` later, in order."""
        held: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()

        def read() -> None:
            while True:
                try:
                    data = src.recv(CHUNK)
                except OSError:
                    data = b""  # as an end of stream
                held.put((time.monotonic() + self.delay_s, data))
                if not data:
                    return

        def write() -> None:
            while True:
                due, data = held.get()
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    if not data:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    dst.sendall(data)
                except OSError:
                    return

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=write, daemon=True).start()
