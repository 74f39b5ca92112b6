"""A PNG of a page in headless Chromium (Debian's ``chromium`` package): the report's
screenshot for the README and the test that the page renders."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from ..errors import NassegError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> Optional[str]:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 2400, timeout: float = 120) -> Path:
    """Render ``html`` (a local file) to ``png`` at ``width`` x ``height`` CSS pixels.

    Chromium runs headless with no network, no GPU and a throw-away profile (the flags a
    closed machine needs: without them it keeps trying to reach Google's servers)."""
    exe = find_chromium()
    if exe is None:
        raise NassegError("no Chromium found (looked for " + ", ".join(CANDIDATES) + "); on Debian/Ubuntu: "
                          "`apt-get install chromium`.")
    html, png = Path(html).resolve(), Path(png).resolve()
    if not html.is_file():
        raise NassegError(f"{html}: page not found; run `nasseg report` first.")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nasseg-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={png}", html.as_uri()]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0 or not png.is_file():
        raise NassegError(f"chromium could not render {html} (exit {out.returncode}): {out.stderr.strip()[-500:]}")
    return png
