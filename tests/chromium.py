"""Headless Chromium driven over the DevTools protocol, for the tests that open macsim's HTML reports.

The protocol goes through `--remote-debugging-pipe` (fd 3 to the browser, fd 4 back, one JSON
message per NUL): the standard library is enough (no selenium, no chromedriver whose version
must match the browser's), no port is opened, and the protocol reports every console message,
exception and request of a page, which is what the tests hold the pages to.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--remote-debugging-pipe")


def find_browser() -> str | None:
    """$MACSIM_CHROMIUM, else the first of BROWSERS on PATH."""
    chosen = os.environ.get("MACSIM_CHROMIUM")
    if chosen:
        return chosen
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class Browser:
    """One headless Chromium with a fresh profile, driven over --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary: str) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="macsim-chromium-"))
        to_browser, from_browser = os.pipe(), os.pipe()
        # The browser reads fd 3 and writes fd 4; move our ends above them first, or a pipe
        # that already sits at 3 or 4 would be closed by the very redirection meant to place it.
        child_in = fcntl.fcntl(to_browser[0], fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_browser[1], fcntl.F_DUPFD, 10)
        os.close(to_browser[0])
        os.close(from_browser[1])
        self.stderr = (self.profile / "browser.log").open("w")
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{child_in} 4>&{child_out} {child_in}<&- {child_out}>&-', binary,
             *FLAGS, f"--user-data-dir={self.profile / 'profile'}", "about:blank"],
            pass_fds=(child_in, child_out), stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)
        os.close(child_in)
        os.close(child_out)
        self._out, self._in = to_browser[1], from_browser[0]
        self._buffer = b""
        self._id = 0
        self.messages: list[dict] = []
        self.session: str | None = None
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
            attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)
            self.session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Network", "Log"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()  # a browser that started but cannot be driven must not outlive the test
            raise

    def _receive(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer within {timeout_s:g} s; its log: {self.log_tail()}")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise EOFError(f"Chromium closed the pipe; its log: {self.log_tail()}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def log_tail(self) -> str:
        self.stderr.flush()
        return (self.profile / "browser.log").read_text(errors="replace")[-1500:]

    def call(self, method: str, params: dict | None = None, *, session: bool = True, timeout_s: float = 30) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive(timeout_s)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.messages.append(reply)

    def wait_for(self, method: str, timeout_s: float = 30) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            for message in self.messages:
                if message.get("method") == method and not message.get("seen"):
                    message["seen"] = True  # kept: problems() and requests() read every message
                    return message
            self.messages.append(self._receive(max(deadline - time.monotonic(), 0.01)))

    def open(self, page: Path, fragment: str = "") -> None:
        """Loads a page and waits for its load event; the page's messages start afresh."""
        self.messages = []
        navigated = self.call("Page.navigate", {"url": page.as_uri() + (f"#{fragment}" if fragment else "")})
        assert "errorText" not in navigated, f"{page}: {navigated['errorText']}"  # an error page logs nothing
        self.wait_for("Page.loadEventFired")
        self.evaluate("1")  # let the page's own script finish what the load event started

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element's first box (a link that wraps has one
        per line, and the middle of the whole may be empty space), scrolled into view first."""
        box = self.evaluate(f"""(() => {{ const node = document.querySelector({json.dumps(selector)});
            if (!node) return null;
            node.scrollIntoView({{block: "center", inline: "center"}});
            const r = node.getClientRects()[0]; return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        assert box is not None, f"nothing on the page matches {selector}"
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and dialogs of the page since it was opened."""
        found = []
        for message in self.messages:
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')} "
                             f"{params['exceptionDetails'].get('exception', {}).get('description', '')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {[arg.get('value') for arg in params.get('args', [])]}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Page.javascriptDialogOpening":
                found.append(f"dialog: {params.get('message')}")
        return found

    def requests(self) -> list[str]:
        return [m["params"]["request"]["url"] for m in self.messages if m.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False})
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", session=False, timeout_s=5)
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass  # already gone: the wait below tells
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._out, self._in):
            os.close(fd)
        self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)
