"""A real loopback HTTP proxy in front of the local API server that delays, drops or loses answers.

The gateway under test talks plain HTTP to the proxy; the proxy forwards each request over HTTPS to the
API server with the headers the gateway set (a user's token included; the console's token when there is
none, as the gateway under test has no credentials of its own) and
then does what the test asked for that request:

- `pass`: answer as the server did;
- `delay`: wait `seconds` first (a slow API server);
- `drop`: close the connection without forwarding (a server that is down or unreachable);
- `lose-answer`: forward it (the server acts on it), then close without answering (a timeout after the
  write was made).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml


@dataclass
class Fault:
    action: str = "pass"  # pass | delay | drop | lose-answer
    seconds: float = 0.0


@dataclass
class FaultProxy:
    upstream: str
    token: str
    ca_file: str
    rule: Callable[[str, str], Fault] = lambda method, path: Fault()
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, what happened)
    port: int = 0

    @classmethod
    def for_console(cls, cluster_dir: Path) -> FaultProxy:
        config = yaml.safe_load((cluster_dir / "console.kubeconfig").read_text())
        return cls(upstream=config["clusters"][0]["cluster"]["server"], token=config["users"][0]["user"]["token"],
                   ca_file=str(cluster_dir / "pki" / "ca.crt"))

    async def __aenter__(self) -> FaultProxy:
        context = ssl.create_default_context(cafile=self.ca_file)
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()
        await self._session.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip()] = v.strip()
                length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
                body = await reader.readexactly(length) if length else b""
                fault = self.rule(method, target)
                if fault.action == "delay":
                    await asyncio.sleep(fault.seconds)
                if fault.action == "drop":
                    self.seen.append((method, target, "dropped"))
                    return
                forward = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "connection")}
                if not any(k.lower() == "authorization" for k in forward):  # a user's own token goes as is
                    forward["Authorization"] = f"Bearer {self.token}"
                async with self._session.request(method, self.upstream + target, headers=forward,
                                                 data=body or None) as resp:
                    data = await resp.read()
                    status, reason, ctype = resp.status, resp.reason or "", resp.headers.get("Content-Type", "")
                if fault.action == "lose-answer":
                    self.seen.append((method, target, f"{status} lost"))
                    return
                self.seen.append((method, target, str(status)))
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                             f"Content-Length: {len(data)}\r\n\r\n".encode("latin-1") + data)
                await writer.drain()
        finally:
            writer.close()
