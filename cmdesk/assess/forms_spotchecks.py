"""Forms: recording a spot check (one block per finding category, phone first).

The form only shapes the input; the rules (known retailer, date inside the quarter, one finding per category,
deductions, notes for overridden deductions) are the service's, so the page and the API refuse the same things.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cmdesk.core.widgets import DateInput

from .models import FindingCategory, SpotCheck
from .services.spotchecks import DEFAULT_DEDUCTIONS, quarter_label

STATE_CHOICES = [("", _("Not checked")), ("ok", _("In order")), ("bad", _("Not in order"))]


class SpotCheckForm(forms.Form):
    retailer = forms.CharField(
        label=_("Retailer (licence number)"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    date = forms.DateField(label=_("Date of the check"), widget=DateInput())
    quarter = forms.CharField(
        label=_("Quarter"), max_length=7, required=False, help_text=_("e.g. 2026-Q4; empty: the quarter of the date")
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, instance: SpotCheck | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and instance.pk and "initial" not in kwargs:
            kwargs["initial"] = self.initial_from(instance)
        super().__init__(*args, **kwargs)
        self.categories = []
        self._add_category_fields()
        for f in self.fields.values():
            css = "form-select" if isinstance(f.widget, forms.Select) else "form-control"
            f.widget.attrs.setdefault("class", css)

    def _add_category_fields(self) -> None:
        for value, label in FindingCategory.choices:
            self.fields[f"{value}_state"] = forms.ChoiceField(label=label, choices=STATE_CHOICES, required=False)
            if value == FindingCategory.SATISFACTION:
                self.fields[f"{value}_score"] = forms.IntegerField(
                    label=_("Score (1–5)"), required=False, widget=forms.NumberInput(attrs={"min": 1, "max": 5})
                )
            self.fields[f"{value}_deduction"] = forms.DecimalField(
                label=_("Deduction"),
                required=False,
                max_digits=5,
                decimal_places=2,
                help_text=_("empty: %(d)s points when not in order") % {"d": DEFAULT_DEDUCTIONS[value]},
                widget=forms.NumberInput(attrs={"step": "0.5"}),
            )
            self.fields[f"{value}_note"] = forms.CharField(label=_("Note"), required=False, max_length=300)
            self.categories.append(
                {
                    "value": value,
                    "label": label,
                    "default": DEFAULT_DEDUCTIONS[value],
                    "state": self[f"{value}_state"],
                    "score": self[f"{value}_score"] if value == FindingCategory.SATISFACTION else None,
                    "deduction": self[f"{value}_deduction"],
                    "note": self[f"{value}_note"],
                }
            )

    @staticmethod
    def initial_from(check: SpotCheck) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "retailer": check.retailer.licence_no,
            "date": check.date,
            "quarter": quarter_label(check.quarter),
            "note": check.note,
        }
        for f in check.findings.all():
            initial[f"{f.category}_state"] = "ok" if f.ok else "bad"
            initial[f"{f.category}_score"] = f.score
            initial[f"{f.category}_deduction"] = f.deduction if not f.ok else None
            initial[f"{f.category}_note"] = f.note
        return initial

    def findings(self) -> list[dict[str, Any]]:
        """The findings entered, as the service takes them (categories left "not checked" are skipped)."""
        data = self.cleaned_data
        out = []
        for value in FindingCategory.values:
            state = data.get(f"{value}_state") or ""
            score = data.get(f"{value}_score")
            if not state and score is None:
                continue
            out.append(
                {
                    "category": value,
                    "ok": state != "bad",
                    "score": score,
                    "deduction": data.get(f"{value}_deduction"),
                    "note": data.get(f"{value}_note") or "",
                }
            )
        return out


class QuarterForm(forms.Form):
    quarter = forms.CharField(max_length=7)
