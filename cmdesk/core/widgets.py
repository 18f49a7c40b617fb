"""Form widgets shared by the apps."""

from __future__ import annotations

from typing import Any

from django import forms


class DateInput(forms.DateInput):
    """The browser's date picker (``<input type="date">``). Its value must be ISO (YYYY-MM-DD) whatever the language:
    rendered in the active language's format (zh-Hans: 2026/12/14) the browser shows it empty, and a form submitted as
    is clears the date."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")
