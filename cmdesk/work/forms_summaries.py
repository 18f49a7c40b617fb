"""Forms of the summary pages: draft a period, edit the sections (one textarea each), the head's comment."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from cmdesk.analytics.periods import Period, PeriodError

from .models import SummaryKind
from .services.drafting import SECTIONS


class SummaryDraftForm(forms.Form):
    """Which summary to draft: a kind and a day of its period, or a period code (2026-10, 2026-W42, 2026)."""

    kind = forms.ChoiceField(label=_("Kind"), choices=SummaryKind.choices)
    period_start = forms.DateField(label=_("A day of the period"), required=False)
    period = forms.CharField(label=_("Period"), required=False, max_length=40, help_text=_("e.g. 2026-10, 2026-W42"))
    overwrite = forms.BooleanField(label=_("Overwrite my edits"), required=False)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        start = data.get("period_start")
        code = (data.get("period") or "").strip()
        if start is None and code:
            try:
                start = Period.parse(code).start
            except PeriodError as exc:
                raise forms.ValidationError({"period": str(exc)}) from exc
        if start is None:
            raise forms.ValidationError({"period_start": _("Give a day of the period or a period such as 2026-10.")})
        data["start"] = start
        return data


class SummarySectionsForm(forms.Form):
    """One textarea per section of the summary's kind, titled in Chinese (the sections are Chinese text)."""

    def __init__(self, *args, kind: str, initial_sections: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        initial_sections = initial_sections or {}
        for key, title in SECTIONS[kind]:
            self.fields[key] = forms.CharField(
                label=title,
                required=False,
                initial=initial_sections.get(key, ""),
                widget=forms.Textarea(attrs={"rows": 8, "class": "form-control"}),
            )

    def sections(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(key) or "" for key in self.fields}


class SummaryCommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"), widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}), max_length=4000
    )


def default_day(kind: str, today: dt.date) -> dt.date:
    """The period a CM is usually asked for: this week, last month, last year."""
    if kind == SummaryKind.WEEK:
        return today
    if kind == SummaryKind.MONTH:
        return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return dt.date(today.year - 1, 1, 1)
