"""Debian's Chromium (/usr/bin/chromium, installed by `make setup` like
mosquitto) driven by Playwright, for the web app's browser tests and its
benchmark. Playwright's own browser downloads are never used: the project's
machines reach only PyPI, Debian and npm."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet on a closed network: no background calls to the
# browser maker's services, which would be refused at every start.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-dev-shm-usage"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def chromium_path() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        raise RuntimeError("Chromium is not installed: run 'make setup' (as root) first, "
                           "or 'apt-get install chromium'")
    return found


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=chromium_path(), args=ARGS,
                                      headless=True)
