"""The console's listening socket: loopback only, and its connections without Nagle's delay."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

from opayo_fba.console.server import LOOPBACK, bind_loopback


def test_it_listens_on_loopback_only() -> None:
    sock = bind_loopback()
    try:
        assert sock.getsockname()[0] == LOOPBACK
    finally:
        sock.close()


def test_a_connection_it_accepts_sends_without_waiting_for_acks() -> None:
    """asyncio (so uvicorn) sets TCP_NODELAY on an accepted connection only when the listening
    socket's protocol says TCP; without it, each page waited ~40 ms for a delayed ACK."""
    seen: list[int] = []

    class Record(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        listening = bind_loopback()
        server = await asyncio.get_running_loop().create_server(Record, sock=listening)
        async with server:
            port = listening.getsockname()[1]
            _, writer = await asyncio.open_connection(LOOPBACK, port)
            for _ in range(200):  # bounded: the accept runs on this loop
                if seen:
                    break
                await asyncio.sleep(0)
            writer.close()

    # On a thread of its own: a browser test's event loop may be running on this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, accept_one()).result(timeout=30)
    assert seen
    assert seen[0] != 0
