"""The upload form of the order import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .services import ALLOWED_SUFFIXES


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; the cleaned value is a list (at least one file when required)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(ALLOWED_SUFFIXES)}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        files = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class OrderImportForm(forms.Form):
    files = MultipleFileField(
        label=_("Files"),
        help_text=_("CSV (UTF-8 or GBK) or Excel .xlsx files; several files are imported together, all or nothing."),
        error_messages={"required": _("Choose at least one file.")},
    )
    replace = forms.BooleanField(
        label=_("Replace the dates covered"),
        required=False,
        help_text=_(
            "Each file is the complete record of the dates from its first to its last date: stored lines of those "
            "dates that are not in the file are deleted. Leave unticked to add new lines and update existing ones."
        ),
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_files(self) -> list:
        files = self.cleaned_data["files"]
        bad = [f.name for f in files if Path(f.name).suffix.lower() not in ALLOWED_SUFFIXES]
        if bad:
            raise ValidationError(
                _("Only CSV (.csv) and Excel (.xlsx) files can be imported: %(names)s."),
                code="invalid_extension",
                params={"names": ", ".join(bad)},
            )
        return files
