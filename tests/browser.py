"""Headless Chromium for tests, driven by Playwright, with the network shut off.

Uses the system's Chromium (Debian's ``chromium``), never a downloaded one:
Playwright's own browsers are not installed. Every request that is not for a
``file:``, ``data:``, ``blob:`` or ``about:`` URL is aborted and recorded, and
the context is put offline as well.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-default-browser-check",
    "--metrics-recording-only",
)
LOCAL_SCHEMES: tuple[str, ...] = ("file:", "data:", "blob:", "about:")
READY = "window.paperatlas && window.paperatlas.ready"


def find_chromium() -> str | None:
    """The Chromium executable: ``$PAPERATLAS_CHROMIUM``, ``chromium`` on PATH, or /usr/bin/chromium."""
    candidates = [os.environ.get("PAPERATLAS_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")]
    candidates.append("/usr/bin/chromium")
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class PageLog:
    """What one page did: every request URL, the ones blocked or failed, and errors."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Blocked or failed requests and errors, one line each (empty when clean)."""
        return (
            [f"blocked request {u}" for u in self.blocked]
            + [f"failed request {u}" for u in self.failed]
            + [f"console error {m}" for m in self.console_errors]
            + [f"page error {m}" for m in self.page_errors]
        )


class OfflineBrowser:
    """One headless Chromium with a fresh profile; ``open`` loads a local file in a new page."""

    def __init__(self, executable: str, *, width: int = 1400, height: int = 900, allow: tuple[str, ...] = ()) -> None:
        """``allow``: URL prefixes (a local test server) let through besides local files."""
        from playwright.sync_api import sync_playwright

        self._allow = LOCAL_SCHEMES + tuple(allow)

        self._profile = tempfile.TemporaryDirectory(prefix="paperatlas-chromium-")
        self._playwright = sync_playwright().start()
        try:
            self.context = self._playwright.chromium.launch_persistent_context(
                self._profile.name,
                executable_path=executable,
                headless=True,
                args=list(CHROMIUM_FLAGS),
                viewport={"width": width, "height": height},
                offline=not allow,
                service_workers="block",
                accept_downloads=False,
            )
        except Exception:
            self._playwright.stop()
            self._profile.cleanup()
            raise
        self.log = PageLog()
        self.context.route("**/*", self._route)
        self.context.on("request", lambda request: self.log.requests.append(request.url))
        self.context.on(
            "requestfailed",
            lambda request: None if request.url in self.log.blocked else self.log.failed.append(request.url),
        )

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self._allow):
            route.continue_()
        else:
            self.log.blocked.append(url)
            route.abort("internetdisconnected")

    def open(self, path: Path | str, fragment: str = "", *, ready: str = READY) -> Any:
        """Open ``path`` (a file, or an allowed ``http://`` URL) in a new page, wait until ``ready``, return the page.

        Console errors and uncaught exceptions go to ``self.log``; a fresh log
        is started for each page.
        """
        self.log = PageLog()
        page = self.context.new_page()
        page.on("console", lambda msg: self.log.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: self.log.page_errors.append(str(error)))
        url = path if isinstance(path, str) and path.startswith("http") else Path(path).resolve().as_uri()
        page.goto(url + (f"#{fragment}" if fragment else ""), wait_until="load")
        page.wait_for_function(ready, timeout=30_000)
        return page

    def close(self) -> None:
        """Shut the browser and remove its profile."""
        try:
            self.context.close()
        finally:
            self._playwright.stop()
            self._profile.cleanup()
