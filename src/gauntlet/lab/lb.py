"""A small TCP load balancer in front of the lab's API servers.

Like an HAProxy in active/backup mode: each connection goes to the first
API server, in a fixed order, whose ``/readyz`` answers 200, so losing one
API server (or cutting it off from etcd's majority) is survivable for
clients. A fixed order keeps the lab predictable: the suites know which API
server the clients use, and the chaos checks take that one away.
Run as a daemon: ``python -m gauntlet.lab.lb LISTEN_IP:PORT BACKEND ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
import time

HEALTH_INTERVAL_S = 1.0
HEALTH_TIMEOUT_S = 1.5
CONNECT_TIMEOUT_S = 2.0


class Balancer:
    """The first healthy backend in order, with health checks on /readyz."""

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.healthy = {b: True for b in backends}
        self._tls = ssl.create_default_context()
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE

    async def _check(self, backend: tuple[str, int]) -> bool:
        host, port = backend
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self._tls),
                HEALTH_TIMEOUT_S,
            )
            writer.write(
                b"GET /readyz HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n"
            )
            line = await asyncio.wait_for(reader.readline(), HEALTH_TIMEOUT_S)
            writer.close()
            return b" 200 " in line
        except (TimeoutError, OSError, ssl.SSLError):
            return False

    async def health_loop(self) -> None:
        while True:
            results = await asyncio.gather(
                *(self._check(b) for b in self.backends)
            )
            for backend, ok in zip(self.backends, results, strict=True):
                if ok != self.healthy[backend]:
                    state = "up" if ok else "down"
                    print(
                        f"{time.strftime('%H:%M:%S')} backend "
                        f"{backend[0]}:{backend[1]} {state}",
                        flush=True,
                    )
                self.healthy[backend] = ok
            await asyncio.sleep(HEALTH_INTERVAL_S)

    def candidates(self) -> list[tuple[str, int]]:
        """Healthy backends in order, then the others as a last resort."""
        up = [b for b in self.backends if self.healthy[b]]
        return up + [b for b in self.backends if not self.healthy[b]]

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        for host, port in self.candidates():
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
                )
            except (TimeoutError, OSError):
                continue
            await asyncio.gather(
                _pipe(reader, up_writer), _pipe(up_reader, writer)
            )
            return
        writer.close()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


async def serve(listen: str, backends: list[str]) -> None:
    balancer = Balancer([_split(b) for b in backends])
    host, port = _split(listen)
    server = await asyncio.start_server(
        balancer.handle, host, port, reuse_address=True
    )
    print(f"listening on {listen}, backends {backends}", flush=True)
    async with server:
        await asyncio.gather(server.serve_forever(), balancer.health_loop())


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2:]))
