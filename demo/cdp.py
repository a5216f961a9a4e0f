"""A headless Chromium driven over the Chrome DevTools Protocol, with nothing but the standard library.

:class:`Chromium` starts ``chromium --headless=new --remote-debugging-port=0`` with a throwaway profile, reads the
browser's WebSocket address from ``DevToolsActivePort`` and keeps one WebSocket (RFC 6455, text frames) to it;
pages are driven through flattened target sessions (``Target.attachToTarget(flatten=True)``), so every command is
one ``call``. Events are read and dropped: the driver only waits for its commands' answers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Headless, quiet and light: no GPU, no background networking, extensions, sync or component updates.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--disable-dev-shm-usage", "--renderer-process-limit=2",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0")


class CdpError(RuntimeError):
    """The browser answered a command with an error, went away, or did not answer in time."""


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


class WebSocket:
    """A client WebSocket for text messages (masked frames out; ping answered; fragments joined)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        rest = url.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CdpError("the browser closed the connection during the WebSocket handshake")
            head += chunk
        head, self._buffer = head.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()  # noqa: S324 (RFC 6455)
        if not head.startswith(b"HTTP/1.1 101") or accept.encode() not in head:
            raise CdpError(f"no WebSocket upgrade: {head.splitlines()[0].decode(errors='replace')}")

    def send(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def _frame(self, opcode: int, data: bytes) -> None:
        n = len(data)
        head = bytes([0x80 | opcode])
        head += bytes([0x80 | n]) if n < 126 else (bytes([0x80 | 126]) + struct.pack("!H", n) if n < 65536
                                                   else bytes([0x80 | 127]) + struct.pack("!Q", n))
        mask = os.urandom(4)
        masked = (int.from_bytes(data, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
        self.sock.sendall(head + mask + masked)

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buffer)))
            if not chunk:
                raise CdpError("the browser closed its DevTools connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def receive(self) -> str:
        parts: list[bytes] = []
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if second & 0x80 else b""
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = first & 0x0F
            if opcode == 0x8:
                raise CdpError("the browser closed its DevTools connection")
            if opcode == 0x9:
                self._frame(0xA, data)
                continue
            if opcode in (0x0, 0x1, 0x2):
                parts.append(data)
                if first & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._frame(0x8, b"")
        self.sock.close()


class Chromium:
    """One headless Chromium and a DevTools connection to it; ``close()`` stops it and removes its profile."""

    def __init__(self, executable: str, start_timeout: float = 20.0) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="tracklog-demo-chromium-"))
        self.process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        self._ids = itertools.count(1)
        try:
            self.ws = WebSocket(self._browser_url(start_timeout))
        except BaseException:
            self.close()
            raise

    def _browser_url(self, timeout: float) -> str:
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CdpError(f"chromium exited at start (exit code {self.process.returncode})")
            lines = active.read_text().split() if active.exists() else []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.1)
        raise CdpError(f"chromium did not open its DevTools port within {timeout:g}s")

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 20.0) -> dict[str, Any]:
        """Send one command (to a page's ``session``, else the browser) and return its result."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.sock.settimeout(timeout)
        try:
            self.ws.send(json.dumps(message))
            while True:
                answer = json.loads(self.ws.receive())
                if answer.get("id") == ident:
                    break
        except (OSError, ValueError) as exc:
            raise CdpError(f"{method}: {type(exc).__name__}: {exc}") from exc
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error'].get('message', answer['error'])}")
        return dict(answer.get("result") or {})

    def evaluate(self, session: str, expression: str, timeout: float = 20.0) -> Any:
        """The value of a JavaScript expression in the page (promises awaited); a thrown exception is a CdpError."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session, timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(f"in the page: {details.get('exception', {}).get('description') or details.get('text')}")
        return result.get("result", {}).get("value")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own process group: the browser and its helpers

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            with contextlib.suppress(CdpError, OSError):
                self.call("Browser.close", timeout=3)
            self.ws.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
