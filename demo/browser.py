"""Users in a real browser: one headless Chromium opens the tracking page as one user after another.

Each visit is a fresh browser context (its own storage, so its own Faro session) sending the user's address as
``X-Forwarded-For`` (the web service trusts the local gateway): the page opens the order's map, then the user
refreshes it, now and then changes the location settings, and sometimes ticks "follow the courier", whose drawing
code has a bug (a TypeError inside the refresh's trace). Clicks go through the DOM (``element.click()``), so the
page's own handlers, the Faro SDK and its fetch instrumentation do what they do for a person. When the user is done the
page is hidden (as when switching tabs, so Faro sends its last batch and the late web vitals) and closed. Actions
are spaced by a think time around ``60 / actions_per_minute`` seconds: one browser, a few actions a minute.
"""

from __future__ import annotations

import contextlib
import random
import sys
import threading
from collections import Counter
from urllib.parse import urlencode

from demo.cdp import CdpError, Chromium
from demo.directory import ORDERS, USERS

_SETTINGS = ("(() => { document.getElementById('share').checked = {share};"
             " document.getElementById('precision').value = '{precision}';"
             " document.getElementById('save').click(); })()")
_IDLE = "new Promise((done) => { const t0 = Date.now(); (function wait() {" \
        " if ((window.tracking && window.tracking.ready && window.tracking.busy === 0) || Date.now() - t0 > {ms})" \
        " done(Boolean(window.tracking && window.tracking.ready)); else setTimeout(wait, 50); })(); })"

# Headless pages never become hidden by themselves. Leaving by navigating away would send the last batch from the
# unloaded page, without the user's X-Forwarded-For; hiding the page first sends it as a person switching tabs would.
_HIDE = ("Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });"
         " document.dispatchEvent(new Event('visibilitychange'));")


class BrowserUsers:
    """Drive the page at ``page_url`` in ``chromium`` until ``stop`` is set; ``counts`` says what was done."""

    def __init__(self, chromium: str, page_url: str, stop: threading.Event, *, actions_per_minute: float = 6.0,
                 error_share: float = 0.1, seed: int | None = None) -> None:
        self.executable, self.page_url, self.stop = chromium, page_url.rstrip("/"), stop
        self.think_s = 60.0 / max(actions_per_minute, 0.1)
        self.error_share = error_share
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.failure: str | None = None
        self.browser: Chromium | None = None
        self._thread = threading.Thread(target=self._run, name="browser-users", daemon=True)

    def start(self) -> BrowserUsers:
        self._thread.start()
        return self

    def join(self, timeout: float = 6.0) -> None:
        """Wait for the visit in progress to end (after ``stop``) and the browser to close; else kill it."""
        self._thread.join(timeout)
        if self._thread.is_alive() and self.browser is not None:
            self.browser.kill()

    def summary(self) -> str:
        c = self.counts
        text = (f"browser {c['visits']} visits, {c['actions']} actions ({c['map.refresh']} refresh, "
                f"{c['settings.location.change']} settings, {c['follow']} follow)")
        failed = f", {c['failed visits']} failed" if c["failed visits"] else ""
        return text + failed + (f", stopped: {self.failure}" if self.failure else "")

    def _run(self) -> None:
        try:
            self.browser = Chromium(self.executable)
            failures = 0
            while not self.stop.is_set():
                try:
                    self.visit()
                    failures = 0
                except CdpError as exc:  # one visit gone wrong (a page that never loaded): the next one is new
                    failures += 1
                    self.counts["failed visits"] += 1
                    if failures >= 3 or self.browser.process.poll() is not None:
                        raise CdpError(f"{failures} visits in a row failed, the last: {exc}") from exc
                self._think(0.5)
        except (CdpError, OSError) as exc:
            if not self.stop.is_set():
                self.failure = str(exc)
                print(f"demo: the headless browser stopped driving users: {exc}", file=sys.stderr, flush=True)
        finally:
            if self.browser is not None:
                self.browser.close()

    def _think(self, factor: float = 1.0) -> bool:
        """Wait a user's think time (or until stop); True when it is time to stop."""
        return self.stop.wait(self.think_s * factor * self.rng.uniform(0.5, 1.5))

    def visit(self) -> None:
        """One user's visit: open the page (map.open), a few actions, leave (Faro flushes on pagehide)."""
        browser = self.browser
        assert browser is not None
        user, order = self.rng.choice(USERS), self.rng.choice(ORDERS)
        context = browser.call("Target.createBrowserContext")["browserContextId"]
        try:
            target = browser.call("Target.createTarget", {"url": "about:blank", "browserContextId": context})
            session = browser.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
            page = session["sessionId"]
            browser.call("Network.enable", {"maxTotalBufferSize": 0, "maxResourceBufferSize": 0}, page)
            browser.call("Network.setExtraHTTPHeaders", {"headers": {"X-Forwarded-For": user.address}}, page)
            query = urlencode({"user": user.user_id, "name": user.username, "order": order})
            browser.call("Page.navigate", {"url": f"{self.page_url}/?{query}"}, page)
            self.counts["visits"] += 1
            if not self._idle(page, 15000):
                raise CdpError(f"the tracking page did not load within 15s ({self.page_url})")
            self.counts["actions"] += 1  # map.open, on load
            for _ in range(self.rng.randint(1, 4)):
                if self._think():
                    break
                self.act(page)
            if self.stop.is_set():  # the demo is stopping: leave at once
                return
            self._idle(page, 8000)
            browser.evaluate(page, _HIDE)  # the user switches tabs: Faro sends what it holds, web vitals LCP, CLS
            self.stop.wait(1.5)
            browser.call("Target.closeTarget", {"targetId": target["targetId"]})
        finally:
            with contextlib.suppress(CdpError):
                browser.call("Target.disposeBrowserContext", {"browserContextId": context})

    def act(self, page: str) -> None:
        browser = self.browser
        assert browser is not None
        roll = self.rng.random()
        if roll < self.error_share:  # tick "follow the courier", refresh: the heading bug throws; untick
            self.counts["follow"] += 1
            browser.evaluate(page, "document.getElementById('follow').click()")
            self._click(page, "refresh", "map.refresh")
            self._idle(page, 8000)
            browser.evaluate(page, "document.getElementById('follow').click()")
        elif roll < self.error_share + 0.2:
            script = (_SETTINGS.replace("{share}", "true" if self.rng.random() < 0.7 else "false")
                      .replace("{precision}", self.rng.choice(["exact", "area"])))
            browser.evaluate(page, script)
            self.counts["settings.location.change"] += 1
            self.counts["actions"] += 1
        else:
            self._click(page, "refresh", "map.refresh")

    def _click(self, page: str, element: str, action: str) -> None:
        assert self.browser is not None
        self.browser.evaluate(page, f"document.getElementById('{element}').click()")
        self.counts[action] += 1
        self.counts["actions"] += 1

    def _idle(self, page: str, ms: int) -> bool:
        assert self.browser is not None
        return bool(self.browser.evaluate(page, _IDLE.replace("{ms}", str(ms)), timeout=ms / 1000 + 10))
