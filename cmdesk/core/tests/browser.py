"""Helpers for the Playwright tests (the phone page itself is the root conftest's ``phone`` fixture)."""

from __future__ import annotations

from cmdesk.core.tests.factories import PASSWORD


def log_in(page, base_url: str, username: str) -> None:
    """Sign in through the login form and wait for the home page."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{base_url}/")
