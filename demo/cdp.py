"""A headless Chromium driven over the Chrome DevTools Protocol, with nothing but the standard library.

:class:`Chromium` starts ``chromium --headless=new --remote-debugging-pipe`` with a throwaway profile: commands go
to the browser on its fd 3 and answers come back on its fd 4, one JSON message each, NUL-terminated. No port is
opened, and when the demo goes away, however it goes, the pipe closes and the browser exits with it. Pages are
driven through flattened target sessions (``Target.attachToTarget(flatten=True)``), so every command is one
``call``. Events are read and dropped: the driver only waits for its commands' answers.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

# Headless, quiet and light: no GPU, no background networking, extensions, sync or component updates.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--disable-dev-shm-usage", "--renderer-process-limit=2",
         "--remote-debugging-pipe")


class CdpError(RuntimeError):
    """The browser answered a command with an error, went away, or did not answer in time."""


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


class Chromium:
    """One headless Chromium and its DevTools pipe; ``close()`` stops it and removes its profile."""

    def __init__(self, executable: str) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="tracklog-demo-chromium-"))
        to_browser, self._commands = os.pipe()
        self._answers, from_browser = os.pipe()
        argv = shlex.join([executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"])
        # The DevTools pipe must be the browser's fds 3 and 4: the shell puts them there, then becomes chromium.
        self.process = subprocess.Popen(["sh", "-c", f"exec {argv} 3<&{to_browser} 4>&{from_browser}"],
                                        pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._ids = itertools.count(1)
        try:
            self.call("Browser.getVersion")
        except BaseException:
            self.close()
            raise

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise CdpError("chromium did not answer in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise CdpError(f"chromium went away (exit code {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 20.0) -> dict[str, Any]:
        """Send one command (to a page's ``session``, else the browser) and return its result."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        deadline = time.monotonic() + timeout
        try:
            data = memoryview(json.dumps(message).encode() + b"\0")
            while data:
                data = data[os.write(self._commands, data):]
            while True:
                answer = self._message(deadline)
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
        with contextlib.suppress(CdpError, OSError):
            self.call("Browser.close", timeout=3)
        for fd in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
