"""A tiny recording HTTP proxy for the tests of proxy and User-Agent plumbing."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit


class TeeProxy:
    """A tiny HTTP proxy (absolute-form requests and CONNECT) recording what clients send."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.connects = 0
        self.origin = b""
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            if method == "CONNECT":
                self.connects += 1
                host, port = target.rsplit(":", 1)
                up_r, up_w = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                parts = urlsplit(target)
                up_r, up_w = await asyncio.open_connection(parts.hostname, parts.port)
                self.sent += head
                self.origin = f"{method} {parts.scheme}://{parts.netloc}".encode()
                up_w.write(self._origin_form(head))
            await asyncio.gather(self._pipe(reader, up_w, True), self._pipe(up_r, writer, False))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _origin_form(self, data: bytes) -> bytes:
        """Absolute-form request lines → origin-form, as a forwarding proxy does."""
        return data.replace(self.origin, self.origin.split(b" ")[0] + b" ") if self.origin else data

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, tee: bool) -> None:
        with contextlib.suppress(OSError):
            while data := await r.read(65536):
                if tee:
                    self.sent += data
                    data = self._origin_form(data)
                w.write(data)
                await w.drain()
        with contextlib.suppress(OSError):
            w.close()
