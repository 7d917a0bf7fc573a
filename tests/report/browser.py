"""Headless Chromium (Debian's package) as the tests drive it: load a page, take a screenshot, collect what the
page wrote to its console (a page without scripts writes nothing; CSP violations and errors show up there)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]


@dataclass(frozen=True)
class Rendered:
    screenshot: Path
    console: list[str]


def render(page: Path, folder: Path, size: str = "1200,3000") -> Rendered:
    shot = folder / f"{page.stem}.png"
    with tempfile.TemporaryDirectory(prefix="fleetlab-chromium-") as profile:
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
                               f"--screenshot={shot}", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "LANG": "C.UTF-8"})
    if not shot.exists():
        raise RuntimeError(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}")
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(shot, console)


def pixels(png: Path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(str(png))


def non_blank_share(png: Path) -> float:
    """Share of pixels that are not the page background (white)."""
    image = pixels(png)[..., :3]
    return float((image.min(axis=2) < 0.95).mean())


MEASURE = """<script>
const found = {};
for (const [name, selector] of Object.entries(%s)) {
  const element = document.querySelector(selector);
  found[name] = element ? {bottom: element.getBoundingClientRect().bottom, text: element.textContent} : null;
}
// past the window, or wider than the page's column so that its box scrolls sideways (a .wide box clips at 1100 px
// however wide the window: at 1400 px a table 90 px too wide hid its last risk column without passing the edge)
found.overflowing = [...document.querySelectorAll('table')].filter(
  table => table.getBoundingClientRect().right > document.documentElement.clientWidth + 1 ||
           table.parentElement.scrollWidth > table.parentElement.clientWidth + 1).map(
  table => table.querySelector('th') ? table.querySelector('th').textContent : '?');
document.body.setAttribute('data-measured', JSON.stringify(found));
</script>"""


def measure(page: Path, folder: Path, selectors: dict[str, str], size: str = "1400,1000") -> dict:
    """Where elements end (CSS pixels from the top) and which tables overflow the viewport, as Chromium lays the
    page out at this window size. A copy of the page gets a measuring script (the report's CSP forbids scripts)."""
    import html
    import json
    import re

    text = re.sub(r"<meta http-equiv=Content-Security-Policy[^>]*>", "", page.read_text())
    probe = folder / f"measured-{page.name}"
    probe.write_text(text.replace("</body>", MEASURE % json.dumps(selectors) + "</body>"))
    with tempfile.TemporaryDirectory(prefix="fleetlab-chromium-") as profile:
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
                               "--virtual-time-budget=5000", "--dump-dom", probe.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "LANG": "C.UTF-8"})
    match = re.search(r'data-measured="([^"]*)"', done.stdout)
    if not match:
        raise RuntimeError(f"chromium measured nothing (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(html.unescape(match.group(1)))
