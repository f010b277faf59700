"""A real browser for the pages: Debian's Chromium (/usr/bin/chromium, installed by
scripts/install-services) driven by Playwright, which downloads no browser of its own."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path(os.environ.get("ANXIN_CHROMIUM", "/usr/bin/chromium"))
# screenshots land here (docs/dashboard.md shows copies of them, from docs/screenshots)
OUTPUT = Path(os.environ.get("ANXIN_TEST_OUTPUT", Path(__file__).parents[2] / "var/test-output"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} not found: run scripts/install-services"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def screenshots() -> Path:
    folder = OUTPUT / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
