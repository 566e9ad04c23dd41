"""The explainer page in a headless Chromium: a screenshot of the whole page at a chosen frame and heatmap."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from eac3_tf.io import write_with

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
# Flags for a headless Chromium on a machine with no network and no display (as root in CI).
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
            "--hide-scrollbars", "--force-device-scale-factor=1")


def find_chromium() -> str | None:
    """The Chromium binary on PATH, if any."""
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    return None


def page_height(chromium: str, html: Path, width: int) -> int:
    """The rendered page's height in CSS pixels, read from the DOM Chromium dumps."""
    with tempfile.TemporaryDirectory(prefix="explain-chromium-") as profile:
        out = subprocess.run([chromium, *HEADLESS, f"--user-data-dir={profile}", f"--window-size={width},900",
                              "--virtual-time-budget=3000", "--dump-dom", html.resolve().as_uri()],
                             capture_output=True, text=True, timeout=120)
    found = re.search(r'data-height="(\d+)"', out.stdout)
    return int(found.group(1)) if found else 1000


def screenshot(chromium: str, html: Path, png: Path, frame: int, overlay_kind: str, width: int) -> None:
    """OUT.png: the page in headless Chromium at `frame` with `overlay_kind`, the window sized to the whole page."""
    url = f"{html.resolve().as_uri()}#t={frame}&overlay={overlay_kind}"
    height = page_height(chromium, html, width)

    def shoot(tmp: str) -> None:
        with tempfile.TemporaryDirectory(prefix="explain-chromium-") as profile:
            done = subprocess.run([chromium, *HEADLESS, f"--user-data-dir={profile}",
                                   f"--window-size={width},{height}", "--virtual-time-budget=3000",
                                   f"--screenshot={tmp}", url], capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not Path(tmp).stat().st_size:
            raise RuntimeError(f"chromium failed to take the screenshot (exit {done.returncode}): "
                               f"{done.stderr.strip().splitlines()[-1:] or ''}")

    write_with(png, shoot)
