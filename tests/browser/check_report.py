#!/usr/bin/env python3
"""Opens report pages in headless Chromium and says what a reader would see.

    check_report.py CHROMIUM PAGE.html [PAGE.html ...] [--screenshot PAGE.html=OUT.png]

Drives Chromium over its DevTools protocol (the `websockets` package): for each page, every
request the page makes, every console message and uncaught exception, how much text it shows,
whether each chart (SVG) has size and drawn content, and every figure marked with
`data-indicator` (its indicator, region, year and text). Prints one JSON document; the test
(tests/it/report.rs) decides what is wrong.
"""
import asyncio
import itertools
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import websockets

PROBE = r"""
(() => {
  const svgs = [...document.querySelectorAll('svg')].map(s => {
    const r = s.getBoundingClientRect();
    return {width: r.width, height: r.height,
            drawn: s.querySelectorAll('path, rect, circle, line').length};
  });
  const figures = [...document.querySelectorAll('[data-indicator]')].map(e => ({
    indicator: e.dataset.indicator, region: e.dataset.region, year: Number(e.dataset.year),
    text: e.textContent.trim()}));
  return JSON.stringify({text_length: document.body.innerText.trim().length, svgs, figures,
                         title: document.title});
})()
"""


class Browser:
    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)
        self.events = []
        self.pending = {}

    async def pump(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self.pending:
                self.pending.pop(msg["id"]).set_result(msg)
            elif "method" in msg:
                self.events.append(msg)

    async def call(self, method, params=None, session=None):
        i = next(self.ids)
        fut = asyncio.get_event_loop().create_future()
        self.pending[i] = fut
        msg = {"id": i, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})


async def check(chromium, pages, shots):
    profile = tempfile.mkdtemp(prefix="mittari-chromium-")
    proc = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    url = None
    for line in proc.stderr:
        m = re.search(r"DevTools listening on (ws://\S+)", line)
        if m:
            url = m.group(1)
            break
    if not url:
        proc.kill()
        sys.exit("Chromium did not open its DevTools port")
    results = []
    try:
        async with websockets.connect(url, max_size=64 * 1024 * 1024) as ws:
            b = Browser(ws)
            pump = asyncio.create_task(b.pump())
            for page in pages:
                target = (await b.call("Target.createTarget", {"url": "about:blank"}))["targetId"]
                session = (await b.call("Target.attachToTarget",
                                        {"targetId": target, "flatten": True}))["sessionId"]
                for domain in ("Page", "Network", "Runtime", "Log"):
                    await b.call(f"{domain}.enable", session=session)
                await b.call("Emulation.setDeviceMetricsOverride",
                             {"width": 1000, "height": 1400, "deviceScaleFactor": 1, "mobile": False},
                             session=session)
                start = len(b.events)
                href = pathlib.Path(page).resolve().as_uri()
                await b.call("Page.navigate", {"url": href}, session=session)
                for _ in range(300):
                    if any(e.get("sessionId") == session and e["method"] == "Page.loadEventFired"
                           for e in b.events[start:]):
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                probe = await b.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                                     session=session)
                seen = json.loads(probe["result"]["value"])
                mine = [e for e in b.events[start:] if e.get("sessionId") == session]
                requests = [e["params"]["request"]["url"] for e in mine
                            if e["method"] == "Network.requestWillBeSent"]
                console = []
                for e in mine:
                    p = e["params"]
                    if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                        console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
                    elif e["method"] == "Runtime.exceptionThrown":
                        console.append(p["exceptionDetails"].get("text", "exception"))
                    elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                        console.append(p["entry"].get("text", ""))
                if page in shots:
                    metrics = await b.call("Page.getLayoutMetrics", session=session)
                    size = metrics["cssContentSize"]
                    shot = await b.call("Page.captureScreenshot",
                                        {"format": "png", "captureBeyondViewport": True,
                                         "clip": {"x": 0, "y": 0, "width": 1000,
                                                  "height": min(size["height"], 3000), "scale": 1}},
                                        session=session)
                    import base64
                    pathlib.Path(shots[page]).write_bytes(base64.b64decode(shot["data"]))
                results.append({"page": page, "requests": requests, "console": console, **seen})
                await b.call("Target.closeTarget", {"targetId": target})
            pump.cancel()
    finally:
        proc.kill()
    print(json.dumps({"pages": results}, ensure_ascii=False))


def main():
    args = sys.argv[1:]
    shots = {}
    if "--screenshot" in args:
        i = args.index("--screenshot")
        page, out = args[i + 1].split("=", 1)
        shots[page] = out
        del args[i:i + 2]
    chromium, pages = args[0], args[1:]
    asyncio.run(check(chromium, pages, shots))


if __name__ == "__main__":
    main()
