"""Suite-wide test settings: a fast password hasher, a temporary data directory, and for the browser tests a
phone-sized Chromium page (the marker is skipped where no Chromium is installed; likewise the LibreOffice tests
without ``soffice``)."""

import os
import shutil

import pytest


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path_factory):
    # Order facts and demo side files of a test never touch the developer's var/data.
    settings.CMDESK_DATA_DIR = tmp_path_factory.mktemp("data")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CI") == "true":
        return
    skips = {
        "browser": (shutil.which("chromium"), "chromium is not installed (apt-get install chromium); CI installs it"),
        "libreoffice": (
            shutil.which("soffice"),
            "LibreOffice is not installed (apt-get install libreoffice-calc-nogui); CI installs it",
        ),
    }
    for marker, (installed, reason) in skips.items():
        if installed:
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def phone():
    """A page in Debian's Chromium driven by Playwright, at an iPhone-sized viewport."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        yield context.new_page()
        browser.close()
