"""Open an exported log in `inspect view` and look at it in headless Chromium (Debian's `chromium`).

    with InspectView(log_dir) as view:               # `inspect view` on 127.0.0.1, a free port
        text, png = view.sample_page("team=default.eval", run_id)   # the rendered text, a screenshot

Used by tests/transcripts/test_inspect_view.py, and to make the README's screenshot:

    .venv/bin/python tests/inspect_view_check.py LOG_DIR LOG_FILE SAMPLE_ID docs/images/inspect-view.png

Chromium runs with a fresh profile and no background networking; it is driven over the DevTools
protocol (aiohttp's websocket client) so the check waits for the viewer's JavaScript to render the
sample's messages, instead of guessing a delay.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--window-size=1400,1000"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, deadline: float, proc: subprocess.Popen) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.5)


class InspectView:
    def __init__(self, log_dir: Path, timeout_s: float = 180) -> None:
        self.log_dir = Path(log_dir)
        self.timeout_s = timeout_s
        self.port = _free_port()
        self.procs: list[subprocess.Popen] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="inspect-view-check-"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> InspectView:
        inspect = Path(sys.executable).with_name("inspect")
        log = (self.tmp / "view.log").open("wb")
        view = subprocess.Popen([str(inspect), "view", "--log-dir", str(self.log_dir), "--host", "127.0.0.1", "--port", str(self.port)],
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(view)
        _wait_http(self.url + "/", time.monotonic() + self.timeout_s, view)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sample_url(self, log_file: str, sample_id: str, epoch: int = 1) -> str:
        return f"{self.url}/#/logs/{urllib.parse.quote(log_file, safe='')}/samples/sample/{urllib.parse.quote(sample_id, safe='')}/{epoch}/"

    def sample_page(self, log_file: str, sample_id: str, wait_for: tuple[str, ...] = ("Position:",)) -> tuple[str, bytes]:
        """(the page's rendered text once every `wait_for` string shows, a PNG screenshot)."""
        browser = chromium()
        if browser is None:
            raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
        profile = self.tmp / "profile"
        port = _free_port()
        proc = subprocess.Popen([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
                                 "--remote-allow-origins=*", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        _wait_http(f"http://127.0.0.1:{port}/json/version", time.monotonic() + 60, proc)
        return asyncio.run(self._drive(port, self.sample_url(log_file, sample_id), wait_for))

    async def _drive(self, port: int, url: str, wait_for: tuple[str, ...]) -> tuple[str, bytes]:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.put(f"http://127.0.0.1:{port}/json/new?{urllib.parse.quote(url, safe='')}") as reply:
                target = json.loads(await reply.text())
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                counter = 0

                async def send(method: str, **params: Any) -> Any:
                    nonlocal counter
                    counter += 1
                    await ws.send_json({"id": counter, "method": method, "params": params})
                    while True:
                        message = await ws.receive_json()
                        if message.get("id") == counter:
                            return message.get("result", {})

                deadline = time.monotonic() + self.timeout_s
                text = ""
                while time.monotonic() < deadline:
                    result = await send("Runtime.evaluate", expression="document.body ? document.body.innerText : ''", returnByValue=True)
                    text = str(result.get("result", {}).get("value") or "")
                    if all(w in text for w in wait_for):
                        break
                    await asyncio.sleep(1)
                else:
                    raise AssertionError(f"the sample did not render within {self.timeout_s:.0f} s; page text: {text[:500]!r}")
                await asyncio.sleep(1)  # let the layout settle for the screenshot
                shot = await send("Page.captureScreenshot", format="png")
                return text, base64.b64decode(shot["data"])


if __name__ == "__main__":  # pragma: no cover - the README's screenshot
    log_dir, log_file, sample_id, out = sys.argv[1:5]
    with InspectView(Path(log_dir)) as view:
        page, png = view.sample_page(log_file, sample_id)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(png)
    print(f"wrote {out} ({len(png)} bytes); the page shows {len(page)} characters", file=sys.stderr)
    os._exit(0)
