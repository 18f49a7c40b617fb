"""Suite-wide test settings: a fast password hasher, and the browser marker skipped where no Chromium is installed."""

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
    if shutil.which("chromium") or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="chromium is not installed (apt-get install chromium); CI installs it")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
