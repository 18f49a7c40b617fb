"""The indicator explorer's form: period (any syntax Period.parse accepts), grouping, scope code, indicators."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cmdesk.analytics.indicators import DEFAULT, INDICATORS
from cmdesk.analytics.periods import Period, PeriodError
from cmdesk.analytics.query import DIMENSIONS

from .present import is_zh

DIMENSION_LABELS = {
    "branch": _("Branch"),
    "dept": _("Department"),
    "area": _("Market area"),
    "route": _("Route"),
    "cm": _("Customer manager"),
    "retailer": _("Retailer"),
    "market_type": _("Market type"),
    "format": _("Business format"),
    "tier": _("Tier"),
    "product": _("Product"),
    "brand": _("Brand"),
    "class": _("Price class"),
    "provincial": _("Provincial"),
    "month": _("Month"),
}


class ExplorerForm(forms.Form):
    period = forms.CharField(
        label=_("Period"),
        max_length=40,
        help_text=_("2026-10 (month), 2026-W42 (week), 2026-Q3 (quarter), 2026 (year) or 2026-10-01..2026-10-15"),
    )
    by = forms.MultipleChoiceField(
        label=_("Group by"),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        choices=[(d, DIMENSION_LABELS.get(d, d)) for d in DIMENSIONS],
    )
    scope = forms.CharField(
        label=_("Scope"),
        required=False,
        max_length=40,
        help_text=_("Org unit code, route code, CM employee number or retailer licence; empty: your whole scope"),
    )
    indicators = forms.MultipleChoiceField(
        label=_("Indicators"), required=False, widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zh = is_zh()
        self.fields["indicators"].choices = [(i.name, i.label_zh if zh else i.label_en) for i in INDICATORS.values()]
        self.fields["indicators"].initial = list(DEFAULT)

    def clean_period(self) -> Period:
        try:
            return Period.parse(self.cleaned_data["period"])
        except PeriodError as exc:
            raise forms.ValidationError(str(exc), code="period") from exc

    def clean_by(self) -> tuple[str, ...]:
        # checkboxes come back in the form's order; keep DIMENSIONS' order (org levels, then products, then time)
        chosen = set(self.cleaned_data["by"])
        return tuple(d for d in DIMENSIONS if d in chosen)

    def clean_scope(self) -> str:
        return self.cleaned_data["scope"].strip()

    def clean_indicators(self) -> tuple[str, ...]:
        return tuple(self.cleaned_data["indicators"]) or DEFAULT
